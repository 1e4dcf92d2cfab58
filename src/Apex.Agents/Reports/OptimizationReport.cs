namespace Apex.Agents.Reports;

// The report of docs/spec/agent-report.md section 5: payload.report of the final agent_completed and
// GET /api/runs/{id}. Money is rounded to cents; recommendations' savings are the increments of the
// action plan, so they add up to potential_savings (to rounding).

public sealed record OptimizationReport
{
    public required string Summary { get; init; }
    public required CostAnalysis CostAnalysis { get; init; }
    public required IReadOnlyList<Recommendation> Recommendations { get; init; }
    public required PotentialSavings PotentialSavings { get; init; }
    public required IReadOnlyList<ActionPlanStep> ActionPlan { get; init; }
    public required IReadOnlyList<string> Assumptions { get; init; }
    public required bool Estimate { get; init; }

    /// <summary>The dataset the figures come from; null for an estimate from the message.</summary>
    public string? DatasetId { get; init; }

    /// <summary>What a filtered analysis kept (a filter follow-up); absent for the whole dataset.</summary>
    public Analysis.AppliedFilter? Filters { get; init; }

    /// <summary>Facts about the models in use that are not savings, e.g. a retired model and its successor.</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>2 to 4 follow-up questions the built-in planner recognises, built from this report.</summary>
    public IReadOnlyList<string> FollowUps { get; init; } = [];
}

public sealed record CostAnalysis
{
    public required int PeriodDays { get; init; }
    public required decimal MonthlyCostUsd { get; init; }
    public required long Calls { get; init; }
    public required IReadOnlyList<ModelCost> ByModel { get; init; }
    public required IReadOnlyList<FeatureCost> ByFeature { get; init; }

    /// <summary>Calls whose cost is unknown (unknown model, no cost_usd): counted in calls, left out of dollars.</summary>
    public int? UnpricedCalls { get; init; }

    /// <summary>The dataset's own days, oldest first (not scaled to a month); empty for an estimate.</summary>
    public IReadOnlyList<Analysis.TrendPoint> Daily { get; init; } = [];
}

public sealed record ModelCost
{
    public required string Model { get; init; }
    public required decimal MonthlyCostUsd { get; init; }
    public required double Share { get; init; }
    public int? P95LatencyMs { get; init; }
    public int? P50LatencyMs { get; init; }
    public long? Calls { get; init; }
    public double? ErrorRate { get; init; }
}

public sealed record FeatureCost
{
    public required string Feature { get; init; }
    public required decimal MonthlyCostUsd { get; init; }
    public required double Share { get; init; }
    public int? P95LatencyMs { get; init; }
    public long? Calls { get; init; }
}

public sealed record Recommendation
{
    public required string Id { get; init; }
    public required string Category { get; init; }
    public required string Title { get; init; }
    public required decimal MonthlySavingsUsd { get; init; }
    public required string Effort { get; init; }
    public required string Risk { get; init; }
    public required string Confidence { get; init; }
    public required string Rationale { get; init; }
    public required IReadOnlyList<string> Steps { get; init; }
}

public sealed record PotentialSavings
{
    public required decimal MonthlyAmount { get; init; }
    public required decimal AnnualAmount { get; init; }
    public required double Percent { get; init; }
}

public sealed record ActionPlanStep(int Order, string RecommendationId, int Week);
