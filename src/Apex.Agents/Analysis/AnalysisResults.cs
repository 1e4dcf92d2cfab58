namespace Apex.Agents.Analysis;

// Tool results: JSON sent in tool_completed and to a model provider. Money is USD, unrounded in
// *_usd fields of the dataset's own period; monthly_* fields are scaled to 30 days.

public sealed record GroupSummary
{
    public required string Name { get; init; }
    public required int Calls { get; init; }
    public required long InputTokens { get; init; }
    public required long OutputTokens { get; init; }
    public long CachedInputTokens { get; init; }
    public long CacheWriteTokens { get; init; }
    public long ReasoningTokens { get; init; }
    public int FailedCalls { get; init; }
    public required double CostUsd { get; init; }
    public required double MonthlyCostUsd { get; init; }
    public required double Share { get; init; }

    /// <summary>Latency percentiles of successful per-call rows only (failed calls are counted apart).</summary>
    public int? P50LatencyMs { get; init; }
    public int? P95LatencyMs { get; init; }
    public required double ErrorRate { get; init; }
    public int UnpricedCalls { get; init; }
}

public sealed record DailyTrend(string Date, int Calls, double CostUsd);

public sealed record UsageSummary
{
    public required string Source { get; init; }
    public DateTimeOffset? PeriodStart { get; init; }
    public DateTimeOffset? PeriodEnd { get; init; }
    public required int PeriodDays { get; init; }
    public required long Calls { get; init; }

    /// <summary>Stored rows; fewer than <see cref="Calls"/> when rows are aggregated buckets.</summary>
    public int Rows { get; init; }
    public long AggregatedCalls { get; init; }

    /// <summary>Whether latency percentiles, repeats and output tails could be measured per call, and why not.</summary>
    public string PerCallStatistics { get; init; } = "available";
    public required int UnpricedCalls { get; init; }
    public required double CostUsd { get; init; }
    public required double MonthlyCostUsd { get; init; }
    public long InputTokens { get; init; }
    public long OutputTokens { get; init; }
    public long CachedInputTokens { get; init; }
    public long CacheWriteTokens { get; init; }
    public long ReasoningTokens { get; init; }
    public long FailedCalls { get; init; }
    public double ErrorRate { get; init; }

    /// <summary>Latency percentiles of successful per-call rows; failed calls apart in <see cref="FailedP95LatencyMs"/>.</summary>
    public int? P50LatencyMs { get; init; }
    public int? P95LatencyMs { get; init; }
    public int? FailedP95LatencyMs { get; init; }
    public required IReadOnlyList<GroupSummary> ByModel { get; init; }
    public required IReadOnlyList<GroupSummary> ByFeature { get; init; }
    public IReadOnlyList<DailyTrend> Daily { get; init; } = [];
}

public sealed record FeatureRepeats(string Feature, int Calls, int Repeats, double Share, double CostUsd);

public sealed record RepeatsResult
{
    public required double TtlHours { get; init; }
    public required int CallsWithPrompt { get; init; }
    public required int RepeatCalls { get; init; }
    public required double RepeatCostUsd { get; init; }
    public required double MonthlySavingsUsd { get; init; }
    public required IReadOnlyList<FeatureRepeats> ByFeature { get; init; }
    public string? Note { get; init; }
}

public sealed record CandidateModel
{
    public required string Model { get; init; }
    public required string Provider { get; init; }
    public required int QualityTier { get; init; }

    /// <summary>Tier of the candidate minus tier of the current model (0 = same tier, -1 = one tier smaller).</summary>
    public required int QualityChange { get; init; }
    public required double CostUsd { get; init; }
    public required double SavingsUsd { get; init; }
    public required double MonthlySavingsUsd { get; init; }
}

public sealed record ModelGroup
{
    public required string Feature { get; init; }
    public required string Model { get; init; }
    public required int Calls { get; init; }
    public required double CostUsd { get; init; }
    public required double MonthlyCostUsd { get; init; }
    public int? QualityTier { get; init; }
    public required IReadOnlyList<CandidateModel> Candidates { get; init; }

    /// <summary>The candidate the optimiser would pick: the cheapest of the same tier, else of one tier smaller.</summary>
    public CandidateModel? Best { get; init; }
    public string? Note { get; init; }

    /// <summary>The group's (feature, model) key in the table; not part of the tool's JSON.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public long Key { get; init; }
}

public sealed record ModelsResult
{
    public required string Source { get; init; }
    public required IReadOnlyList<ModelGroup> Groups { get; init; }
    public required double MonthlySavingsUsd { get; init; }
}

public sealed record FeatureAmount(string Feature, int Calls, double CostUsd, string Reason);

public sealed record BatchingResult
{
    public required int EligibleCalls { get; init; }
    public required double EligibleCostUsd { get; init; }
    public required double SavingsUsd { get; init; }
    public required double MonthlySavingsUsd { get; init; }
    public required IReadOnlyList<FeatureAmount> ByFeature { get; init; }
}

public sealed record CachingResult
{
    public required int EligibleCalls { get; init; }
    public required double PrefixShare { get; init; }
    public required long CacheableTokens { get; init; }
    public required double SavingsUsd { get; init; }
    public required double MonthlySavingsUsd { get; init; }
    public required IReadOnlyList<FeatureAmount> ByFeature { get; init; }
}

public sealed record TailGroup(string Feature, string Model, int Calls, int MedianOutputTokens, int P95OutputTokens, int Cap, long TrimmedTokens, double SavingsUsd);

public sealed record WasteResult
{
    public required int FailedCalls { get; init; }
    public required double FailedCostUsd { get; init; }
    public required double FailedMonthlyUsd { get; init; }
    public required IReadOnlyList<FeatureAmount> FailedByFeature { get; init; }
    public required IReadOnlyList<TailGroup> OutputTails { get; init; }
    public required double TailSavingsUsd { get; init; }
    public required double TailMonthlySavingsUsd { get; init; }
}
