namespace Apex.Agents.Data.Import;

/// <summary>
/// One record as a format reader understood it, in Apex's units (USD, milliseconds, token counts with
/// cache reads and writes inside <see cref="InputTokens"/>), before the shared rules of
/// <see cref="UsageRowBuilder"/> validate, price and store it.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1051:Do not declare visible instance fields", Justification = "Format readers fill the fields in place through out arguments, once per record of million-row files.")]
public struct ImportedRow
{
    public long TimestampMs;
    public string? Model;
    public string? Feature;
    public string? UserTier;
    public long InputTokens;
    public long OutputTokens;
    public long CacheReadTokens;
    public long CacheWriteTokens;
    public long ReasoningTokens;

    /// <summary>Calls the record stands for (1 for a per-call log).</summary>
    public long Requests;

    /// <summary>-1 when unknown.</summary>
    public int LatencyMs;

    /// <summary>NaN when the file gives no cost.</summary>
    public double CostUsd;
    public ulong PromptHash;
    public bool Error;
    public bool Aggregated;
    public bool CostOnly;

    /// <summary>null = unknown.</summary>
    public bool? Interactive;

    public static ImportedRow New() => new() { Requests = 1, LatencyMs = -1, CostUsd = double.NaN };
}
