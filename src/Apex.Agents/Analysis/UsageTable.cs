using Apex.Agents.Catalog;
using Apex.Agents.Data;

namespace Apex.Agents.Analysis;

/// <summary>
/// A dataset's rows in memory (columns of primitives, ~50 bytes per row), with each model string
/// resolved against the catalog once and a chronological order for the tools that need one.
/// </summary>
public sealed class UsageTable
{
    private UsageTable(UsageColumns rows, PriceCatalog catalog, int[]? order)
    {
        Rows = rows;
        Prices = rows.Strings.Select(s => catalog.Find(s)).ToArray();
        ChronologicalOrder = order;
        if (rows.Count > 0)
        {
            long min = long.MaxValue, max = long.MinValue;
            var ts = rows.Timestamp;
            for (var i = 0; i < rows.Count; i++)
            {
                min = Math.Min(min, ts[i]);
                max = Math.Max(max, ts[i]);
            }

            StartMs = min;
            EndMs = max;
        }

        // Calendar days (UTC) the data covers, first and last day included: a week of exports is 7 days
        // whatever the hour of its first and last call.
        PeriodDays = rows.Count == 0 ? 0 : (int)(EndMs / 86_400_000 - StartMs / 86_400_000) + 1;
        MonthlyFactor = PeriodDays == 0 ? 0 : 30d / PeriodDays;
    }

    public UsageColumns Rows { get; }

    /// <summary>Catalog entry per interned string index (null when the string is no known model).</summary>
    public ModelPrice?[] Prices { get; }

    /// <summary>Row indices in time order, or null when the rows already are in time order.</summary>
    public int[]? ChronologicalOrder { get; }

    public int Count => Rows.Count;
    public long StartMs { get; }
    public long EndMs { get; }
    public int PeriodDays { get; }

    /// <summary>Multiplier from the dataset's period to 30 days.</summary>
    public double MonthlyFactor { get; }

    public string Text(int index) => Rows.Strings[index];

    public static UsageTable FromColumns(UsageColumns rows, PriceCatalog catalog) => new(rows, catalog, BuildOrder(rows));

    /// <summary>Reads a stored dataset chunk by chunk; only the decoded columns stay in memory.</summary>
    public static async Task<UsageTable> LoadAsync(IUsageDataSource source, string userId, string datasetId, int expectedRows, PriceCatalog catalog, CancellationToken ct)
    {
        var rows = new UsageColumns(expectedRows);
        await foreach (var chunk in source.ReadChunksAsync(userId, datasetId, ct).WithCancellation(ct))
        {
            rows.AppendEncoded(chunk);
            ct.ThrowIfCancellationRequested();
        }

        return FromColumns(rows, catalog);
    }

    private static int[]? BuildOrder(UsageColumns rows)
    {
        var ts = rows.Timestamp;
        var sorted = true;
        for (var i = 1; i < rows.Count && sorted; i++)
        {
            sorted = ts[i - 1] <= ts[i];
        }

        if (sorted)
        {
            return null;
        }

        var order = new int[rows.Count];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        // Stable: rows with equal timestamps keep file order, so "earlier" is well defined.
        var keys = ts.AsSpan(0, rows.Count).ToArray();
        var indexKeys = new (long, int)[order.Length];
        for (var i = 0; i < order.Length; i++)
        {
            indexKeys[i] = (keys[i], i);
        }

        Array.Sort(indexKeys, order);
        return order;
    }
}
