using System.Globalization;
using Apex.Agents.Analysis;
using Apex.Agents.Catalog;

namespace Apex.Agents.Planning;

/// <summary>
/// Estimates for a message without a dataset: the stated spend (or volume × catalog price) and a
/// cheaper model from the catalog. Every input that was not stated is an assumption the report lists.
/// </summary>
public static class FactsEstimator
{
    /// <summary>Token mix assumed per request when the message does not give one.</summary>
    public const int AssumedInputTokens = 1_000;
    public const int AssumedOutputTokens = 300;

    public static UsageSummary Summarize(RequestFacts facts, PriceCatalog catalog, List<string> assumptions)
    {
        var price = facts.Models.Select(catalog.Find).FirstOrDefault(p => p is not null);
        var spend = facts.MonthlySpendUsd;
        if (spend is null && facts.RequestsPerMonth is { } requests && price is not null)
        {
            spend = requests * price.CostOf(AssumedInputTokens, 0, AssumedOutputTokens);
            assumptions.Add($"Monthly spend estimated from {requests.ToString("N0", CultureInfo.InvariantCulture)} requests at {price.Id} list prices with {AssumedInputTokens:N0} input and {AssumedOutputTokens:N0} output tokens per request.");
        }

        var cost = spend ?? 0;
        var label = price?.Id ?? (facts.Models.Count > 0 ? facts.Models[0] : "unknown model");
        var feature = facts.UseCase ?? "all traffic";
        var group = new GroupSummary
        {
            Name = label, Calls = (int)Math.Min(int.MaxValue, facts.RequestsPerMonth ?? 0), InputTokens = 0, OutputTokens = 0,
            CostUsd = cost, MonthlyCostUsd = cost, Share = cost > 0 ? 1 : 0, ErrorRate = 0, P95LatencyMs = facts.LatencyP95Ms,
        };
        return new UsageSummary
        {
            Source = "stated facts",
            PeriodDays = 30,
            Calls = (long)(facts.RequestsPerMonth ?? 0),
            UnpricedCalls = 0,
            CostUsd = cost,
            MonthlyCostUsd = cost,
            P95LatencyMs = facts.LatencyP95Ms,
            ByModel = spend is null ? [] : [group],
            ByFeature = spend is null ? [] : [group with { Name = feature }],
        };
    }

    /// <summary>The cheapest catalog model of the same tier (else one tier smaller) for the stated model and mix.</summary>
    /// <param name="reasoningFactor">Reasoning tokens per visible output token a reasoning model adds (section 9).</param>
    public static (ModelsResult Result, PlannedRecommendation? Recommendation) RecommendModels(
        RequestFacts facts, UsageSummary summary, PriceCatalog catalog, bool allowTierDrop, List<string> assumptions, double reasoningFactor = 2)
    {
        var current = facts.Models.Select(catalog.Find).FirstOrDefault(p => p is not null);
        if (current is null || summary.CostUsd <= 0)
        {
            return (new ModelsResult { Source = "stated facts", Groups = [], MonthlySavingsUsd = 0 }, null);
        }

        var baseCost = current.CostOf(AssumedInputTokens, 0, AssumedOutputTokens);
        long Output(ModelPrice from, ModelPrice to) =>
            to.Reasoning && !from.Reasoning ? AssumedOutputTokens + (long)Math.Round(AssumedOutputTokens * reasoningFactor) : AssumedOutputTokens;
        var minTier = allowTierDrop ? current.QualityTier - 1 : current.QualityTier;
        var eligible = catalog.Models
            .Where(m => !ReferenceEquals(m, current) && m.QualityTier >= current.QualityTier - 1)
            .Select(m => (Model: m, Ratio: m.CostOf(AssumedInputTokens, 0, Output(current, m)) / baseCost))
            .Where(m => m.Ratio < 1)
            .ToList();
        var same = eligible.Where(m => string.Equals(m.Model.Provider, current.Provider, StringComparison.OrdinalIgnoreCase)).ToList();
        var pool = same.Count > 0 ? same : eligible;
        var candidates = pool.Where(m => m.Model.QualityTier >= minTier || m.Model.QualityTier >= current.QualityTier - 1)
            .OrderBy(m => m.Ratio).ThenBy(m => m.Model.Id, StringComparer.Ordinal).Take(5)
            .Select(m => new CandidateModel
            {
                Model = m.Model.Id, Provider = m.Model.Provider, QualityTier = m.Model.QualityTier,
                QualityChange = Math.Min(0, m.Model.QualityTier - current.QualityTier),
                CostUsd = summary.CostUsd * m.Ratio, SavingsUsd = summary.CostUsd * (1 - m.Ratio), MonthlySavingsUsd = summary.CostUsd * (1 - m.Ratio),
            }).ToList();
        var best = candidates.Where(c => c.QualityChange == 0).MinBy(c => c.CostUsd) ?? candidates.Where(c => c.QualityChange < 0).MinBy(c => c.CostUsd);
        var feature = facts.UseCase ?? "all traffic";
        var group = new ModelGroup
        {
            Feature = feature, Model = current.Id, Calls = (int)Math.Min(int.MaxValue, facts.RequestsPerMonth ?? 0),
            CostUsd = summary.CostUsd, MonthlyCostUsd = summary.CostUsd, QualityTier = current.QualityTier, Candidates = candidates, Best = best,
        };
        if (best is null)
        {
            return (new ModelsResult { Source = "stated facts", Groups = [group], MonthlySavingsUsd = 0 }, null);
        }

        if (catalog.Find(best.Model) is { } chosen && chosen.Reasoning && !current.Reasoning)
        {
            assumptions.Add($"{chosen.Id} is a reasoning model: its hidden reasoning tokens bill as output, priced here at {reasoningFactor.ToString("0.##", CultureInfo.InvariantCulture)} x the visible output (Agent:Analysis:ReasoningOutputFactor).");
        }

        assumptions.Add($"Model prices compared on an assumed mix of {AssumedInputTokens:N0} input and {AssumedOutputTokens:N0} output tokens per request; the real mix changes the saving.");
        var recommendation = new PlannedRecommendation
        {
            Id = $"switch-model-{SavingsPlanner.Slug(feature)}-{SavingsPlanner.Slug(current.Id)}",
            Category = "model",
            Title = $"Move {feature} from {current.Id} to {best.Model}",
            SavingsUsd = best.SavingsUsd,
            Effort = "medium",
            Risk = best.QualityChange < 0 ? "medium" : "low",
            Confidence = "low",
            Week = 1,
            Rationale = $"{best.Model} is {(best.QualityChange < 0 ? "one quality tier below" : "in the same quality tier as")} {current.Id} and costs {SavingsPlanner.Percent(1 - best.CostUsd / summary.CostUsd)} less for the same tokens at list prices.",
            Steps =
            [
                $"Export a week of usage (timestamp, model, tokens, feature, prompt hash, status) and upload it for measured figures.",
                $"Replay 100 real {feature} conversations on {best.Model} and compare answers with {current.Id}.",
                $"Route 10% of traffic to {best.Model} behind a flag, then ramp up when quality holds.",
            ],
        };
        return (new ModelsResult { Source = "stated facts", Groups = [group], MonthlySavingsUsd = best.MonthlySavingsUsd }, recommendation);
    }
}
