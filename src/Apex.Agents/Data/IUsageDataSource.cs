namespace Apex.Agents.Data;

/// <summary>
/// Read access to a user's stored usage datasets, for the agent and for the chat module (which checks
/// that a message's <c>dataset_id</c> is the caller's). Every call is scoped to the owner: another
/// user's dataset id behaves exactly like one that does not exist.
/// </summary>
public interface IUsageDataSource
{
    Task<bool> ExistsAsync(string userId, string datasetId, CancellationToken ct);

    /// <summary>The dataset's summary, or null when it does not exist or is not the user's.</summary>
    Task<UsageDatasetInfo?> GetInfoAsync(string userId, string datasetId, CancellationToken ct);

    /// <summary>
    /// The dataset's rows as encoded chunks (<see cref="UsageColumns.Encode"/>), in upload order, read
    /// one at a time so a large dataset never has to sit in memory in its compressed and decoded form at once.
    /// </summary>
    IAsyncEnumerable<byte[]> ReadChunksAsync(string userId, string datasetId, CancellationToken ct);

    /// <summary>The user's most recent dataset that has rows, or null when the user has none.</summary>
    Task<UsageDatasetInfo?> LatestAsync(string userId, CancellationToken ct);
}

/// <summary>What the dataset routes answer and what the agent knows before reading rows.</summary>
public sealed record UsageDatasetInfo
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required int Rows { get; init; }
    public required IReadOnlyList<string> Columns { get; init; }
    public DateTimeOffset? PeriodStart { get; init; }
    public DateTimeOffset? PeriodEnd { get; init; }
    public required IReadOnlyList<string> Warnings { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary><c>upload</c> for an uploaded export, <c>live</c> for the spans an ingest key feeds (docs/spec/rest-api.md).</summary>
    public string Kind { get; init; } = UsageDatasetKinds.Upload;

    /// <summary>The recognised export format's id (docs/spec/usage-imports.md), e.g. <c>apex</c>, <c>litellm_spend_logs</c>.</summary>
    public string SourceFormat { get; init; } = "apex";

    /// <summary>The recognised format in words.</summary>
    public string SourceFormatName { get; init; } = "Apex usage columns";

    /// <summary>Calls the rows stand for (request counts of aggregated rows summed); 0 for a cost-only export.</summary>
    public long Calls { get; init; }

    /// <summary>The rows are buckets of several calls: per-call statistics (latency percentiles, repeats) are unavailable.</summary>
    public bool Aggregated { get; init; }

    /// <summary>A cost export without tokens or calls: a spend breakdown only, per-call advice needs the usage export.</summary>
    public bool CostOnly { get; init; }
}

/// <summary>Values of <see cref="UsageDatasetInfo.Kind"/>.</summary>
public static class UsageDatasetKinds
{
    public const string Upload = "upload";
    public const string Live = "live";

    /// <summary>Days of a live dataset the agent analyses unless the conversation asks for another range.</summary>
    public const int LiveAnalysisDays = 7;
}
