using System.Globalization;
using Apex.Agents.Analysis;
using Apex.Agents.Catalog;
using Apex.Agents.Planning;

namespace Apex.Agents.Reports;

/// <summary>Turns tool results into the report; every figure comes from the tools, rounded once here.</summary>
public static class ReportBuilder
{
    public static decimal Cents(double usd) => Math.Round((decimal)usd, 2, MidpointRounding.AwayFromZero);

    public static string Usd(decimal amount) => "$" + amount.ToString("N2", CultureInfo.InvariantCulture);

    public static OptimizationReport Build(
        UsageSummary summary,
        double monthlyFactor,
        IReadOnlyList<PlannedRecommendation> plan,
        IEnumerable<string> assumptions,
        bool estimate)
    {
        var monthlyCost = Cents(summary.MonthlyCostUsd);
        var recommendations = plan.Select(p => new Recommendation
        {
            Id = p.Id,
            Category = p.Category,
            Title = p.Title,
            MonthlySavingsUsd = Cents(p.SavingsUsd * monthlyFactor),
            Effort = p.Effort,
            Risk = p.Risk,
            Confidence = p.Confidence,
            Rationale = p.Rationale,
            Steps = p.Steps,
        }).ToList();
        var savedPeriod = plan.Sum(p => p.SavingsUsd);
        var monthlySavings = Cents(savedPeriod * monthlyFactor);
        var percent = summary.CostUsd > 0 ? Math.Round(savedPeriod / summary.CostUsd * 100, 1, MidpointRounding.AwayFromZero) : 0;
        var potential = new PotentialSavings { MonthlyAmount = monthlySavings, AnnualAmount = monthlySavings * 12, Percent = percent };

        var summaryText = plan.Count == 0
            ? $"You spend about {Usd(monthlyCost)}/month; no change with a measurable saving was found."
            : $"You spend about {Usd(monthlyCost)}/month; {plan.Count} {(plan.Count == 1 ? "change cuts" : "changes cut")} that by {Usd(monthlySavings)} ({percent.ToString("0.0", CultureInfo.InvariantCulture)}%).";
        if (estimate)
        {
            summaryText = "Estimate from your message: " + char.ToLowerInvariant(summaryText[0]) + summaryText[1..];
        }

        return new OptimizationReport
        {
            Summary = summaryText,
            CostAnalysis = new CostAnalysis
            {
                PeriodDays = summary.PeriodDays,
                MonthlyCostUsd = monthlyCost,
                Calls = summary.Calls,
                UnpricedCalls = summary.UnpricedCalls > 0 ? summary.UnpricedCalls : null,
                ByModel = [.. summary.ByModel.Select(m => new ModelCost
                {
                    Model = m.Name,
                    MonthlyCostUsd = Cents(m.MonthlyCostUsd),
                    Share = Math.Round(m.Share, 4),
                    P95LatencyMs = m.P95LatencyMs,
                    P50LatencyMs = m.P50LatencyMs,
                    Calls = m.Calls,
                    ErrorRate = Math.Round(m.ErrorRate, 4),
                })],
                ByFeature = [.. summary.ByFeature.Select(f => new FeatureCost
                {
                    Feature = f.Name,
                    MonthlyCostUsd = Cents(f.MonthlyCostUsd),
                    Share = Math.Round(f.Share, 4),
                    P95LatencyMs = f.P95LatencyMs,
                    Calls = f.Calls,
                })],
            },
            Recommendations = recommendations,
            PotentialSavings = potential,
            ActionPlan = [.. plan.Select((p, i) => new ActionPlanStep(i + 1, p.Id, p.Week))],
            Assumptions = [.. assumptions],
            Estimate = estimate,
        };
    }

    /// <summary>The assumptions every report states about prices and scaling.</summary>
    public static List<string> BaseAssumptions(PriceCatalog catalog, int periodDays, bool estimate)
    {
        var dates = catalog.Models.Select(m => m.PriceDate).Order(StringComparer.Ordinal).ToList();
        var list = new List<string>
        {
            $"Prices from the catalog version {catalog.Version} (list prices dated {dates.First()} to {dates.Last()}, per model).",
        };
        if (!estimate)
        {
            list.Add($"Monthly figures scale the dataset's {periodDays} day(s) to 30 days; annual = 12 x monthly.");
            list.Add("Savings are applied in action-plan order, each on the cost the previous changes leave, so nothing is counted twice.");
        }

        return list;
    }
}
