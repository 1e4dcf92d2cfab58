using System.Globalization;
using Apex.Agents.Catalog;
using Apex.Agents.Data;

namespace Apex.Agents.Analysis;

/// <summary>A recommendation with its saving in the dataset's period, counted on what earlier ones left.</summary>
public sealed record PlannedRecommendation
{
    public required string Id { get; init; }
    public required string Category { get; init; }
    public required string Title { get; init; }
    public required double SavingsUsd { get; init; }
    public required string Effort { get; init; }
    public required string Risk { get; init; }
    public required string Confidence { get; init; }
    public required string Rationale { get; init; }
    public required IReadOnlyList<string> Steps { get; init; }
    public required int Week { get; init; }
}

/// <summary>
/// Applies the recommendations in action-plan order, each on what the previous ones left, so no
/// saving is counted twice (docs/spec/agent-report.md section 4). Order and week: cache exact repeats and stop
/// failing calls (week 1), model switches (week 2), max_tokens caps and prompt caching (week 3),
/// batch API (week 4). Per call: a cached repeat or a failed call is removed whole; a switched call
/// costs its tokens at the new model's prices; caps, prompt caching and batching then take their
/// share of what the call still costs, at the prices of the model it ends on.
/// </summary>
public static class SavingsPlanner
{
    /// <summary>A change is listed when it saves at least a cent a month.</summary>
    private const double MinimumMonthlySavingsUsd = 0.005;

    /// <param name="include">Recommendation ids to apply (a what-if); null applies every one.</param>
    public static IReadOnlyList<PlannedRecommendation> Plan(UsageAnalyzer a, CancellationToken ct, Func<string, bool>? include = null)
    {
        include ??= static _ => true;
        var t = a.Table;
        var rows = t.Rows;
        var n = rows.Count;
        var factor = t.MonthlyFactor;
        var remaining = new double[n];
        var price = new ModelPrice?[n];
        for (var i = 0; i < n; i++)
        {
            remaining[i] = rows.Cost[i];
            price[i] = t.Prices[rows.Model[i]];
        }

        var plan = new List<PlannedRecommendation>();

        // 1. Exact repeats.
        if (a.RepeatMarks is { } repeats && a.Repeats is { } rep && include("cache-exact-repeats"))
        {
            var saved = 0d;
            for (var i = 0; i < n; i++)
            {
                if (repeats[i] && !double.IsNaN(remaining[i]))
                {
                    saved += remaining[i];
                    remaining[i] = 0;
                }
            }

            var top = rep.ByFeature.Count > 0 ? rep.ByFeature[0] : null;
            Add(plan, saved * factor, new PlannedRecommendation
            {
                Id = "cache-exact-repeats",
                Category = "caching",
                Title = top is null ? "Cache exact repeated prompts" : $"Cache exact repeated prompts of {top.Feature}",
                SavingsUsd = saved,
                Effort = "low", Risk = "low", Confidence = "high", Week = 1,
                Rationale = top is null ? string.Empty
                    : $"{Percent(top.Share)} of {top.Feature} calls repeat a prompt seen in the last {rep.TtlHours:0.##} h; {rep.RepeatCalls} repeated calls in all.",
                Steps =
                [
                    $"Key a response cache on (model, normalised prompt) with a {rep.TtlHours:0.##} h TTL in front of the provider call.",
                    "Skip the cache for prompts with user-specific or time-sensitive content.",
                    "Track the hit rate and the cost avoided per feature.",
                ],
            });
        }

        // 2. Failed calls.
        if (a.Waste is { } waste && include("fix-failed-calls"))
        {
            var saved = 0d;
            for (var i = 0; i < n; i++)
            {
                if ((rows.Flags[i] & UsageFlags.Error) != 0 && !double.IsNaN(remaining[i]))
                {
                    saved += remaining[i];
                    remaining[i] = 0;
                }
            }

            var top = waste.FailedByFeature.Count > 0 ? waste.FailedByFeature[0] : null;
            Add(plan, saved * factor, new PlannedRecommendation
            {
                Id = "fix-failed-calls",
                Category = "waste",
                Title = top is null ? "Stop paying for failed calls" : $"Stop paying for failed calls of {top.Feature}",
                SavingsUsd = saved,
                Effort = "medium", Risk = "low", Confidence = "medium", Week = 1,
                Rationale = waste.FailedCalls == 1 ? "1 call ended with status=error and was still billed." : $"{waste.FailedCalls} calls ended with status=error and were still billed.",
                Steps =
                [
                    "Group the failed calls by error type (timeouts, context length, invalid requests, rate limits).",
                    "Validate and trim inputs before the call; retry only retryable errors, with backoff and a limit.",
                    "Alert when a feature's error rate goes above 1%.",
                ],
            });
        }

        // 3. Model switches, one recommendation per (current model, cheaper model) pair across the
        // features that share it; groups are disjoint, so two passes cover them all.
        if (a.Models is { } models && a.ModelChoices.Count > 0)
        {
            var pairs = new List<(string From, ModelPrice To, List<ModelGroup> Groups)>();
            var pairOfGroup = new Dictionary<long, int>();
            foreach (var group in models.Groups.Where(g => g.Best is not null && a.ModelChoices.ContainsKey(g.Key)))
            {
                var target = a.ModelChoices[group.Key];
                var index = pairs.FindIndex(p => p.From == group.Model && ReferenceEquals(p.To, target));
                if (index < 0)
                {
                    pairs.Add((group.Model, target, []));
                    index = pairs.Count - 1;
                }

                pairs[index].Groups.Add(group);
                pairOfGroup[group.Key] = index;
            }

            var pairSaved = new double[pairs.Count];
            var rowPair = new int[n];
            for (var i = 0; i < n; i++)
            {
                if ((i & 0xFFFF) == 0)
                {
                    ct.ThrowIfCancellationRequested();
                }

                rowPair[i] = -1;
                if (double.IsNaN(remaining[i]) || remaining[i] <= 0 || (rows.Flags[i] & UsageFlags.CostOnly) != 0
                    || !pairOfGroup.TryGetValue(UsageAnalyzer.GroupKey(rows.Feature[i], rows.Model[i]), out var pair))
                {
                    continue;
                }

                rowPair[i] = pair;
                pairSaved[pair] += remaining[i] - pairs[pair].To.CostOf(rows.Input[i], rows.Cached[i], rows.CacheWrite[i],
                    a.Reasoning.BilledOutput(price[i], pairs[pair].To, rows.Output[i]), rows.Requests[i]);
            }

            var kept = new bool[pairs.Count];
            for (var p = 0; p < pairs.Count; p++)
            {
                kept[p] = pairSaved[p] * factor >= MinimumMonthlySavingsUsd && include(SwitchId(pairs[p].From, pairs[p].To));
            }

            for (var i = 0; i < n; i++)
            {
                var pair = rowPair[i];
                if (pair >= 0 && kept[pair])
                {
                    var target = pairs[pair].To;
                    remaining[i] = target.CostOf(rows.Input[i], rows.Cached[i], rows.CacheWrite[i], a.Reasoning.BilledOutput(price[i], target, rows.Output[i]), rows.Requests[i]);
                    price[i] = target;
                }
            }

            var switchIndex = 0;
            foreach (var p in Enumerable.Range(0, pairs.Count).Where(p => kept[p]).OrderByDescending(p => pairSaved[p]).ThenBy(p => pairs[p].From, StringComparer.Ordinal))
            {
                var (from, target, groups) = pairs[p];
                var features = groups.Select(g => g.Feature).Distinct().ToList();
                var featureText = features.Count <= 3 ? string.Join(", ", features) : $"{string.Join(", ", features.Take(3))} and {features.Count - 3} more features";
                var groupCost = groups.Sum(g => g.CostUsd);
                var groupSaving = groups.Sum(g => g.Best!.SavingsUsd);
                var tierDrop = groups[0].Best!.QualityChange < 0;
                switchIndex++;
                plan.Add(new PlannedRecommendation
                {
                    Id = SwitchId(from, target),
                    Category = "model",
                    Title = $"Move {featureText} from {from} to {target.Id}",
                    SavingsUsd = pairSaved[p],
                    Effort = "medium",
                    Risk = tierDrop ? "medium" : "low",
                    Confidence = "medium",
                    Week = switchIndex == 1 ? 2 : 3,
                    Rationale = $"{target.Id} is {(tierDrop ? "one quality tier below" : "in the same quality tier as")} {from} and prices the same tokens {Percent(groupSaving / Math.Max(groupCost, 1e-12))} lower"
                        + (ReasoningEstimate.AddsReasoning(t.Prices.FirstOrDefault(m => m?.Id == from), target)
                            ? $", counting its hidden reasoning output at {a.Reasoning.FactorText} x the visible output ({(a.Reasoning.Observed ? "measured in this data" : "assumed")})."
                            : "."),
                    Steps =
                    [
                        $"Run the evaluation set of {featureText} (or 100 logged requests) on {target.Id} and compare with {from}.",
                        $"Route 10% of that traffic to {target.Id} behind a flag and watch quality, latency and errors.",
                        "Ramp to 100% when the metrics hold; keep the old model as a fallback for a week.",
                    ],
                });
            }
        }

        // 4. max_tokens caps on output tails.
        if (a.Waste is { } tails && a.OutputCaps.Count > 0 && include("cap-output-tokens"))
        {
            var saved = 0d;
            for (var i = 0; i < n; i++)
            {
                if (double.IsNaN(remaining[i]) || remaining[i] <= 0 || price[i] is not { } p
                    || (rows.Flags[i] & UsageFlags.Aggregated) != 0
                    || !a.OutputCaps.TryGetValue(UsageAnalyzer.GroupKey(rows.Feature[i], rows.Model[i]), out var cap) || rows.Output[i] <= cap)
                {
                    continue;
                }

                var cut = Math.Min(remaining[i], (rows.Output[i] - cap) * (double)p.OutputPerMillion / 1_000_000d);
                saved += cut;
                remaining[i] -= cut;
            }

            var top = tails.OutputTails.OrderByDescending(x => x.SavingsUsd).First();
            Add(plan, saved * factor, new PlannedRecommendation
            {
                Id = "cap-output-tokens",
                Category = "waste",
                Title = $"Cap max_tokens where answers run long ({string.Join(", ", tails.OutputTails.Select(x => x.Feature).Distinct().Take(3))})",
                SavingsUsd = saved,
                Effort = "low", Risk = "medium", Confidence = "medium", Week = 3,
                Rationale = $"In {top.Feature} the p95 answer is {top.P95OutputTokens} tokens against a median of {top.MedianOutputTokens}; a cap at the p95 trims the runaway tail.",
                Steps =
                [
                    "Set max_tokens per feature at its p95 output length.",
                    "Ask for concise answers in the system prompt; check truncation rates after the change.",
                ],
            });
        }

        // 5. Prompt (prefix) caching.
        if (a.PrefixMarks is { } prefix && a.Caching is { } caching && include("enable-prompt-caching"))
        {
            var saved = 0d;
            for (var i = 0; i < n; i++)
            {
                if (!prefix[i] || double.IsNaN(remaining[i]) || remaining[i] <= 0 || price[i] is not { } p || p.CachedInputPerMillion >= p.InputPerMillion)
                {
                    continue;
                }

                var cut = Math.Min(remaining[i], a.PrefixTokens(rows, i) * (double)(p.InputPerMillion - p.CachedInputPerMillion) / 1_000_000d);
                saved += cut;
                remaining[i] -= cut;
            }

            var top = caching.ByFeature.Count > 0 ? caching.ByFeature[0] : null;
            Add(plan, saved * factor, new PlannedRecommendation
            {
                Id = "enable-prompt-caching",
                Category = "caching",
                Title = top is null ? "Use provider prompt caching for long prompts" : $"Use provider prompt caching for long prompts of {top.Feature}",
                SavingsUsd = saved,
                Effort = "low", Risk = "low", Confidence = "medium", Week = 3,
                Rationale = $"{caching.EligibleCalls} calls send at least 1,024 input tokens with almost none cached; a stable prefix is billed at the cached-input price.",
                Steps =
                [
                    "Put the stable part of the prompt (system prompt, tools, examples) first and the variable part last.",
                    "Enable prompt caching (automatic on OpenAI; cache_control breakpoints on Anthropic).",
                    "Check cached_input_tokens in the usage data after the change.",
                ],
            });
        }

        // 6. Batch API for traffic that need not be interactive.
        if (a.BatchMarks is { } batch && a.Batching is { } batching && include("use-batch-api"))
        {
            var saved = 0d;
            for (var i = 0; i < n; i++)
            {
                if (!batch[i] || double.IsNaN(remaining[i]) || remaining[i] <= 0 || price[i] is not { } p)
                {
                    continue;
                }

                var cut = remaining[i] * (double)p.BatchDiscount;
                saved += cut;
                remaining[i] -= cut;
            }

            var top = batching.ByFeature.Count > 0 ? batching.ByFeature[0] : null;
            Add(plan, saved * factor, new PlannedRecommendation
            {
                Id = "use-batch-api",
                Category = "batching",
                Title = top is null ? "Move non-interactive traffic to the batch API" : $"Move {top.Feature} to the batch API",
                SavingsUsd = saved,
                Effort = "medium", Risk = "low", Confidence = "high", Week = 4,
                Rationale = $"{batching.EligibleCalls} calls do not need an immediate answer ({top?.Reason ?? "not interactive"}); batch APIs bill them at a discount with results within 24 h.",
                Steps =
                [
                    "Collect the job's requests into a JSONL batch file instead of calling one by one.",
                    "Submit through the provider's batch API and poll for completion.",
                    "Keep the synchronous path as a fallback for urgent reruns.",
                ],
            });
        }

        return plan;
    }

    private static void Add(List<PlannedRecommendation> plan, double monthly, PlannedRecommendation recommendation)
    {
        if (monthly >= MinimumMonthlySavingsUsd)
        {
            plan.Add(recommendation);
        }
    }

    public static string SwitchId(string from, ModelPrice to) => $"switch-model-{Slug(from)}-to-{Slug(to.Id)}";

    public static string Percent(double share) => Math.Round(share * 100, 0, MidpointRounding.AwayFromZero).ToString("0", CultureInfo.InvariantCulture) + "%";

    public static string Slug(string value)
    {
        var chars = value.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray();
        return string.Join('-', new string(chars).Split('-', StringSplitOptions.RemoveEmptyEntries));
    }
}
