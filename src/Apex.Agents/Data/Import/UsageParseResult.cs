namespace Apex.Agents.Data;

/// <summary>The outcome of parsing an upload: stored chunks plus what the dataset routes answer.</summary>
public sealed class UsageParseResult
{
    public int Rows { get; internal set; }
    public required IReadOnlyList<string> Columns { get; init; }
    public DateTimeOffset? PeriodStart { get; internal set; }
    public DateTimeOffset? PeriodEnd { get; internal set; }
    public List<string> Warnings { get; } = [];
    public List<byte[]> Chunks { get; } = [];

    /// <summary>The recognised format's stable id (docs/spec/usage-imports.md), e.g. <c>apex</c> or <c>litellm_spend_logs</c>.</summary>
    public string SourceFormat { get; internal set; } = "apex";

    /// <summary>The recognised format in words, e.g. "LiteLLM spend logs".</summary>
    public string SourceFormatName { get; internal set; } = "Apex usage columns";

    /// <summary>Calls the rows stand for (request counts of aggregated rows summed); 0 for a cost-only export.</summary>
    public long Calls { get; internal set; }

    /// <summary>The rows are buckets of several calls: per-call statistics are unavailable.</summary>
    public bool Aggregated { get; internal set; }

    /// <summary>The export has costs but no tokens or calls: a spend breakdown only.</summary>
    public bool CostOnly { get; internal set; }

    /// <summary>Set when the upload as a whole is unusable (no header, no valid row): the route answers 422.</summary>
    public string? Error { get; internal set; }

    /// <summary>
    /// The refusal's code when it is more than "no valid row": <c>unrecognized_format</c> (see
    /// <see cref="FieldsNeeded"/>) or <c>no_token_counts</c>; null means <c>invalid_dataset</c>.
    /// </summary>
    public string? ErrorCode { get; internal set; }

    /// <summary>For <c>unrecognized_format</c>: the Apex fields a mapping must cover.</summary>
    public IReadOnlyList<string> FieldsNeeded { get; internal set; } = [];

    /// <summary>For <c>unrecognized_format</c>: the Apex fields a mapping may cover.</summary>
    public IReadOnlyList<string> FieldsOptional { get; internal set; } = [];
}
