using System.Globalization;
using System.Text.RegularExpressions;
using Apex.Agents.Catalog;
using Apex.Agents.Data;

namespace Apex.Agents.Analysis;

/// <summary>Thresholds of the tools (section <c>Agent:Analysis</c>); defaults are the spec's.</summary>
public sealed class AnalysisOptions
{
    /// <summary>A call repeats when its (model, prompt) was seen this many hours earlier or less.</summary>
    public double CacheTtlHours { get; set; } = 24;

    /// <summary>Prompt caching needs a prefix of at least this many input tokens (OpenAI and Anthropic minimum).</summary>
    public int PromptCacheMinInputTokens { get; set; } = 1024;

    /// <summary>Calls whose cached_input_tokens are below this share of the input count as "few cached".</summary>
    public double PromptCacheMaxCachedShare { get; set; } = 0.25;

    /// <summary>
    /// Share of a long prompt's uncached input assumed to be a stable prefix (system prompt, tools,
    /// instructions). Usage exports do not carry prompt structure, so this is stated as an assumption.
    /// </summary>
    public double PromptCachePrefixShare { get; set; } = 0.5;

    /// <summary>A (feature, model) group needs this many long calls for its prefix to count as repeated.</summary>
    public int PromptCacheMinCalls { get; set; } = 2;

    /// <summary>Output tails are judged on groups of at least this many calls.</summary>
    public int TailMinCalls { get; set; } = 10;

    /// <summary>An output tail is "far above" the median when p95 is at least this multiple of it.</summary>
    public double TailRatio { get; set; } = 3;

    /// <summary>Reasoning tokens per visible output token assumed for a reasoning model when the data carries none.</summary>
    public double ReasoningOutputFactor { get; set; } = 2;
}

/// <summary>
/// The computations behind the tools, over one dataset. Each method is one pass (or one pass plus a
/// sort of a group's values) over the columns, checks cancellation every 64k rows, and leaves per-row
/// marks that <see cref="SavingsPlanner"/> combines without double counting.
/// </summary>
public sealed partial class UsageAnalyzer
{
    private const int CancelCheckMask = 0xFFFF;
    private readonly UsageTable _t;
    private readonly PriceCatalog _catalog;
    private readonly AnalysisOptions _options;

    public UsageAnalyzer(UsageTable table, PriceCatalog catalog, AnalysisOptions options)
    {
        _t = table;
        _catalog = catalog;
        _options = options;
    }

    public UsageTable Table => _t;

    public UsageSummary? Summary { get; private set; }
    public RepeatsResult? Repeats { get; private set; }
    public ModelsResult? Models { get; private set; }
    public BatchingResult? Batching { get; private set; }
    public CachingResult? Caching { get; private set; }
    public WasteResult? Waste { get; private set; }

    /// <summary>Rows that repeat an earlier (model, prompt) within the TTL.</summary>
    public bool[]? RepeatMarks { get; private set; }
    public bool[]? BatchMarks { get; private set; }
    public bool[]? PrefixMarks { get; private set; }

    /// <summary>Chosen cheaper model per (feature, model) group key.</summary>
    public Dictionary<long, ModelPrice> ModelChoices { get; } = [];

    /// <summary>max_tokens cap per (feature, model) group key.</summary>
    public Dictionary<long, int> OutputCaps { get; } = [];

    public static long GroupKey(int feature, int model) => ((long)feature << 32) | (uint)model;

    private int[]? _rowGroup;
    private long[]? _groupKeys;

    /// <summary>
    /// A dense index of each row's (feature, model) group, built once and shared by the tools: a small
    /// table lookup per row instead of a dictionary lookup per row in each of them.
    /// </summary>
    private (int[] RowGroup, long[] Keys) Groups(CancellationToken ct)
    {
        if (_rowGroup is not null)
        {
            return (_rowGroup, _groupKeys!);
        }

        var rows = _t.Rows;
        var n = rows.Count;
        var strings = rows.Strings.Count;
        var rowGroup = new int[n];
        var keys = new List<long>();
        if ((long)strings * strings <= 1 << 20)
        {
            var table = new int[strings * strings];
            Array.Fill(table, -1);
            for (var i = 0; i < n; i++)
            {
                if ((i & CancelCheckMask) == 0)
                {
                    ct.ThrowIfCancellationRequested();
                }

                var cell = rows.Feature[i] * strings + rows.Model[i];
                var g = table[cell];
                if (g < 0)
                {
                    g = table[cell] = keys.Count;
                    keys.Add(GroupKey(rows.Feature[i], rows.Model[i]));
                }

                rowGroup[i] = g;
            }
        }
        else
        {
            var map = new Dictionary<long, int>();
            for (var i = 0; i < n; i++)
            {
                if ((i & CancelCheckMask) == 0)
                {
                    ct.ThrowIfCancellationRequested();
                }

                var key = GroupKey(rows.Feature[i], rows.Model[i]);
                if (!map.TryGetValue(key, out var g))
                {
                    g = map[key] = keys.Count;
                    keys.Add(key);
                }

                rowGroup[i] = g;
            }
        }

        _groupKeys = [.. keys];
        _rowGroup = rowGroup;
        return (rowGroup, _groupKeys);
    }

    public UsageSummary Summarize(CancellationToken ct)
    {
        var rows = _t.Rows;
        var n = rows.Count;
        var strings = rows.Strings.Count;
        var model = new GroupAccumulator[strings];
        var feature = new GroupAccumulator[strings];
        var all = new GroupAccumulator();
        // Days index an array: a dictionary lookup per row would cost more than the rest of the pass.
        var firstDay = n == 0 ? 0 : _t.StartMs / 86_400_000;
        var dailyCalls = new int[Math.Max(1, _t.PeriodDays)];
        var dailyCost = new double[dailyCalls.Length];
        var aggregatedRows = 0;
        long aggregatedCalls = 0;
        for (var i = 0; i < n; i++)
        {
            if ((i & CancelCheckMask) == 0)
            {
                ct.ThrowIfCancellationRequested();
            }

            model[rows.Model[i]].Add(rows, i);
            feature[rows.Feature[i]].Add(rows, i);
            all.Add(rows, i);
            var day = (int)(rows.Timestamp[i] / 86_400_000 - firstDay);
            dailyCalls[day] += rows.Requests[i];
            if ((rows.Flags[i] & UsageFlags.Aggregated) != 0)
            {
                aggregatedRows++;
                aggregatedCalls += rows.Requests[i];
            }
            var cost = rows.Cost[i];
            if (!double.IsNaN(cost))
            {
                dailyCost[day] += cost;
            }
        }

        // Latency percentiles of successful per-call rows: each group's values laid out in one array,
        // sorted segment by segment. Failed calls (a timeout at 30 s) are reported apart.
        var byModel = SortedLatencies(rows, rows.Model, model, failed: false, ct);
        var byFeature = SortedLatencies(rows, rows.Feature, feature, failed: false, ct);
        var allLatencies = SortedLatencies(rows, null, null, failed: false, ct);
        var failedLatencies = SortedLatencies(rows, null, null, failed: true, ct);

        var total = all.Cost;
        var factor = _t.MonthlyFactor;
        List<GroupSummary> Groups(GroupAccumulator[] groups, int[][] latencies, bool byFeatureName) =>
            [.. Enumerable.Range(0, strings).Where(s => groups[s].Calls > 0)
                .Select(s => groups[s].ToSummary(byFeatureName && s == 0 ? "(none)" : _t.Text(s), total, factor, latencies[s]))
                .OrderByDescending(g => g.CostUsd).ThenBy(g => g.Name, StringComparer.Ordinal)];

        Summary = new UsageSummary
        {
            Source = "dataset",
            PeriodStart = n == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(_t.StartMs),
            PeriodEnd = n == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds(_t.EndMs),
            PeriodDays = _t.PeriodDays,
            Calls = all.Calls,
            Rows = n,
            AggregatedCalls = aggregatedCalls,
            PerCallStatistics = aggregatedRows == n && n > 0
                ? "unavailable: every row is an aggregated bucket (a request count, not single calls), so latency percentiles, repeats and output tails cannot be measured"
                : aggregatedRows > 0 ? $"partial: {aggregatedCalls:N0} calls come in aggregated buckets and are left out of latency percentiles, repeats and output tails" : "available",
            UnpricedCalls = all.Unpriced,
            CostUsd = total,
            MonthlyCostUsd = total * factor,
            InputTokens = all.Input,
            OutputTokens = all.Output,
            CachedInputTokens = all.CacheRead,
            CacheWriteTokens = all.CacheWrite,
            ReasoningTokens = all.Reasoning,
            FailedCalls = all.Errors,
            ErrorRate = all.Calls == 0 ? 0 : (double)all.Errors / all.Calls,
            P50LatencyMs = PercentileOfSorted(allLatencies[0], 0.50),
            P95LatencyMs = PercentileOfSorted(allLatencies[0], 0.95),
            FailedP95LatencyMs = PercentileOfSorted(failedLatencies[0], 0.95),
            ByModel = Groups(model, byModel, byFeatureName: false),
            ByFeature = Groups(feature, byFeature, byFeatureName: true),
            Daily = [.. Enumerable.Range(0, n == 0 ? 0 : dailyCalls.Length).Where(d => dailyCalls[d] > 0).Select(d => new DailyTrend(
                DateOnly.FromDateTime(DateTime.UnixEpoch.AddDays(firstDay + d)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), dailyCalls[d], dailyCost[d]))],
        };
        return Summary;
    }

    /// <summary>
    /// Each group's known per-call latencies of successful (or, with <paramref name="failed"/>, failed)
    /// calls, sorted (one group, index 0, when <paramref name="groupOf"/> is null).
    /// </summary>
    private static int[][] SortedLatencies(UsageColumns rows, int[]? groupOf, GroupAccumulator[]? groups, bool failed, CancellationToken ct)
    {
        var count = groups?.Length ?? 1;
        var sizes = new int[count];
        var wanted = failed ? UsageFlags.Error : (byte)0;
        for (var i = 0; i < rows.Count; i++)
        {
            if (rows.Latency[i] >= 0 && (rows.Flags[i] & (UsageFlags.Error | UsageFlags.Aggregated)) == wanted)
            {
                sizes[groupOf is null ? 0 : groupOf[i]]++;
            }
        }

        var result = new int[count][];
        for (var g = 0; g < count; g++)
        {
            result[g] = sizes[g] == 0 ? [] : new int[sizes[g]];
        }

        var fill = new int[count];
        for (var i = 0; i < rows.Count; i++)
        {
            var latency = rows.Latency[i];
            if (latency >= 0 && (rows.Flags[i] & (UsageFlags.Error | UsageFlags.Aggregated)) == wanted)
            {
                var g = groupOf is null ? 0 : groupOf[i];
                result[g][fill[g]++] = latency;
            }
        }

        ct.ThrowIfCancellationRequested();
        int[]? scratch = null;
        foreach (var values in result)
        {
            RadixSort(values, ref scratch);
            ct.ThrowIfCancellationRequested();
        }

        return result;
    }

    /// <summary>LSD radix sort of non-negative ints, 11 bits a pass: several times faster than a comparison sort on a million latencies.</summary>
    private static void RadixSort(int[] values, ref int[]? scratch)
    {
        if (values.Length < 256)
        {
            Array.Sort(values);
            return;
        }

        if (scratch is null || scratch.Length < values.Length)
        {
            scratch = new int[values.Length];
        }

        var source = values;
        var target = scratch;
        Span<int> counts = stackalloc int[2048];
        for (var shift = 0; shift < 33; shift += 11)
        {
            counts.Clear();
            for (var i = 0; i < values.Length; i++)
            {
                counts[(source[i] >> shift) & 2047]++;
            }

            if (counts[0] == values.Length)
            {
                continue;
            }

            var sum = 0;
            for (var b = 0; b < 2048; b++)
            {
                var c = counts[b];
                counts[b] = sum;
                sum += c;
            }

            for (var i = 0; i < values.Length; i++)
            {
                var v = source[i];
                target[counts[(v >> shift) & 2047]++] = v;
            }

            (source, target) = (target, source);
        }

        if (!ReferenceEquals(source, values))
        {
            Array.Copy(source, values, values.Length);
        }
    }

    private static int? PercentileOfSorted(int[] sorted, double p)
    {
        if (sorted.Length == 0)
        {
            return null;
        }

        var rank = (int)Math.Ceiling(p * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    /// <summary>
    /// Exact repeats: a call whose (model, prompt) was last seen at most the TTL earlier. Walking in
    /// time order and keeping only each key's last time is enough: if the latest earlier call is
    /// outside the TTL, every earlier one is too.
    /// </summary>
    public RepeatsResult FindRepeats(double? ttlHours, CancellationToken ct)
    {
        var ttl = ttlHours is > 0 ? ttlHours.Value : _options.CacheTtlHours;
        var ttlMs = (long)(ttl * 3_600_000);
        var rows = _t.Rows;
        var n = rows.Count;
        var marks = new bool[n];
        // One 64-bit key per (model, prompt): the prompt hash mixed with the model index. Presized, so a
        // million distinct prompts never rehash.
        var last = new Dictionary<ulong, long>(n);
        var order = _t.ChronologicalOrder;
        var withPrompt = 0;
        var repeats = 0;
        var cost = 0d;
        var featureCalls = new int[rows.Strings.Count];
        var featureRepeats = new int[rows.Strings.Count];
        var featureCost = new double[rows.Strings.Count];
        for (var k = 0; k < n; k++)
        {
            if ((k & CancelCheckMask) == 0)
            {
                ct.ThrowIfCancellationRequested();
            }

            var i = order is null ? k : order[k];
            featureCalls[rows.Feature[i]] += rows.Requests[i];
            var prompt = rows.Prompt[i];
            if (prompt == 0 || (rows.Flags[i] & UsageFlags.Aggregated) != 0)
            {
                continue;
            }

            withPrompt++;
            var key = prompt ^ ((ulong)(uint)rows.Model[i] * 0x9E3779B97F4A7C15UL);
            var ts = rows.Timestamp[i];
            ref var previous = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(last, key, out var seen);
            if (seen && ts - previous <= ttlMs)
            {
                marks[i] = true;
                repeats++;
                featureRepeats[rows.Feature[i]]++;
                var c = rows.Cost[i];
                if (!double.IsNaN(c))
                {
                    cost += c;
                    featureCost[rows.Feature[i]] += c;
                }
            }

            previous = ts;
        }

        RepeatMarks = marks;
        Repeats = new RepeatsResult
        {
            TtlHours = ttl,
            CallsWithPrompt = withPrompt,
            RepeatCalls = repeats,
            RepeatCostUsd = cost,
            MonthlySavingsUsd = cost * _t.MonthlyFactor,
            ByFeature = [.. Enumerable.Range(0, rows.Strings.Count).Where(f => featureRepeats[f] > 0)
                .Select(f => new FeatureRepeats(FeatureName(f), featureCalls[f], featureRepeats[f], (double)featureRepeats[f] / featureCalls[f], featureCost[f]))
                .OrderByDescending(f => f.CostUsd).ThenBy(f => f.Feature, StringComparer.Ordinal)],
            Note = withPrompt == 0 ? "The dataset has no prompt_hash or prompt column: repeats cannot be detected." : null,
        };
        return Repeats;
    }

    /// <summary>
    /// For each (feature, model) group: catalog models that price the group's same tokens lower, of
    /// the same quality tier or (when <paramref name="allowTierDrop"/>) one tier smaller, with a
    /// context window large enough for the group's largest call; the same provider is preferred.
    /// </summary>
    public ModelsResult RecommendModels(bool allowTierDrop, CancellationToken ct)
    {
        var rows = _t.Rows;
        var (rowGroup, keys) = Groups(ct);
        var accumulators = new ModelGroupAccumulator[keys.Length];
        for (var i = 0; i < rows.Count; i++)
        {
            if ((i & CancelCheckMask) == 0)
            {
                ct.ThrowIfCancellationRequested();
            }

            // Cost-only lines carry no tokens: pricing them at another model would read as a saving.
            if ((rows.Flags[i] & UsageFlags.CostOnly) != 0)
            {
                continue;
            }

            ref var g = ref accumulators[rowGroup[i]];
            var requests = rows.Requests[i];
            g.Calls += requests;
            var cost = rows.Cost[i];
            if (double.IsNaN(cost))
            {
                continue;
            }

            g.Priced += requests;
            g.Cost += cost;
            g.Input += rows.Input[i];
            g.Cached += rows.Cached[i];
            g.CacheWrite += rows.CacheWrite[i];
            g.Output += rows.Output[i];
            g.Reasoning += rows.Reasoning[i];
            // An aggregated row's largest call is unknown: its mean call stands in for it.
            g.MaxContext = Math.Max(g.MaxContext, ((long)rows.Input[i] + rows.Output[i]) / Math.Max(1, requests));
        }

        var groups = Enumerable.Range(0, keys.Length).ToDictionary(g => keys[g], g => accumulators[g]);
        ModelChoices.Clear();
        var result = new List<ModelGroup>();
        foreach (var (key, g) in groups.OrderByDescending(kv => kv.Value.Cost).ThenBy(kv => kv.Key))
        {
            var featureIndex = (int)(key >> 32);
            var modelIndex = (int)(key & 0xFFFFFFFF);
            var current = _t.Prices[modelIndex];
            var featureName = FeatureName(featureIndex);
            if (current is null)
            {
                result.Add(new ModelGroup
                {
                    Key = key, Feature = featureName, Model = _t.Text(modelIndex), Calls = g.Calls, CostUsd = g.Cost,
                    MonthlyCostUsd = g.Cost * _t.MonthlyFactor, Candidates = [],
                    Note = "Model not in the price catalog: its quality tier is unknown, so no switch is suggested.",
                });
                continue;
            }

            var candidates = Candidates(current, g, allowTierDrop);
            var best = candidates.Where(c => c.QualityChange == 0).MinBy(c => c.CostUsd) ?? candidates.Where(c => c.QualityChange < 0).MinBy(c => c.CostUsd);
            if (best is not null)
            {
                ModelChoices[key] = _catalog.Find(best.Model)!;
            }

            result.Add(new ModelGroup
            {
                Key = key, Feature = featureName, Model = current.Id, Calls = g.Calls, CostUsd = g.Cost, MonthlyCostUsd = g.Cost * _t.MonthlyFactor,
                QualityTier = current.QualityTier, Candidates = candidates, Best = best,
            });
        }

        Models = new ModelsResult
        {
            Source = "dataset",
            Groups = result,
            MonthlySavingsUsd = result.Sum(r => r.Best?.MonthlySavingsUsd ?? 0),
        };
        return Models;
    }

    private List<CandidateModel> Candidates(ModelPrice current, ModelGroupAccumulator g, bool allowTierDrop)
    {
        if (current.QualityTier == 0)
        {
            // Priced, but of unknown quality (not in the catalog's overlay): no switch can keep quality.
            return [];
        }

        var minTier = allowTierDrop ? current.QualityTier - 1 : current.QualityTier;
        var eligible = _catalog.Models
            .Where(m => !ReferenceEquals(m, current) && m.QualityTier >= minTier && m.ContextWindow >= g.MaxContext)
            .Select(m => (Model: m, Cost: m.CostOf(g.Input, g.Cached, g.CacheWrite, BilledOutput(current, m, g.Output), Math.Max(1, g.Priced))))
            .Where(m => m.Cost < g.Cost)
            .ToList();
        var sameProvider = eligible.Where(m => string.Equals(m.Model.Provider, current.Provider, StringComparison.OrdinalIgnoreCase)).ToList();
        var chosen = sameProvider.Count > 0 ? sameProvider : eligible;
        return [.. chosen.OrderBy(m => m.Cost).ThenBy(m => m.Model.Id, StringComparer.Ordinal).Take(5).Select(m => new CandidateModel
        {
            Model = m.Model.Id,
            Provider = m.Model.Provider,
            QualityTier = m.Model.QualityTier,
            QualityChange = Math.Min(0, m.Model.QualityTier - current.QualityTier),
            CostUsd = m.Cost,
            SavingsUsd = g.Cost - m.Cost,
            MonthlySavingsUsd = (g.Cost - m.Cost) * _t.MonthlyFactor,
        })];
    }

    /// <summary>Traffic that need not be interactive: <c>interactive=false</c>, or a feature named like a batch job.</summary>
    public BatchingResult EstimateBatching(CancellationToken ct)
    {
        var rows = _t.Rows;
        var marks = new bool[rows.Count];
        var batchLikeFeature = rows.Strings.Select(s => s.Length > 0 && BatchFeature().IsMatch(s)).ToArray();
        var calls = new int[rows.Strings.Count];
        var costs = new double[rows.Strings.Count];
        var byName = new bool[rows.Strings.Count];
        var eligible = 0;
        double eligibleCost = 0, savings = 0;
        for (var i = 0; i < rows.Count; i++)
        {
            if ((i & CancelCheckMask) == 0)
            {
                ct.ThrowIfCancellationRequested();
            }

            var flags = rows.Flags[i];
            if ((flags & UsageFlags.CostOnly) != 0)
            {
                continue;
            }

            var known = (flags & UsageFlags.InteractiveKnown) != 0;
            var f = rows.Feature[i];
            var isBatch = known ? (flags & UsageFlags.Interactive) == 0 : batchLikeFeature[f];
            if (!isBatch)
            {
                continue;
            }

            marks[i] = true;
            eligible += rows.Requests[i];
            calls[f] += rows.Requests[i];
            if (!known)
            {
                byName[f] = true;
            }

            var cost = rows.Cost[i];
            if (double.IsNaN(cost))
            {
                continue;
            }

            eligibleCost += cost;
            costs[f] += cost;
            savings += cost * (double)(_t.Prices[rows.Model[i]]?.BatchDiscount ?? 0);
        }

        BatchMarks = marks;
        Batching = new BatchingResult
        {
            EligibleCalls = eligible,
            EligibleCostUsd = eligibleCost,
            SavingsUsd = savings,
            MonthlySavingsUsd = savings * _t.MonthlyFactor,
            ByFeature = [.. Enumerable.Range(0, calls.Length).Where(f => calls[f] > 0)
                .Select(f => new FeatureAmount(FeatureName(f), calls[f], costs[f], byName[f] ? "feature name suggests a batch job" : "interactive=false"))
                .OrderByDescending(f => f.CostUsd).ThenBy(f => f.Feature, StringComparer.Ordinal)],
        };
        return Batching;
    }

    /// <summary>
    /// Long prompts (≥ 1,024 input tokens) with few cached tokens, in (feature, model) groups with at
    /// least two of them: their assumed stable prefix billed at the cached-input price instead.
    /// </summary>
    public CachingResult EstimatePromptCaching(CancellationToken ct)
    {
        var rows = _t.Rows;
        var o = _options;
        var candidate = new bool[rows.Count];
        var (rowGroup, keys) = Groups(ct);
        var groupCounts = new int[keys.Length];
        for (var i = 0; i < rows.Count; i++)
        {
            if ((i & CancelCheckMask) == 0)
            {
                ct.ThrowIfCancellationRequested();
            }

            var price = _t.Prices[rows.Model[i]];
            // Aggregated rows are judged by their mean call; tokens already read from or written to the
            // cache count as cached.
            if (price is null || price.CachedInputPerMillion >= price.InputPerMillion || double.IsNaN(rows.Cost[i])
                || (rows.Flags[i] & UsageFlags.CostOnly) != 0
                || rows.Input[i] / rows.Requests[i] < o.PromptCacheMinInputTokens
                || (long)rows.Cached[i] + rows.CacheWrite[i] >= rows.Input[i] * o.PromptCacheMaxCachedShare)
            {
                continue;
            }

            candidate[i] = true;
            groupCounts[rowGroup[i]] += rows.Requests[i];
        }

        var calls = new int[rows.Strings.Count];
        var savingsByFeature = new double[rows.Strings.Count];
        var eligible = 0;
        long tokens = 0;
        double savings = 0;
        for (var i = 0; i < rows.Count; i++)
        {
            if (!candidate[i] || groupCounts[rowGroup[i]] < o.PromptCacheMinCalls)
            {
                candidate[i] = false;
                continue;
            }

            var price = _t.Prices[rows.Model[i]]!;
            var prefix = PrefixTokens(rows, i);
            var saving = prefix * (double)(price.InputPerMillion - price.CachedInputPerMillion) / 1_000_000d;
            eligible += rows.Requests[i];
            tokens += (long)prefix;
            savings += saving;
            calls[rows.Feature[i]] += rows.Requests[i];
            savingsByFeature[rows.Feature[i]] += saving;
        }

        PrefixMarks = candidate;
        Caching = new CachingResult
        {
            EligibleCalls = eligible,
            PrefixShare = o.PromptCachePrefixShare,
            CacheableTokens = tokens,
            SavingsUsd = savings,
            MonthlySavingsUsd = savings * _t.MonthlyFactor,
            ByFeature = [.. Enumerable.Range(0, calls.Length).Where(f => calls[f] > 0)
                .Select(f => new FeatureAmount(FeatureName(f), calls[f], savingsByFeature[f], "long prompts with few cached tokens"))
                .OrderByDescending(f => f.CostUsd).ThenBy(f => f.Feature, StringComparer.Ordinal)],
        };
        return Caching;
    }

    /// <summary>Tokens of a long call assumed to be its stable prefix.</summary>
    public double PrefixTokens(UsageColumns rows, int i) => ((long)rows.Input[i] - rows.Cached[i] - rows.CacheWrite[i]) * _options.PromptCachePrefixShare;

    /// <summary>
    /// Failed calls (status=error) and output tails: in (feature, model) groups whose p95 output is
    /// far above the median, a max_tokens cap at the p95 trims the runaway answers above it.
    /// </summary>
    public WasteResult FindWaste(CancellationToken ct)
    {
        var rows = _t.Rows;
        var failedCalls = 0;
        var failedCost = 0d;
        var featureCalls = new int[rows.Strings.Count];
        var featureCost = new double[rows.Strings.Count];
        var (rowGroup, keys) = Groups(ct);
        var sizes = new int[keys.Length];
        for (var i = 0; i < rows.Count; i++)
        {
            if ((i & CancelCheckMask) == 0)
            {
                ct.ThrowIfCancellationRequested();
            }

            if ((rows.Flags[i] & UsageFlags.Aggregated) == 0)
            {
                sizes[rowGroup[i]]++;
            }

            if ((rows.Flags[i] & UsageFlags.Error) == 0)
            {
                continue;
            }

            failedCalls += rows.Requests[i];
            featureCalls[rows.Feature[i]] += rows.Requests[i];
            var cost = rows.Cost[i];
            if (!double.IsNaN(cost))
            {
                failedCost += cost;
                featureCost[rows.Feature[i]] += cost;
            }
        }

        // Each group's output lengths, laid out per group and sorted, for the median and p95.
        var outputs = new int[keys.Length][];
        for (var g = 0; g < keys.Length; g++)
        {
            outputs[g] = new int[sizes[g]];
        }

        var fill = new int[keys.Length];
        for (var i = 0; i < rows.Count; i++)
        {
            if ((rows.Flags[i] & UsageFlags.Aggregated) == 0)
            {
                var g = rowGroup[i];
                outputs[g][fill[g]++] = rows.Output[i];
            }
        }

        OutputCaps.Clear();
        var tails = new List<TailGroup>();
        int[]? scratch = null;
        foreach (var g in Enumerable.Range(0, keys.Length).OrderBy(g => keys[g]))
        {
            ct.ThrowIfCancellationRequested();
            var key = keys[g];
            var values = outputs[g];
            var price = _t.Prices[(int)(key & 0xFFFFFFFF)];
            if (values.Length < _options.TailMinCalls || price is null)
            {
                continue;
            }

            RadixSort(values, ref scratch);
            var median = PercentileOfSorted(values, 0.5)!.Value;
            var p95 = PercentileOfSorted(values, 0.95)!.Value;
            if (median <= 0 || p95 < median * _options.TailRatio)
            {
                continue;
            }

            OutputCaps[key] = p95;
            long trimmed = 0;
            for (var k = values.Length - 1; k >= 0 && values[k] > p95; k--)
            {
                trimmed += values[k] - p95;
            }

            tails.Add(new TailGroup(FeatureName((int)(key >> 32)), price.Id, values.Length, median, p95, p95, trimmed,
                trimmed * (double)price.OutputPerMillion / 1_000_000d));
        }

        Waste = new WasteResult
        {
            FailedCalls = failedCalls,
            FailedCostUsd = failedCost,
            FailedMonthlyUsd = failedCost * _t.MonthlyFactor,
            FailedByFeature = [.. Enumerable.Range(0, featureCalls.Length).Where(f => featureCalls[f] > 0)
                .Select(f => new FeatureAmount(FeatureName(f), featureCalls[f], featureCost[f], "status=error"))
                .OrderByDescending(f => f.CostUsd).ThenBy(f => f.Feature, StringComparer.Ordinal)],
            OutputTails = tails,
            TailSavingsUsd = tails.Sum(t => t.SavingsUsd),
            TailMonthlySavingsUsd = tails.Sum(t => t.SavingsUsd) * _t.MonthlyFactor,
        };
        return Waste;
    }

    public string FeatureName(int index) => index == 0 ? "(none)" : _t.Text(index);

    /// <summary>Nearest-rank percentile: the smallest value with at least p of the values at or below it.</summary>
    public static int? Percentile(List<int> values, double p, bool sorted = false)
    {
        if (values.Count == 0)
        {
            return null;
        }

        if (!sorted)
        {
            values.Sort();
        }

        var rank = (int)Math.Ceiling(p * values.Count);
        return values[Math.Clamp(rank - 1, 0, values.Count - 1)];
    }

    [GeneratedRegex(@"batch|report|nightly|digest|backfill|offline|cron|etl|export|bulk|(^|[-_ ])jobs?($|[-_ ])", RegexOptions.IgnoreCase)]
    private static partial Regex BatchFeature();

    private struct ModelGroupAccumulator
    {
        public int Calls;
        public int Priced;
        public double Cost;
        public long Input;
        public long Cached;
        public long CacheWrite;
        public long Output;
        public long Reasoning;
        public long MaxContext;
    }

    private struct GroupAccumulator
    {
        public int Calls;
        public int Errors;
        public int Unpriced;
        public long Input;
        public long Output;
        public long CacheRead;
        public long CacheWrite;
        public long Reasoning;
        public double Cost;

        public void Add(UsageColumns rows, int i)
        {
            var requests = rows.Requests[i];
            Calls += requests;
            Input += rows.Input[i];
            Output += rows.Output[i];
            CacheRead += rows.Cached[i];
            CacheWrite += rows.CacheWrite[i];
            Reasoning += rows.Reasoning[i];
            if ((rows.Flags[i] & UsageFlags.Error) != 0)
            {
                Errors += requests;
            }

            var cost = rows.Cost[i];
            if (double.IsNaN(cost))
            {
                Unpriced += requests;
            }
            else
            {
                Cost += cost;
            }
        }

        public readonly GroupSummary ToSummary(string name, double total, double factor, int[] sortedLatencies) => new()
        {
            Name = name,
            Calls = Calls,
            InputTokens = Input,
            OutputTokens = Output,
            CachedInputTokens = CacheRead,
            CacheWriteTokens = CacheWrite,
            ReasoningTokens = Reasoning,
            FailedCalls = Errors,
            CostUsd = Cost,
            MonthlyCostUsd = Cost * factor,
            Share = total > 0 ? Cost / total : 0,
            P50LatencyMs = PercentileOfSorted(sortedLatencies, 0.50),
            P95LatencyMs = PercentileOfSorted(sortedLatencies, 0.95),
            ErrorRate = Calls == 0 ? 0 : (double)Errors / Calls,
            UnpricedCalls = Unpriced,
        };
    }
}
