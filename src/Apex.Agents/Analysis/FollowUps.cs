using System.Globalization;
using Apex.Agents.Catalog;
using Apex.Agents.Data;

namespace Apex.Agents.Analysis;

// Results of the follow-up tools (docs/spec/agent-report.md section 8). Money is USD rounded to cents;
// monthly_* figures scale the data's period to 30 days exactly as the report does, so a follow-up's
// figures line up with the report it refers to.

public sealed record WhatIfItem(string Id, string Title, string Category, decimal MonthlySavingsUsd, decimal InFullPlanMonthlySavingsUsd);

public sealed record WhatIfResult
{
    public required IReadOnlyList<string> RecommendationIds { get; init; }
    public required IReadOnlyList<WhatIfItem> Chosen { get; init; }
    public required IReadOnlyList<string> UnknownIds { get; init; }
    public required decimal MonthlyCostUsd { get; init; }
    public required decimal MonthlySavingsUsd { get; init; }
    public required decimal AnnualSavingsUsd { get; init; }
    public required double Percent { get; init; }
    public required decimal MonthlyCostAfterUsd { get; init; }

    /// <summary>The whole plan's monthly saving, for comparison.</summary>
    public required decimal FullPlanMonthlySavingsUsd { get; init; }
}

/// <summary>One change of the plan, numbered as in the report.</summary>
public sealed record PlanItem(int Order, string Id, string Title, decimal MonthlySavingsUsd);

/// <summary>
/// The answer to a what-if or an explanation of a change the plan does not contain: what the analysis
/// measured for that kind of change, what it would save on its own, and the plan's changes instead.
/// </summary>
public sealed record NotInPlanResult
{
    /// <summary>The change asked about, as a <see cref="PlanChanges"/> key or <c>#n</c>.</summary>
    public required string Asked { get; init; }

    /// <summary>The analysis' measurements for that kind of change, one sentence each.</summary>
    public required IReadOnlyList<string> Findings { get; init; }

    /// <summary>Changes of that kind that save something on their own but under a cent a month after the plan's earlier changes.</summary>
    public required IReadOnlyList<WhatIfItem> Alone { get; init; }
    public required decimal AloneMonthlySavingsUsd { get; init; }
    public required IReadOnlyList<PlanItem> Plan { get; init; }
    public required decimal FullPlanMonthlySavingsUsd { get; init; }
}

/// <summary>The measurement behind "stop paying for failed calls".</summary>
public sealed record FailedCallsEvidence(int FailedCalls, double FailedCostUsd, double FailedMonthlyUsd, IReadOnlyList<FeatureAmount> FailedByFeature);

/// <summary>The measurement behind a max_tokens cap.</summary>
public sealed record OutputTailsEvidence(IReadOnlyList<TailGroup> OutputTails, double TailSavingsUsd, double TailMonthlySavingsUsd);

public sealed record PriceFacts(string Model, decimal InputPerMillion, decimal OutputPerMillion, decimal CachedInputPerMillion, int QualityTier, bool Reasoning, string? Successor);

public sealed record SwitchEvidence
{
    public required string Feature { get; init; }
    public required string Model { get; init; }
    public required long Calls { get; init; }
    public required long InputTokens { get; init; }
    public required long CachedInputTokens { get; init; }
    public required long OutputTokens { get; init; }
    public required long ReasoningTokens { get; init; }
    public required decimal CostUsd { get; init; }

    /// <summary>The same calls at the target's prices, reasoning output included when the target adds it.</summary>
    public required decimal CostAtTargetUsd { get; init; }
    public required long TargetOutputTokens { get; init; }
}

public sealed record ExplainResult
{
    public required string Id { get; init; }
    public required string Title { get; init; }
    public required string Category { get; init; }
    public required int Order { get; init; }
    public required decimal MonthlySavingsUsd { get; init; }
    public required string Rationale { get; init; }
    public required IReadOnlyList<string> Steps { get; init; }
    public PriceFacts? From { get; init; }
    public PriceFacts? To { get; init; }
    public IReadOnlyList<SwitchEvidence>? Groups { get; init; }

    /// <summary>The measurement behind a caching, waste or batching change (the analysis tool's result).</summary>
    public object? Evidence { get; init; }
    public required IReadOnlyList<string> Notes { get; init; }
    public required IReadOnlyList<string> Assumptions { get; init; }
}

public sealed record ComparedModel
{
    public required string Model { get; init; }
    public required string Provider { get; init; }
    public required int QualityTier { get; init; }
    public required bool Reasoning { get; init; }
    public required decimal InputPerMillion { get; init; }
    public required decimal OutputPerMillion { get; init; }
    public required long OutputTokensBilled { get; init; }
    public required decimal CostUsd { get; init; }
    public required decimal MonthlyCostUsd { get; init; }

    /// <summary>Monthly cost minus today's monthly cost of the same calls (negative = cheaper).</summary>
    public required decimal MonthlyChangeUsd { get; init; }
    public string? Note { get; init; }
}

public sealed record CompareResult
{
    public string? Feature { get; init; }
    public required IReadOnlyList<string> CurrentModels { get; init; }
    public required long Calls { get; init; }
    public required long InputTokens { get; init; }
    public required long CachedInputTokens { get; init; }
    public required long OutputTokens { get; init; }
    public required long ReasoningTokens { get; init; }
    public required decimal CostUsd { get; init; }
    public required decimal MonthlyCostUsd { get; init; }
    public required IReadOnlyList<ComparedModel> Models { get; init; }
    public required IReadOnlyList<string> Assumptions { get; init; }
}

public sealed record LatencyGroup(string Name, long Calls, int? P50LatencyMs, int? P95LatencyMs, long FailedCalls, double ErrorRate);

public sealed record LatencyResult
{
    public int? P50LatencyMs { get; init; }
    public int? P95LatencyMs { get; init; }
    public required long FailedCalls { get; init; }
    public int? FailedP95LatencyMs { get; init; }
    public required string PerCallStatistics { get; init; }
    public required IReadOnlyList<LatencyGroup> ByModel { get; init; }
    public required IReadOnlyList<LatencyGroup> ByFeature { get; init; }
    public required IReadOnlyList<TailGroup> OutputTails { get; init; }
    public required int RepeatCalls { get; init; }
    public required IReadOnlyList<string> Changes { get; init; }
}

/// <summary>The follow-up computations, on an analyzer whose analysis tools ran (they are run here when not).</summary>
public static class FollowUps
{
    /// <summary>Runs the analysis tools that have not run yet, with the report's defaults.</summary>
    public static void EnsureAnalysed(UsageAnalyzer a, CancellationToken ct)
    {
        if (a.Summary is null) a.Summarize(ct);
        if (a.Repeats is null) a.FindRepeats(null, ct);
        if (a.Waste is null) a.FindWaste(ct);
        if (a.Models is null) a.RecommendModels(true, ct);
        if (a.Caching is null) a.EstimatePromptCaching(ct);
        if (a.Batching is null) a.EstimateBatching(ct);
    }

    /// <summary>The chosen recommendations alone, applied in plan order on the same rows (nothing counted twice).</summary>
    public static WhatIfResult WhatIf(UsageAnalyzer a, IReadOnlyList<string> ids, CancellationToken ct)
    {
        EnsureAnalysed(a, ct);
        var factor = a.Table.MonthlyFactor;
        var full = SavingsPlanner.Plan(a, ct);
        var wanted = new HashSet<string>(ids, StringComparer.Ordinal);
        var alone = SavingsPlanner.Plan(a, ct, wanted.Contains);
        var saved = alone.Sum(p => p.SavingsUsd);
        var monthly = Money.Cents(saved * factor);
        var cost = a.Summary!.CostUsd;
        var monthlyCost = Money.Cents(a.Summary.MonthlyCostUsd);
        return new WhatIfResult
        {
            RecommendationIds = [.. full.Where(p => wanted.Contains(p.Id)).Select(p => p.Id)],
            Chosen = [.. full.Where(p => wanted.Contains(p.Id)).Select(p => new WhatIfItem(p.Id, p.Title, p.Category,
                Money.Cents((alone.FirstOrDefault(x => x.Id == p.Id)?.SavingsUsd ?? 0) * factor), Money.Cents(p.SavingsUsd * factor)))],
            UnknownIds = [.. ids.Where(id => full.All(p => p.Id != id))],
            MonthlyCostUsd = monthlyCost,
            MonthlySavingsUsd = monthly,
            AnnualSavingsUsd = monthly * 12,
            Percent = cost > 0 ? Math.Round(saved / cost * 100, 1, MidpointRounding.AwayFromZero) : 0,
            MonthlyCostAfterUsd = monthlyCost - monthly,
            FullPlanMonthlySavingsUsd = Money.Cents(full.Sum(p => p.SavingsUsd) * factor),
        };
    }

    /// <summary>
    /// A change of kind <paramref name="change"/> (a <see cref="PlanChanges"/> key, or <c>#n</c> for a number past
    /// the plan's end) that the plan does not contain: why not, in the analysis' own figures.
    /// </summary>
    public static NotInPlanResult NotInPlan(UsageAnalyzer a, string change, CancellationToken ct)
    {
        EnsureAnalysed(a, ct);
        var factor = a.Table.MonthlyFactor;
        var full = SavingsPlanner.Plan(a, ct);
        var numbered = change.StartsWith('#');
        var alone = numbered ? [] : SavingsPlanner.Plan(a, ct, id => PlanChanges.Covers(change, id));
        var inPlan = full.Where(p => !numbered && PlanChanges.Covers(change, p.Id)).Select(p => p.Id).ToHashSet(StringComparer.Ordinal);
        var aloneItems = alone.Where(p => !inPlan.Contains(p.Id)).Select(p => new WhatIfItem(p.Id, p.Title, p.Category, Money.Cents(p.SavingsUsd * factor), 0m)).ToList();
        return new NotInPlanResult
        {
            Asked = change,
            Findings = numbered ? [] : Findings(a, change),
            Alone = aloneItems,
            AloneMonthlySavingsUsd = aloneItems.Sum(i => i.MonthlySavingsUsd),
            Plan = [.. full.Select((p, i) => new PlanItem(i + 1, p.Id, p.Title, Money.Cents(p.SavingsUsd * factor)))],
            FullPlanMonthlySavingsUsd = Money.Cents(full.Sum(p => p.SavingsUsd) * factor),
        };
    }

    private static List<string> Findings(UsageAnalyzer a, string change)
    {
        static string Usd(double monthly) => "$" + Money.Cents(monthly).ToString("N2", CultureInfo.InvariantCulture);
        var findings = new List<string>();
        if (PlanChanges.Covers(change, PlanChanges.ExactRepeats) && a.Repeats is { } rep)
        {
            findings.Add(rep.CallsWithPrompt == 0
                ? "Exact repeats: the data has no prompt hash or prompt, so repeated prompts cannot be found."
                : string.Create(CultureInfo.InvariantCulture,
                    $"Exact repeats: {rep.RepeatCalls:N0} of {rep.CallsWithPrompt:N0} calls with a prompt hash repeat one seen within {rep.TtlHours:0.##} h; a response cache would save {Usd(rep.MonthlySavingsUsd)}/month."));
        }

        if (PlanChanges.Covers(change, PlanChanges.PromptCaching) && a.Caching is { } cache)
        {
            findings.Add(cache.EligibleCalls == 0
                ? "Prompt caching: no call sends a long prompt (1,024 input tokens or more) with few cached tokens, so there is no prefix left to cache."
                : string.Create(CultureInfo.InvariantCulture,
                    $"Prompt caching: {cache.EligibleCalls:N0} calls send long prompts with few cached tokens; caching their stable prefix would save {Usd(cache.MonthlySavingsUsd)}/month."));
        }

        if (change == PlanChanges.ModelSwitch && a.Models is { } models)
        {
            var withTarget = models.Groups.Count(g => g.Best is not null);
            var unpriced = models.Groups.Count(g => g.Note is not null);
            findings.Add(string.Create(CultureInfo.InvariantCulture,
                $"Model switches: {withTarget} of {models.Groups.Count} feature and model groups have a cheaper catalog model of the same quality tier or one below")
                + (unpriced > 0 ? string.Create(CultureInfo.InvariantCulture, $"; {unpriced} use models the catalog does not price, so no switch is suggested for them.") : "."));
        }

        if (change == PlanChanges.Batching && a.Batching is { } batching)
        {
            findings.Add(batching.EligibleCalls == 0
                ? "Batch API: every call looks interactive (a user is waiting for it), so none can wait for a batch."
                : string.Create(CultureInfo.InvariantCulture,
                    $"Batch API: {batching.EligibleCalls:N0} calls need no immediate answer; batching them would save {Usd(batching.MonthlySavingsUsd)}/month."));
        }

        if (change == PlanChanges.OutputCap && a.Waste is { } tails)
        {
            findings.Add(tails.OutputTails.Count == 0
                ? "max_tokens caps: no feature has a long tail of answers far above its median length."
                : string.Create(CultureInfo.InvariantCulture,
                    $"max_tokens caps: {tails.OutputTails.Count} feature and model groups have long answer tails; capping them at their p95 would save {Usd(tails.TailMonthlySavingsUsd)}/month."));
        }

        if (change == PlanChanges.FailedCalls && a.Waste is { } waste)
        {
            findings.Add(waste.FailedCalls == 0
                ? "Failed calls: no call in the data ended with an error."
                : string.Create(CultureInfo.InvariantCulture,
                    $"Failed calls: {waste.FailedCalls:N0} call{(waste.FailedCalls == 1 ? "" : "s")} ended with an error and cost {Usd(waste.FailedMonthlyUsd)}/month."));
        }

        return findings;
    }

    /// <summary>The evidence behind one recommendation of the plan.</summary>
    public static ExplainResult Explain(UsageAnalyzer a, PriceCatalog catalog, string id, CancellationToken ct)
    {
        EnsureAnalysed(a, ct);
        var plan = SavingsPlanner.Plan(a, ct);
        var index = plan.ToList().FindIndex(p => p.Id == id);
        if (index < 0)
        {
            throw new ArgumentException($"No recommendation '{id}' in the plan for this data; the plan has: {string.Join(", ", plan.Select(p => p.Id))}.");
        }

        var p = plan[index];
        var factor = a.Table.MonthlyFactor;
        var notes = new List<string>();
        var assumptions = new List<string>();
        object? evidence = null;
        PriceFacts? from = null, to = null;
        List<SwitchEvidence>? groups = null;
        switch (p.Id)
        {
            case "cache-exact-repeats":
                evidence = a.Repeats;
                assumptions.Add($"A call repeats when the same model saw the same prompt hash at most {a.Repeats!.TtlHours:0.##} h earlier.");
                break;
            case "fix-failed-calls":
                evidence = new FailedCallsEvidence(a.Waste!.FailedCalls, a.Waste.FailedCostUsd, a.Waste.FailedMonthlyUsd, a.Waste.FailedByFeature);
                break;
            case "cap-output-tokens":
                evidence = new OutputTailsEvidence(a.Waste!.OutputTails, a.Waste.TailSavingsUsd, a.Waste.TailMonthlySavingsUsd);
                assumptions.Add("A max_tokens cap at the group's p95 output trims only the answers above it.");
                break;
            case "enable-prompt-caching":
                evidence = a.Caching;
                assumptions.Add($"{a.Caching!.PrefixShare:P0} of a long prompt's uncached input is assumed to be a stable prefix.");
                break;
            case "use-batch-api":
                evidence = a.Batching;
                break;
            default:
                (from, to, groups) = SwitchEvidenceOf(a, p.Id, ct);
                if (to is not null)
                {
                    var target = catalog.Find(to.Model)!;
                    var source = from is null ? null : catalog.Find(from.Model);
                    if (ReasoningEstimate.AddsReasoning(source, target))
                    {
                        notes.Add($"{to.Model} is a reasoning model: it bills hidden reasoning tokens as output, so its cost here counts {a.Reasoning.FactorText} reasoning tokens per visible output token ({(a.Reasoning.Observed ? "measured in this data" : "assumed, as the data carries no reasoning tokens")}).");
                        assumptions.Add(a.Reasoning.Assumption);
                    }
                    else if (target.Reasoning)
                    {
                        notes.Add($"{to.Model} is a reasoning model, like {from?.Model}: the output tokens already include reasoning.");
                    }
                    else
                    {
                        notes.Add($"{to.Model} is not a reasoning model in the price catalog: no hidden reasoning tokens are added to its output.");
                    }

                    notes.Add(to.QualityTier == from?.QualityTier
                        ? $"{to.Model} is in the same quality tier ({to.QualityTier}) as {from?.Model}."
                        : $"{to.Model} is quality tier {to.QualityTier}; {from?.Model} is tier {from?.QualityTier}.");
                    if (from?.Successor is { } successor)
                    {
                        notes.Add($"{from.Model} is retired; its successor is {successor}.");
                    }
                }

                assumptions.Add("Prices are the catalog's list prices; the same calls and tokens are priced at both models.");
                break;
        }

        return new ExplainResult
        {
            Id = p.Id, Title = p.Title, Category = p.Category, Order = index + 1,
            MonthlySavingsUsd = Money.Cents(p.SavingsUsd * factor),
            Rationale = p.Rationale, Steps = p.Steps, From = from, To = to, Groups = groups, Evidence = evidence, Notes = notes, Assumptions = assumptions,
        };
    }

    private static (PriceFacts? From, PriceFacts? To, List<SwitchEvidence> Groups) SwitchEvidenceOf(UsageAnalyzer a, string id, CancellationToken ct)
    {
        var chosen = a.Models!.Groups.Where(g => g.Best is not null && a.ModelChoices.TryGetValue(g.Key, out var target)
            && SavingsPlanner.SwitchId(g.Model, target) == id).ToList();
        if (chosen.Count == 0)
        {
            return (null, null, []);
        }

        var rows = a.Table.Rows;
        var keys = chosen.ToDictionary(g => g.Key, _ => new long[6]);
        var costs = chosen.ToDictionary(g => g.Key, _ => new double[2]);
        var toPrice = a.ModelChoices[chosen[0].Key];
        for (var i = 0; i < rows.Count; i++)
        {
            if ((i & 0xFFFF) == 0)
            {
                ct.ThrowIfCancellationRequested();
            }

            if (double.IsNaN(rows.Cost[i]) || (rows.Flags[i] & UsageFlags.CostOnly) != 0
                || !keys.TryGetValue(UsageAnalyzer.GroupKey(rows.Feature[i], rows.Model[i]), out var sums))
            {
                continue;
            }

            var key = UsageAnalyzer.GroupKey(rows.Feature[i], rows.Model[i]);
            var billed = a.Reasoning.BilledOutput(a.Table.Prices[rows.Model[i]], toPrice, rows.Output[i]);
            sums[0] += rows.Requests[i];
            sums[1] += rows.Input[i];
            sums[2] += rows.Cached[i];
            sums[3] += rows.Output[i];
            sums[4] += rows.Reasoning[i];
            sums[5] += billed;
            costs[key][0] += rows.Cost[i];
            costs[key][1] += toPrice.CostOf(rows.Input[i], rows.Cached[i], rows.CacheWrite[i], billed, rows.Requests[i]);
        }

        var fromPrice = a.Table.Prices.First(m => m?.Id == chosen[0].Model)!;
        return (Facts(fromPrice), Facts(toPrice), [.. chosen.Select(g => new SwitchEvidence
        {
            Feature = g.Feature, Model = g.Model, Calls = keys[g.Key][0], InputTokens = keys[g.Key][1], CachedInputTokens = keys[g.Key][2],
            OutputTokens = keys[g.Key][3], ReasoningTokens = keys[g.Key][4], TargetOutputTokens = keys[g.Key][5],
            CostUsd = Money.Cents(costs[g.Key][0]), CostAtTargetUsd = Money.Cents(costs[g.Key][1]),
        })]);
    }

    public static PriceFacts Facts(ModelPrice m) =>
        new(m.Id, m.InputPerMillion, m.OutputPerMillion, m.CachedInputPerMillion, m.QualityTier, m.Reasoning, m.Successor);

    /// <summary>The calls of a feature (and/or of a model), their tokens priced at each of <paramref name="targets"/>.</summary>
    public static CompareResult Compare(UsageAnalyzer a, PriceCatalog catalog, string? feature, string? model, IReadOnlyList<ModelPrice> targets, CancellationToken ct)
    {
        if (targets.Count == 0)
        {
            throw new ArgumentException("Name at least one catalog model to compare.");
        }

        var t = a.Table;
        var rows = t.Rows;
        var strings = rows.Strings;
        var (featureOk, modelOk) = RowFilter.NameMasks(strings, catalog, feature, model);

        long calls = 0, input = 0, cached = 0, output = 0, reasoning = 0;
        double cost = 0;
        var targetCost = new double[targets.Count];
        var targetOutput = new long[targets.Count];
        var current = new SortedSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < rows.Count; i++)
        {
            if ((i & 0xFFFF) == 0)
            {
                ct.ThrowIfCancellationRequested();
            }

            if (!featureOk[rows.Feature[i]] || !modelOk[rows.Model[i]] || double.IsNaN(rows.Cost[i]) || (rows.Flags[i] & UsageFlags.CostOnly) != 0)
            {
                continue;
            }

            current.Add(strings[rows.Model[i]]);
            calls += rows.Requests[i];
            input += rows.Input[i];
            cached += rows.Cached[i];
            output += rows.Output[i];
            reasoning += rows.Reasoning[i];
            cost += rows.Cost[i];
            for (var k = 0; k < targets.Count; k++)
            {
                var billed = a.Reasoning.BilledOutput(t.Prices[rows.Model[i]], targets[k], rows.Output[i]);
                targetOutput[k] += billed;
                targetCost[k] += targets[k].CostOf(rows.Input[i], rows.Cached[i], rows.CacheWrite[i], billed, rows.Requests[i]);
            }
        }

        if (calls == 0)
        {
            throw new ArgumentException($"No priced calls {(feature is null ? "" : $"of {feature} ")}{(model is null ? "" : $"on {model} ")}in this data.");
        }

        var factor = t.MonthlyFactor;
        var monthlyNow = Money.Cents(cost * factor);
        var assumptions = new List<string> { "The same calls and tokens are priced at each model's catalog list prices." };
        var models = new List<ComparedModel>();
        for (var k = 0; k < targets.Count; k++)
        {
            var m = targets[k];
            var addsReasoning = targetOutput[k] != output;
            string? note = addsReasoning
                ? $"Reasoning model: {targetOutput[k] - output:N0} hidden reasoning tokens added as output ({a.Reasoning.FactorText} x visible output, {(a.Reasoning.Observed ? "measured" : "assumed")})."
                : m.Reasoning ? "Reasoning model; the current output already includes reasoning." : null;
            if (m.Successor is { } successor)
            {
                note = (note is null ? "" : note + " ") + $"Retired; successor {successor}.";
            }

            var monthly = Money.Cents(targetCost[k] * factor);
            models.Add(new ComparedModel
            {
                Model = m.Id, Provider = m.Provider, QualityTier = m.QualityTier, Reasoning = m.Reasoning,
                InputPerMillion = m.InputPerMillion, OutputPerMillion = m.OutputPerMillion, OutputTokensBilled = targetOutput[k],
                CostUsd = Money.Cents(targetCost[k]), MonthlyCostUsd = monthly, MonthlyChangeUsd = monthly - monthlyNow, Note = note,
            });
        }

        if (models.Any(m => m.OutputTokensBilled != output))
        {
            assumptions.Add(a.Reasoning.Assumption);
        }

        return new CompareResult
        {
            Feature = feature, CurrentModels = [.. current], Calls = calls, InputTokens = input, CachedInputTokens = cached, OutputTokens = output,
            ReasoningTokens = reasoning, CostUsd = Money.Cents(cost), MonthlyCostUsd = monthlyNow, Models = models, Assumptions = assumptions,
        };
    }

    /// <summary>Latency by model and feature from successful calls, failed calls apart, output tails, and what to change.</summary>
    public static LatencyResult Latency(UsageAnalyzer a, CancellationToken ct)
    {
        EnsureAnalysed(a, ct);
        var s = a.Summary!;
        static LatencyGroup Group(GroupSummary g) => new(g.Name, g.Calls, g.P50LatencyMs, g.P95LatencyMs, g.FailedCalls, Math.Round(g.ErrorRate, 4));
        var changes = new List<string>();
        var slowest = s.ByFeature.Where(f => f.P95LatencyMs is not null).OrderByDescending(f => f.P95LatencyMs).FirstOrDefault();
        var tails = a.Waste!.OutputTails;
        if (tails.Count > 0)
        {
            var top = tails.OrderByDescending(x => x.P95OutputTokens - x.MedianOutputTokens).First();
            changes.Add($"Cap max_tokens in {top.Feature} near its p95 output ({top.P95OutputTokens:N0} tokens against a median of {top.MedianOutputTokens:N0}): long answers are the slowest ones.");
        }

        if (a.Repeats is { RepeatCalls: > 0 } rep)
        {
            changes.Add($"Serve the {rep.RepeatCalls:N0} exact repeats from a response cache: they answer in milliseconds instead of a model round trip.");
        }

        if (slowest is not null)
        {
            changes.Add($"Stream {slowest.Name}'s answers (p95 {slowest.P95LatencyMs:N0} ms) so users see the first tokens at once, and try a smaller model of the same tier there.");
        }

        if (s.FailedCalls > 0)
        {
            changes.Add($"{s.FailedCalls:N0} failed calls are counted apart{(s.FailedP95LatencyMs is { } f ? $" (their p95 is {f:N0} ms)" : "")}: set client timeouts and retry limits so failures end quickly.");
        }

        return new LatencyResult
        {
            P50LatencyMs = s.P50LatencyMs, P95LatencyMs = s.P95LatencyMs, FailedCalls = s.FailedCalls, FailedP95LatencyMs = s.FailedP95LatencyMs,
            PerCallStatistics = s.PerCallStatistics,
            ByModel = [.. s.ByModel.Select(Group).OrderByDescending(g => g.P95LatencyMs ?? -1)],
            ByFeature = [.. s.ByFeature.Select(Group).OrderByDescending(g => g.P95LatencyMs ?? -1)],
            OutputTails = tails, RepeatCalls = a.Repeats?.RepeatCalls ?? 0, Changes = changes,
        };
    }

    /// <summary>Retired models among <paramref name="models"/>, each named with its successor and the successor's list prices.</summary>
    public static List<string> RetiredNotes(IEnumerable<ModelPrice> models, PriceCatalog catalog)
    {
        var notes = new List<string>();
        foreach (var m in models.Distinct().OrderBy(m => m.Id, StringComparer.Ordinal))
        {
            if (m.Successor is not { } successorId)
            {
                continue;
            }

            var successor = catalog.Find(successorId);
            notes.Add(successor is null
                ? $"{m.Id} is retired; its successor is {successorId} (not priced in the catalog)."
                : $"{m.Id} is retired; its successor {successor.Id} lists at ${successor.InputPerMillion:0.###} input / ${successor.OutputPerMillion:0.###} output per million tokens (against ${m.InputPerMillion:0.###} / ${m.OutputPerMillion:0.###}){(successor.Reasoning ? " and bills reasoning tokens as output" : "")}.");
        }

        return notes;
    }
}
