namespace Apex.Agents.Data.Import;

/// <summary>
/// One export format: how to recognise it from a CSV header or a record's keys, and how to read one
/// of its records into an <see cref="ImportedRow"/> in Apex's units. Containers (CSV, JSON Lines,
/// whole JSON documents, gzip) are the sources' business; the shared rules are the builder's.
/// </summary>
public interface IUsageFormat
{
    /// <summary>Stable id (docs/spec/usage-imports.md), e.g. <c>litellm_spend_logs</c>.</summary>
    string Id { get; }

    /// <summary>The format in words, e.g. "LiteLLM spend logs".</summary>
    string Name { get; }

    /// <summary>True when <paramref name="keys"/> (a CSV header or a first record's keys, any case) are this format's.</summary>
    bool Recognises(IReadOnlySet<string> keys);

    /// <summary>Reads one record; false with a reason skips it (reported with its line number).</summary>
    bool TryRead(IUsageRecord record, ref ImportedRow row, out string? skip);

    /// <summary>A note added to the upload's warnings when the format loses something (no request counts, cost only).</summary>
    string? Note => null;

    /// <summary>When set, the format cannot be analysed: the upload is refused with <c>no_token_counts</c> and this detail.</summary>
    string? Refusal => null;
}

internal static class Keys
{
    public static bool All(IReadOnlySet<string> keys, params ReadOnlySpan<string> names)
    {
        foreach (var n in names)
        {
            if (!keys.Contains(n))
            {
                return false;
            }
        }

        return true;
    }

    public static bool Any(IReadOnlySet<string> keys, params ReadOnlySpan<string> names)
    {
        foreach (var n in names)
        {
            if (keys.Contains(n))
            {
                return true;
            }
        }

        return false;
    }
}
