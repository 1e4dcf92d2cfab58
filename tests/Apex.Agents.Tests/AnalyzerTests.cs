using Apex.Agents.Analysis;
using Apex.Agents.Catalog;
using Apex.Agents.Data;

namespace Apex.Agents.Tests;

public sealed class AnalyzerTests
{
    [Fact(Timeout = 30_000)]
    public async Task Latency_percentiles_of_large_groups_match_a_plain_sort()
    {
        await Task.Yield();
        var random = new Random(3);
        var columns = new UsageColumns();
        var latencies = new List<int>();
        for (var i = 0; i < 5000; i++)
        {
            var latency = random.Next(100) < 5 ? random.Next(100_000, 2_000_000_000) : random.Next(0, 5000);
            latencies.Add(latency);
            columns.Add(new UsageRow
            {
                TimestampMs = 1_790_000_000_000 + i, Model = "gpt-4o", Feature = "f", UserTier = "", InputTokens = 1, OutputTokens = 1,
                LatencyMs = latency, CostUsd = 0.001,
            });
        }

        var catalog = PriceCatalog.LoadBuiltIn();
        var summary = new UsageAnalyzer(UsageTable.FromColumns(columns, catalog), catalog, new AnalysisOptions()).Summarize(CancellationToken.None);
        var sorted = latencies.Order().ToList();
        // Nearest rank: p50 is the 2,500th value, p95 the 4,750th.
        Assert.Equal(sorted[2499], summary.P50LatencyMs);
        Assert.Equal(sorted[4749], summary.P95LatencyMs);
        Assert.Equal(sorted[4749], summary.ByModel[0].P95LatencyMs);
        Assert.Equal(sorted[2499], summary.ByFeature[0].P50LatencyMs);
    }
}
