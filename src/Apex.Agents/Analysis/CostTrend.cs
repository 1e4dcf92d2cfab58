using System.Globalization;
using Apex.Agents.Catalog;

namespace Apex.Agents.Analysis;

/// <summary>One day (or hour) of a cost series: calls, cost, and the cost by model and by feature.</summary>
public sealed record TrendPoint
{
    /// <summary>yyyy-MM-dd for a day, yyyy-MM-ddTHH:00:00Z for an hour (UTC).</summary>
    public required string Date { get; init; }
    public required long Calls { get; init; }
    public required decimal CostUsd { get; init; }
    public required IReadOnlyDictionary<string, decimal> ByModel { get; init; }
    public required IReadOnlyDictionary<string, decimal> ByFeature { get; init; }
}

/// <summary>The <c>cost_trend</c> tool's result (contract D's <c>trend</c> plus totals).</summary>
public sealed record TrendResult
{
    public required string Granularity { get; init; }
    public required string Scope { get; init; }

    /// <summary>The feature or model; null (written as null, contract D) for all traffic.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.Never)]
    public string? Name { get; init; }
    public string? From { get; init; }
    public string? To { get; init; }
    public required IReadOnlyList<TrendPoint> Points { get; init; }
    public required long TotalCalls { get; init; }
    public required decimal TotalCostUsd { get; init; }

    /// <summary>The costliest point; null when there are none.</summary>
    public TrendPoint? Peak { get; init; }

    /// <summary>A name the question asked about that the data does not have (the series is then all traffic).</summary>
    public string? UnmatchedName { get; init; }

    /// <summary>The data's features, named in the answer beside <see cref="UnmatchedName"/>.</summary>
    public IReadOnlyList<string>? KnownFeatures { get; init; }
}

/// <summary>
/// Cost series over the dataset's own days or hours (not scaled to a month): the report's
/// <c>cost_analysis.daily</c> and the <c>cost_trend</c> tool. Money per point is rounded to cents;
/// rows of unknown cost count as calls only.
/// </summary>
public static class CostTrend
{
    public static List<TrendPoint> Points(UsageTable t, PriceCatalog catalog, bool hourly, string? feature, string? model, string? from, string? to, CancellationToken ct)
    {
        var rows = t.Rows;
        var strings = rows.Strings;
        var (featureOk, modelOk) = RowFilter.NameMasks(strings, catalog, feature, model);

        var first = RowFilter.Day(from) ?? long.MinValue;
        var last = RowFilter.Day(to) ?? long.MaxValue;
        var unit = hourly ? 3_600_000L : 86_400_000L;
        var buckets = new SortedDictionary<long, Bucket>();
        for (var i = 0; i < rows.Count; i++)
        {
            if ((i & 0xFFFF) == 0)
            {
                ct.ThrowIfCancellationRequested();
            }

            var day = rows.Timestamp[i] / 86_400_000;
            if (!featureOk[rows.Feature[i]] || !modelOk[rows.Model[i]] || day < first || day > last)
            {
                continue;
            }

            var key = rows.Timestamp[i] / unit;
            if (!buckets.TryGetValue(key, out var b))
            {
                b = buckets[key] = new Bucket(strings.Count);
            }

            b.Calls += rows.Requests[i];
            var cost = rows.Cost[i];
            if (!double.IsNaN(cost))
            {
                b.Cost += cost;
                b.Model[rows.Model[i]] += cost;
                b.Feature[rows.Feature[i]] += cost;
                b.ModelSeen[rows.Model[i]] = true;
                b.FeatureSeen[rows.Feature[i]] = true;
            }
        }

        return [.. buckets.Select(kv => new TrendPoint
        {
            Date = hourly
                ? DateTime.UnixEpoch.AddHours(kv.Key).ToString("yyyy-MM-dd'T'HH':00:00Z'", CultureInfo.InvariantCulture)
                : RowFilter.DayText(kv.Key),
            Calls = kv.Value.Calls,
            CostUsd = Money.Cents(kv.Value.Cost),
            ByModel = Split(kv.Value.Model, kv.Value.ModelSeen, s => strings[s]),
            ByFeature = Split(kv.Value.Feature, kv.Value.FeatureSeen, s => s == 0 ? "(none)" : strings[s]),
        })];
    }

    public static TrendResult Trend(UsageTable t, PriceCatalog catalog, bool hourly, string? feature, string? model, string? from, string? to, CancellationToken ct)
    {
        var points = Points(t, catalog, hourly, feature, model, from, to, ct);
        return new TrendResult
        {
            Granularity = hourly ? "hour" : "day",
            Scope = feature is not null ? "feature" : model is not null ? "model" : "all",
            Name = feature ?? model,
            From = from,
            To = to,
            Points = points,
            TotalCalls = points.Sum(p => p.Calls),
            TotalCostUsd = points.Sum(p => p.CostUsd),
            Peak = points.Count == 0 ? null : points.MaxBy(p => p.CostUsd),
        };
    }

    private static Dictionary<string, decimal> Split(double[] cost, bool[] seen, Func<int, string> name)
    {
        var result = new SortedDictionary<string, decimal>(StringComparer.Ordinal);
        for (var s = 0; s < cost.Length; s++)
        {
            if (seen[s])
            {
                var key = name(s);
                result[key] = result.GetValueOrDefault(key) + Money.Cents(cost[s]);
            }
        }

        return new Dictionary<string, decimal>(result);
    }

    private sealed class Bucket(int strings)
    {
        public long Calls;
        public double Cost;
        public double[] Model { get; } = new double[strings];
        public double[] Feature { get; } = new double[strings];
        public bool[] ModelSeen { get; } = new bool[strings];
        public bool[] FeatureSeen { get; } = new bool[strings];
    }
}
