namespace Apex.Agents.Data.Import;

/// <summary>
/// A CSV no format recognises, read through the user's mapping from Apex field to column name
/// (contract C: <c>{"timestamp":"Date","model":"Model","input_tokens":"Prompt Tokens",...}</c>).
/// </summary>
public sealed class MappedFormat(IReadOnlyDictionary<string, string> mapping) : IUsageFormat
{
    public static readonly string[] FieldsNeeded = ["timestamp", "model", "input_tokens", "output_tokens"];

    public static readonly string[] FieldsOptional =
        ["cached_input_tokens", "cache_write_tokens", "reasoning_tokens", "requests", "latency_ms", "cost_usd", "feature", "user_tier", "status", "prompt_hash"];

    public string Id => "custom_mapping";
    public string Name => "CSV read with a column mapping";

    /// <summary>The mapping's Apex fields that are not Apex fields, and the needed ones it lacks.</summary>
    public static (List<string> Unknown, List<string> Missing) Check(IReadOnlyDictionary<string, string> mapping) =>
        ([.. mapping.Keys.Where(k => !FieldsNeeded.Contains(k) && !FieldsOptional.Contains(k))],
         [.. FieldsNeeded.Where(f => !mapping.TryGetValue(f, out var c) || string.IsNullOrWhiteSpace(c))]);

    public bool Recognises(IReadOnlySet<string> keys) => FieldsNeeded.All(f => mapping.TryGetValue(f, out var c) && keys.Contains(c));

    private string? Get(IUsageRecord r, string field) => mapping.TryGetValue(field, out var column) ? r.Get(column) : null;

    public bool TryRead(IUsageRecord record, ref ImportedRow row, out string? skip)
    {
        skip = null;
        if (!UsageValues.TryParseTimestamp(Get(record, "timestamp"), out row.TimestampMs))
        {
            skip = "timestamp is not a timestamp";
            return false;
        }

        if (!Count(record, "input_tokens", true, out row.InputTokens, ref skip) || !Count(record, "output_tokens", true, out row.OutputTokens, ref skip)
            || !Count(record, "cached_input_tokens", false, out row.CacheReadTokens, ref skip) || !Count(record, "cache_write_tokens", false, out row.CacheWriteTokens, ref skip)
            || !Count(record, "reasoning_tokens", false, out row.ReasoningTokens, ref skip) || !Count(record, "requests", false, out var requests, ref skip))
        {
            return false;
        }

        if (requests > 1)
        {
            row.Requests = requests;
            row.Aggregated = true;
        }

        var latency = Get(record, "latency_ms");
        if (!string.IsNullOrWhiteSpace(latency) && !UsageValues.TryParseDuration(latency, 1, out row.LatencyMs))
        {
            skip = "latency_ms is not a non-negative number";
            return false;
        }

        var cost = Get(record, "cost_usd");
        if (!string.IsNullOrWhiteSpace(cost) && !UsageValues.TryParseMoney(cost, 1, out row.CostUsd))
        {
            skip = "cost_usd is not a non-negative number";
            return false;
        }

        row.Model = Get(record, "model");
        row.Feature = Get(record, "feature");
        row.UserTier = Get(record, "user_tier");
        var status = Get(record, "status")?.Trim().ToLowerInvariant();
        row.Error = status is "error" or "failed" or "fail" or "failure" or "timeout"
            || (int.TryParse(status, out var code) && code >= 400);
        var hash = Get(record, "prompt_hash");
        if (!string.IsNullOrWhiteSpace(hash))
        {
            row.PromptHash = UsageValues.Hash(hash.Trim());
        }

        return true;
    }

    private bool Count(IUsageRecord r, string field, bool required, out long value, ref string? skip)
    {
        if (UsageValues.TryParseCount(Get(r, field), required, out var v, out var error))
        {
            value = v;
            return true;
        }

        value = 0;
        skip = $"{field} ({mapping.GetValueOrDefault(field)}) {error}";
        return false;
    }
}
