using System.Text.Json;
using Apex.Agents.Catalog;
using Apex.Contracts;

namespace Apex.Agents.Tests;

/// <summary>
/// A nine-row dataset whose figures are worked out by hand below (decimal arithmetic in the test,
/// from the literal prices of a three-model catalog), compared with the report to the cent.
/// </summary>
public sealed class HandCheckedFixtureTests
{
    // Prices per million tokens: big (tier 3), mid (tier 3, cheaper), small (tier 2).
    private static readonly PriceCatalog Catalog = new("test-1",
    [
        Price("big", 10m, 30m, 5m, 3),
        Price("mid", 2m, 6m, 1m, 3),
        Price("small", 0.5m, 1.5m, 0.25m, 2),
    ]);

    // Three UTC days (2026-11-01 .. 2026-11-03): monthly factor 30 / 3 = 10.
    private const string Csv =
        "Timestamp,MODEL,input_tokens,output_tokens,cached_input_tokens,latency_ms,cost_usd,feature,prompt_hash,status,interactive,team\r\n" +
        "2026-11-01T09:00:00Z,big,1000,200,0,1000,,support,p1,ok,true,a\r\n" +     // r1
        "2026-11-01T10:00:00Z,big,1000,200,0,1100,,support,p1,ok,true,a\r\n" +     // r2: repeats r1 after 1 h
        "2026-11-02T12:00:00Z,big,1000,200,0,1200,,support,p1,ok,true,a\r\n" +     // r3: 26 h after r2, not a repeat
        "2026-11-01T11:00:00Z,big,2000,400,0,3000,,support,p2,error,true,a\r\n" +  // r4: failed
        "2026-11-02T08:00:00Z,big,500,100,0,900,0.01,support,p3,ok,true,a\r\n" +   // r5: cost given in the file
        "2026-11-01T02:00:00Z,small,4000,1000,0,5000,,nightly-report,p4,ok,false,b\r\n" + // r6
        "2026-11-03T02:00:00Z,small,4000,1000,0,5200,,nightly-report,p5,ok,false,b\r\n" + // r7
        "2026-11-01T12:00:00Z,mystery-model,100,10,0,300,,search,p6,ok,true,c\r\n" +      // r8: unknown model, no cost
        "2026-11-02T12:00:00Z,mystery-model,100,10,0,320,0.002,search,p7,ok,true,c\r\n";  // r9: unknown model, cost given

    [Fact(Timeout = 30_000)]
    public async Task Report_matches_hand_computed_figures_to_the_cent()
    {
        // Per-call cost = (input x in + output x out) / 1e6.
        decimal r1 = (1000 * 10m + 200 * 30m) / 1_000_000m;   // 0.016
        decimal r2 = r1, r3 = r1;
        decimal r4 = (2000 * 10m + 400 * 30m) / 1_000_000m;   // 0.032
        decimal r5 = 0.01m;                                    // from the file
        decimal r6 = (4000 * 0.5m + 1000 * 1.5m) / 1_000_000m; // 0.0035
        decimal r7 = r6;
        decimal r9 = 0.002m;                                   // r8 has no known cost
        var total = r1 + r2 + r3 + r4 + r5 + r6 + r7 + r9;
        const decimal factor = 30m / 3m;

        // Plan order: 1 exact repeats (r2), 2 failed calls (r4), 3 big -> mid for support on what is left
        // (r1, r3, r5), 4 prompt caching on small's long prompts (r6, r7: prefix 50% of 4,000 tokens at
        // 0.5 - 0.25), 5 batch API (r6, r7 at 50% of what caching left).
        var cache = r2;
        var failed = r4;
        decimal AtMid(int input, int output) => (input * 2m + output * 6m) / 1_000_000m;
        var switchModel = (r1 - AtMid(1000, 200)) + (r3 - AtMid(1000, 200)) + (r5 - AtMid(500, 100));
        var prefix = 2 * (2000 * (0.5m - 0.25m) / 1_000_000m);
        var batch = 2 * ((r6 - 2000 * (0.5m - 0.25m) / 1_000_000m) * 0.5m);
        var saved = cache + failed + switchModel + prefix + batch;
        decimal Cents(decimal v) => Math.Round(v, 2, MidpointRounding.AwayFromZero);

        var data = new InMemoryUsageDataSource();
        var parsed = TestSupport.ParseCsv(Csv, Catalog);
        Assert.Equal(9, parsed.Rows);
        var id = data.Add("usr_a", parsed);
        var events = await TestSupport.CollectAsync(TestSupport.Runtime(data, Catalog), TestSupport.Request("Analyse the usage file I uploaded and give me a 4-week plan.", id));
        TestSupport.AssertWellFormedRun(events);
        var report = TestSupport.Report(events);

        var cost = report.GetProperty("cost_analysis");
        Assert.Equal(3, cost.GetProperty("period_days").GetInt32());
        Assert.Equal(9, cost.GetProperty("calls").GetInt64());
        Assert.Equal(1, cost.GetProperty("unpriced_calls").GetInt32());
        Assert.Equal(Cents(total * factor), cost.GetProperty("monthly_cost_usd").GetDecimal()); // 0.99

        var byModel = cost.GetProperty("by_model").EnumerateArray().ToDictionary(m => m.GetProperty("model").GetString()!);
        Assert.Equal(Cents((r1 + r2 + r3 + r4 + r5) * factor), byModel["big"].GetProperty("monthly_cost_usd").GetDecimal());
        Assert.Equal(Cents((r6 + r7) * factor), byModel["small"].GetProperty("monthly_cost_usd").GetDecimal());
        Assert.Equal(Cents(r9 * factor), byModel["mystery-model"].GetProperty("monthly_cost_usd").GetDecimal());
        // big's successful calls took 900, 1000, 1100 and 1200 ms (r4's 3000 ms failed and is counted
        // apart): nearest-rank p95 is the 4th value.
        Assert.Equal(1200, byModel["big"].GetProperty("p95_latency_ms").GetInt32());
        Assert.Equal(Math.Round((double)((r1 + r2 + r3 + r4 + r5) / total), 4), byModel["big"].GetProperty("share").GetDouble(), 4);

        var recommendations = report.GetProperty("recommendations").EnumerateArray().ToList();
        Assert.Equal(["cache-exact-repeats", "fix-failed-calls", "switch-model-big-to-mid", "enable-prompt-caching", "use-batch-api"],
            recommendations.Select(r => r.GetProperty("id").GetString()));
        Assert.Equal([Cents(cache * factor), Cents(failed * factor), Cents(switchModel * factor), Cents(prefix * factor), Cents(batch * factor)],
            recommendations.Select(r => r.GetProperty("monthly_savings_usd").GetDecimal()));
        Assert.Contains("mid", recommendations[2].GetProperty("title").GetString());

        var potential = report.GetProperty("potential_savings");
        var monthly = Cents(saved * factor);
        Assert.Equal(0.86m, monthly);
        Assert.Equal(monthly, potential.GetProperty("monthly_amount").GetDecimal());
        Assert.Equal(monthly * 12, potential.GetProperty("annual_amount").GetDecimal());
        Assert.Equal((double)Math.Round(saved / total * 100, 1), potential.GetProperty("percent").GetDouble());
        Assert.False(report.GetProperty("estimate").GetBoolean());

        var plan = report.GetProperty("action_plan").EnumerateArray().Select(s => (s.GetProperty("order").GetInt32(), s.GetProperty("recommendation_id").GetString(), s.GetProperty("week").GetInt32())).ToList();
        Assert.Equal([(1, "cache-exact-repeats", 1), (2, "fix-failed-calls", 1), (3, "switch-model-big-to-mid", 2), (4, "enable-prompt-caching", 3), (5, "use-batch-api", 4)], plan);

        // The tools' own results: one repeat costing r2, one failed call costing r4.
        var repeats = ToolResult(events, "find_repeated_prompts");
        Assert.Equal(1, repeats.GetProperty("repeat_calls").GetInt32());
        Assert.Equal((double)r2, repeats.GetProperty("repeat_cost_usd").GetDouble(), 9);
        var waste = ToolResult(events, "find_waste");
        Assert.Equal(1, waste.GetProperty("failed_calls").GetInt32());
        Assert.Equal((double)r4, waste.GetProperty("failed_cost_usd").GetDouble(), 9);

        // The answer states the report's figures.
        var answer = TestSupport.Answer(events);
        Assert.Contains(report.GetProperty("summary").GetString()!, answer);
        Assert.Contains("$0.86/month", answer);
        Assert.Contains("$10.32/year", answer);
        Assert.Contains("$0.99/month", answer);
        foreach (var r in recommendations)
        {
            Assert.Contains($"saves ${r.GetProperty("monthly_savings_usd").GetDecimal():0.00}/month", answer);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Same_input_gives_the_same_report_and_answer()
    {
        var data = new InMemoryUsageDataSource();
        var id = data.Add("usr_a", TestSupport.ParseCsv(Csv, Catalog));
        var runtime = TestSupport.Runtime(data, Catalog);
        var first = await TestSupport.CollectAsync(runtime, TestSupport.Request("Where does our money go?", id));
        var second = await TestSupport.CollectAsync(runtime, TestSupport.Request("Where does our money go?", id));
        Assert.Equal(TestSupport.Report(first).GetRawText(), TestSupport.Report(second).GetRawText());
        Assert.Equal(TestSupport.Answer(first), TestSupport.Answer(second));
        Assert.Equal(TestSupport.ToolsCalled(first), TestSupport.ToolsCalled(second));
    }

    [Fact(Timeout = 30_000)]
    public async Task Each_sub_agent_is_visible_and_every_tool_runs()
    {
        var data = new InMemoryUsageDataSource();
        var id = data.Add("usr_a", TestSupport.ParseCsv(Csv, Catalog));
        var events = await TestSupport.CollectAsync(TestSupport.Runtime(data, Catalog), TestSupport.Request("Analyse my usage", id));
        Assert.Equal(["apex", "triage", "cost_analyst", "optimizer", "reporter"],
            events.Where(e => e.Type == EventTypes.AgentStarted).Select(e => e.AgentName));
        Assert.Equal(["parse_request", "summarize_usage", "find_repeated_prompts", "find_waste", "recommend_models", "estimate_prompt_caching", "estimate_batching"],
            TestSupport.ToolsCalled(events));
        Assert.Contains(events, e => e.Type == EventTypes.AgentThinking && e.AgentName == "optimizer");
        Assert.All(events.Where(e => e.Type == EventTypes.ToolCompleted), e => Assert.True(e.Payload.GetProperty("ok").GetBoolean()));
    }

    [Fact(Timeout = 30_000)]
    public async Task Output_tails_are_capped_at_the_p95()
    {
        // Seventeen answers of 100 output tokens, two of 1,000 and one of 5,000: median (10th of 20) 100,
        // nearest-rank p95 (19th) 1,000, ten times the median; a cap at 1,000 trims 4,000 tokens at
        // small's 1.5 per million.
        var lines = new List<string> { "timestamp,model,input_tokens,output_tokens,feature" };
        var outputs = Enumerable.Repeat(100, 17).Concat([1000, 1000, 5000]).ToList();
        for (var i = 0; i < outputs.Count; i++)
        {
            lines.Add($"2026-11-01T{i:00}:00:00Z,small,100,{outputs[i]},faq");
        }

        var data = new InMemoryUsageDataSource();
        var id = data.Add("usr_a", TestSupport.ParseCsv(string.Join("\n", lines), Catalog));
        var events = await TestSupport.CollectAsync(TestSupport.Runtime(data, Catalog), TestSupport.Request("find waste in my usage", id));
        var tail = ToolResult(events, "find_waste").GetProperty("output_tails")[0];
        Assert.Equal(1000, tail.GetProperty("cap").GetInt32());
        Assert.Equal(4000, tail.GetProperty("trimmed_tokens").GetInt64());
        var report = TestSupport.Report(events);
        var cap = report.GetProperty("recommendations").EnumerateArray().Single(r => r.GetProperty("id").GetString() == "cap-output-tokens");
        // One day of data: x30.
        Assert.Equal(Math.Round(4000 * 1.5m / 1_000_000m * 30, 2, MidpointRounding.AwayFromZero), cap.GetProperty("monthly_savings_usd").GetDecimal());
    }

    private static JsonElement ToolResult(List<Runtime.AgentEvent> events, string tool) =>
        events.Single(e => e.Type == EventTypes.ToolCompleted && e.Payload.GetProperty("tool_name").GetString() == tool).Payload.GetProperty("result");

    private static ModelPrice Price(string id, decimal input, decimal output, decimal cached, int tier) => new()
    {
        Id = id, Provider = "acme", InputPerMillion = input, OutputPerMillion = output, CachedInputPerMillion = cached, BatchDiscount = 0.5m,
        ContextWindow = 100_000, QualityTier = tier, PriceDate = "2026-11-01", Source = "https://example.com/prices",
    };
}
