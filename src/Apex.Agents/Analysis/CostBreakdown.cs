using Apex.Agents.Catalog;

namespace Apex.Agents.Analysis;

/// <summary>One model's or feature's share of the spend in a breakdown.</summary>
public sealed record BreakdownRow(string Name, long Calls, decimal CostUsd, decimal MonthlyCostUsd, double Share, int? P95LatencyMs);

/// <summary>
/// Where the money goes for all traffic, one feature or one model, within an optional date range:
/// totals in the data's own period and scaled to a month as the report does, and the split by model and
/// by feature. <see cref="Share"/> is the scope's part of all traffic in the same range.
/// </summary>
public sealed record BreakdownResult
{
    public required string Scope { get; init; }
    public string? Name { get; init; }

    /// <summary>"model" or "feature" when the question asked which one costs the most; null otherwise.</summary>
    public string? Ranking { get; init; }
    public string? From { get; init; }
    public string? To { get; init; }
    public required int PeriodDays { get; init; }
    public required long Calls { get; init; }
    public required decimal CostUsd { get; init; }
    public required decimal MonthlyCostUsd { get; init; }
    public required double Share { get; init; }
    public required decimal AllMonthlyCostUsd { get; init; }
    public required IReadOnlyList<BreakdownRow> ByModel { get; init; }
    public required IReadOnlyList<BreakdownRow> ByFeature { get; init; }

    /// <summary>A name the question asked about that no feature or model of the data has; the figures are then of all traffic.</summary>
    public string? UnmatchedName { get; init; }
    public IReadOnlyList<string> KnownFeatures { get; init; } = [];
}

public static class CostBreakdown
{
    public static BreakdownResult Compute(UsageAnalyzer a, PriceCatalog catalog, AnalysisOptions options, string? feature, string? model,
        string? from, string? to, string? ranking, CancellationToken ct)
    {
        var range = new RowFilter { From = from, To = to };
        var all = from is null && to is null ? a.Summary ?? a.Summarize(ct) : Summarize(a, catalog, options, range, ct);
        var scoped = feature is null && model is null ? all
            : Summarize(a, catalog, options, range with { OnlyFeatures = feature is null ? [] : [feature], OnlyModels = feature is null && model is not null ? [model] : [] }, ct);
        // A feature or model is part of the same days as all traffic: its month scales the same period, even
        // when its own calls span fewer days, so its figures add up to the report's.
        var factor = all.CostUsd > 0 ? all.MonthlyCostUsd / all.CostUsd : 0;
        return new BreakdownResult
        {
            Scope = feature is not null ? "feature" : model is not null ? "model" : "all",
            Name = feature ?? model,
            Ranking = ranking,
            From = from,
            To = to,
            PeriodDays = all.PeriodDays,
            Calls = scoped.Calls,
            CostUsd = Money.Cents(scoped.CostUsd),
            MonthlyCostUsd = Money.Cents(scoped.CostUsd * factor),
            Share = all.CostUsd > 0 ? Math.Round(scoped.CostUsd / all.CostUsd, 4) : 0,
            AllMonthlyCostUsd = Money.Cents(all.MonthlyCostUsd),
            ByModel = Rows(scoped.ByModel, factor),
            ByFeature = Rows(scoped.ByFeature, factor),
        };
    }

    private static UsageSummary Summarize(UsageAnalyzer a, PriceCatalog catalog, AnalysisOptions options, RowFilter filter, CancellationToken ct)
    {
        var (kept, _) = filter.Apply(a.Table, catalog, ct);
        if (kept.Count == 0)
        {
            throw new ArgumentException($"No calls are left {filter.Describe()}.");
        }

        return new UsageAnalyzer(kept, catalog, options).Summarize(ct);
    }

    private static List<BreakdownRow> Rows(IReadOnlyList<GroupSummary> groups, double factor) =>
        [.. groups.Select(g => new BreakdownRow(g.Name, g.Calls, Money.Cents(g.CostUsd), Money.Cents(g.CostUsd * factor), g.Share, g.P95LatencyMs))];
}
