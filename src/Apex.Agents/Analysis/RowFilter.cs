using System.Globalization;
using Apex.Agents.Catalog;
using Apex.Agents.Data;

namespace Apex.Agents.Analysis;

/// <summary>
/// Which rows a follow-up keeps: features or models left out or kept alone, and a date range (UTC
/// days, both ends included). Names match case-insensitively; a model also matches any name the
/// catalog resolves to the same entry, so "gpt-4o" keeps "openai/gpt-4o-2024-08-06" rows.
/// </summary>
public sealed record RowFilter
{
    public IReadOnlyList<string> ExcludeFeatures { get; init; } = [];
    public IReadOnlyList<string> OnlyFeatures { get; init; } = [];
    public IReadOnlyList<string> ExcludeModels { get; init; } = [];
    public IReadOnlyList<string> OnlyModels { get; init; } = [];

    /// <summary>First day kept, yyyy-MM-dd; null for the start of the data.</summary>
    public string? From { get; init; }

    /// <summary>Last day kept, yyyy-MM-dd; null for the end of the data.</summary>
    public string? To { get; init; }

    [System.Text.Json.Serialization.JsonIgnore]
    public bool IsEmpty => ExcludeFeatures.Count == 0 && OnlyFeatures.Count == 0 && ExcludeModels.Count == 0 && OnlyModels.Count == 0 && From is null && To is null;

    /// <summary>The filter in words, e.g. "without report-gen, from 2026-11-03" or "with only gpt-4o traffic".</summary>
    public string Describe()
    {
        var parts = new List<string>();
        if (OnlyFeatures.Count > 0) parts.Add($"with only {string.Join(", ", OnlyFeatures)}");
        if (ExcludeFeatures.Count > 0) parts.Add($"without {string.Join(", ", ExcludeFeatures)}");
        if (OnlyModels.Count > 0) parts.Add($"with only {string.Join(", ", OnlyModels)} traffic");
        if (ExcludeModels.Count > 0) parts.Add($"without {string.Join(", ", ExcludeModels)} traffic");
        if (From is not null && To is not null) parts.Add(From == To ? $"on {From}" : $"from {From} to {To}");
        else if (From is not null) parts.Add($"from {From}");
        else if (To is not null) parts.Add($"up to {To}");
        return parts.Count == 0 ? "all rows" : string.Join(", ", parts);
    }

    /// <summary>True for each interned string index that is a kept feature (as a feature) and a kept model (as a model).</summary>
    internal (bool[] Feature, bool[] Model) Masks(UsageTable t, PriceCatalog catalog)
    {
        var strings = t.Rows.Strings;
        var feature = new bool[strings.Count];
        var model = new bool[strings.Count];
        for (var s = 0; s < strings.Count; s++)
        {
            var name = s == 0 ? "(none)" : strings[s];
            feature[s] = (OnlyFeatures.Count == 0 || OnlyFeatures.Any(f => Same(f, name))) && !ExcludeFeatures.Any(f => Same(f, name));
            model[s] = (OnlyModels.Count == 0 || OnlyModels.Any(m => SameModel(m, strings[s], catalog)))
                && !ExcludeModels.Any(m => SameModel(m, strings[s], catalog));
        }

        return (feature, model);
    }

    /// <summary>First and last kept UTC day numbers (days since 1970-01-01).</summary>
    internal (long First, long Last) DayRange() => (Day(From) ?? long.MinValue, Day(To) ?? long.MaxValue);

    /// <summary>A table of the kept rows (the same catalog resolution), and what was kept.</summary>
    public (UsageTable Table, AppliedFilter Applied) Apply(UsageTable t, PriceCatalog catalog, CancellationToken ct)
    {
        var rows = t.Rows;
        var (feature, model) = Masks(t, catalog);
        var (first, last) = DayRange();
        var kept = new UsageColumns(Math.Max(16, rows.Count));
        long callsKept = 0, callsRemoved = 0;
        double costKept = 0, costRemoved = 0;
        for (var i = 0; i < rows.Count; i++)
        {
            if ((i & 0xFFFF) == 0)
            {
                ct.ThrowIfCancellationRequested();
            }

            var day = rows.Timestamp[i] / 86_400_000;
            var cost = double.IsNaN(rows.Cost[i]) ? 0 : rows.Cost[i];
            if (!feature[rows.Feature[i]] || !model[rows.Model[i]] || day < first || day > last)
            {
                callsRemoved += rows.Requests[i];
                costRemoved += cost;
                continue;
            }

            callsKept += rows.Requests[i];
            costKept += cost;
            kept.Add(rows.RowAt(i));
        }

        var applied = new AppliedFilter
        {
            ExcludeFeatures = ExcludeFeatures, OnlyFeatures = OnlyFeatures, ExcludeModels = ExcludeModels, OnlyModels = OnlyModels,
            From = From, To = To, Description = Describe(), CallsKept = callsKept, CallsRemoved = callsRemoved,
            CostKeptUsd = Money.Cents(costKept), CostRemovedUsd = Money.Cents(costRemoved),
        };
        return (UsageTable.FromColumns(kept, catalog), applied);
    }

    internal static bool Same(string a, string b) => string.Equals(a.Trim(), b.Trim(), StringComparison.OrdinalIgnoreCase);

    internal static bool SameModel(string wanted, string rowModel, PriceCatalog catalog)
    {
        if (rowModel.Length == 0)
        {
            return false;
        }

        if (Same(wanted, rowModel))
        {
            return true;
        }

        var a = catalog.Find(wanted);
        return a is not null && ReferenceEquals(a, catalog.Find(rowModel));
    }

    internal static long? Day(string? date) =>
        date is not null && DateOnly.TryParseExact(date, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d)
            ? d.DayNumber - DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber
            : null;

    /// <summary>
    /// Per interned string: whether it names the chosen feature (index 0 is "(none)") and whether it
    /// names the chosen model; a null choice keeps every value.
    /// </summary>
    internal static (bool[] FeatureOk, bool[] ModelOk) NameMasks(IReadOnlyList<string> strings, PriceCatalog catalog, string? feature, string? model)
    {
        var featureOk = new bool[strings.Count];
        var modelOk = new bool[strings.Count];
        for (var s = 0; s < strings.Count; s++)
        {
            featureOk[s] = feature is null || Same(feature, s == 0 ? "(none)" : strings[s]);
            modelOk[s] = model is null || SameModel(model, strings[s], catalog);
        }

        return (featureOk, modelOk);
    }

    internal static string DayText(long day) =>
        DateOnly.FromDateTime(DateTime.UnixEpoch.AddDays(day)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
}

/// <summary><c>report.filters</c>: what a filtered analysis kept (docs/spec/agent-report.md section 8).</summary>
public sealed record AppliedFilter
{
    public IReadOnlyList<string> ExcludeFeatures { get; init; } = [];
    public IReadOnlyList<string> OnlyFeatures { get; init; } = [];
    public IReadOnlyList<string> ExcludeModels { get; init; } = [];
    public IReadOnlyList<string> OnlyModels { get; init; } = [];
    public string? From { get; init; }
    public string? To { get; init; }
    public required string Description { get; init; }
    public required long CallsKept { get; init; }
    public required long CallsRemoved { get; init; }

    /// <summary>Cost of the kept and the removed rows in the dataset's own period.</summary>
    public required decimal CostKeptUsd { get; init; }
    public required decimal CostRemovedUsd { get; init; }

    public RowFilter ToFilter() => new()
    {
        ExcludeFeatures = ExcludeFeatures, OnlyFeatures = OnlyFeatures, ExcludeModels = ExcludeModels, OnlyModels = OnlyModels, From = From, To = To,
    };
}

/// <summary>Money as the report states it: USD rounded to cents once.</summary>
public static class Money
{
    public static decimal Cents(double usd) => double.IsNaN(usd) ? 0 : Math.Round((decimal)usd, 2, MidpointRounding.AwayFromZero);
}
