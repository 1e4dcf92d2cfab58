using System.Text;
using Apex.Agents.Data;
using Apex.Contracts;

namespace Apex.Agents.Tests;

/// <summary>The spec's example conversations (docs/spec/agent-report.md section 7) on the built-in planner.</summary>
[Collection(TimingSensitive.Name)]
public sealed class ConversationTests
{
    [Fact(Timeout = 30_000)]
    public async Task Text_only_request_extracts_facts_estimates_savings_and_asks_for_an_export()
    {
        var events = await TestSupport.CollectAsync(TestSupport.Runtime(new InMemoryUsageDataSource()),
            TestSupport.Request("We spend $5,000/month on GPT-4 for customer support, 2M requests. Help me cut costs by 30%."));
        TestSupport.AssertWellFormedRun(events);

        var facts = events.Single(e => e.Type == EventTypes.ToolCompleted && e.Payload.GetProperty("tool_name").GetString() == "parse_request")
            .Payload.GetProperty("result");
        Assert.Equal(5000, facts.GetProperty("monthly_spend_usd").GetDouble());
        Assert.Equal("gpt-4", facts.GetProperty("models")[0].GetString());
        Assert.Equal(2_000_000, facts.GetProperty("requests_per_month").GetDouble());
        Assert.Equal("customer support", facts.GetProperty("use_case").GetString());
        Assert.Equal(30, facts.GetProperty("savings_goal_percent").GetDouble());

        var report = TestSupport.Report(events);
        Assert.True(report.GetProperty("estimate").GetBoolean());
        Assert.Equal(5000m, report.GetProperty("cost_analysis").GetProperty("monthly_cost_usd").GetDecimal());
        var monthly = report.GetProperty("potential_savings").GetProperty("monthly_amount").GetDecimal();
        Assert.True(monthly > 0);
        Assert.Equal(monthly * 12, report.GetProperty("potential_savings").GetProperty("annual_amount").GetDecimal());
        Assert.NotEmpty(report.GetProperty("assumptions").EnumerateArray());
        var recommendation = report.GetProperty("recommendations")[0];
        Assert.Equal("model", recommendation.GetProperty("category").GetString());

        var answer = TestSupport.Answer(events);
        Assert.Contains("upload a usage export", answer, StringComparison.OrdinalIgnoreCase);
        Assert.Contains($"${monthly:N2}/month", answer);
        Assert.Contains("$5,000.00/month", answer);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("Hello")]
    [InlineData("What can you do?")]
    [InlineData("What's the best pizza topping in Naples?")]
    public async Task Greetings_and_off_topic_questions_get_a_short_answer_and_complete(string text)
    {
        var events = await TestSupport.CollectAsync(TestSupport.Runtime(new InMemoryUsageDataSource()), TestSupport.Request(text));
        TestSupport.AssertWellFormedRun(events);
        Assert.Equal("completed", events[^1].Payload.GetProperty("status").GetString());
        var answer = TestSupport.Answer(events);
        Assert.InRange(answer.Length, 20, 800);
        Assert.Contains("usage", answer, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(["parse_request"], TestSupport.ToolsCalled(events));
    }

    [Fact(Timeout = 30_000)]
    public async Task Latency_question_with_a_dataset_reports_p95_by_feature()
    {
        var csv = new StringBuilder("timestamp,model,input_tokens,output_tokens,latency_ms,feature\n");
        for (var i = 0; i < 20; i++)
        {
            csv.Append(System.Globalization.CultureInfo.InvariantCulture, $"2026-11-01T10:{i:00}:00Z,gpt-4o,1000,300,{(i < 19 ? 800 : 4000)},support-chat\n");
        }

        var data = new InMemoryUsageDataSource();
        var id = data.Add("usr_a", TestSupport.ParseCsv(csv.ToString()));
        var events = await TestSupport.CollectAsync(TestSupport.Runtime(data),
            TestSupport.Request("Why is our p95 latency 4 seconds and how do we get it under 1 s?", id));
        var report = TestSupport.Report(events);
        // 20 latencies, nearest-rank p95 is the 19th: 800.
        Assert.Equal(800, report.GetProperty("cost_analysis").GetProperty("by_feature")[0].GetProperty("p95_latency_ms").GetInt32());
        var answer = TestSupport.Answer(events);
        Assert.Contains("p95 800 ms", answer, StringComparison.Ordinal);
        Assert.Contains("target of 1,000 ms", answer, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Another_users_dataset_is_not_read()
    {
        var data = new InMemoryUsageDataSource();
        var id = data.Add("usr_owner", TestSupport.ParseCsv("timestamp,model,input_tokens,output_tokens\n2026-11-01T10:00:00Z,gpt-4o,1,1\n"));
        var events = await TestSupport.CollectAsync(TestSupport.Runtime(data), TestSupport.Request("Analyse my usage", id, user: "usr_other"));
        Assert.Equal(EventTypes.AgentError, events[^1].Type);
        Assert.Equal("not_found", events[^1].Payload.GetProperty("code").GetString());
        Assert.DoesNotContain(events, e => e.Type == EventTypes.ToolExecuting && e.Payload.GetProperty("tool_name").GetString() == "summarize_usage");
    }

    [Fact(Timeout = 30_000)]
    public async Task Cancellation_mid_tool_on_a_large_dataset_ends_within_a_second()
    {
        // 1,000,000 rows: the analysis tools scan them for much longer than the cancellation bound.
        var columns = new UsageColumns(1_000_000);
        var chunks = new List<byte[]>();
        var parsed = new UsageParseResult { Columns = ["timestamp", "model", "input_tokens", "output_tokens"] };
        for (var i = 0; i < 1_000_000; i++)
        {
            columns.Add(new UsageRow
            {
                TimestampMs = 1_790_000_000_000 + i * 1000L, Model = i % 3 == 0 ? "gpt-4o" : "gpt-4o-mini", Feature = "f" + (i % 50), UserTier = "",
                InputTokens = 1000 + i % 500, OutputTokens = 100 + i % 900, LatencyMs = i % 3000, CostUsd = 0.001, PromptHash = (ulong)(i % 100_000) + 1,
            });
            if (columns.Count == UsageColumns.ChunkRows)
            {
                parsed.Chunks.Add(columns.Encode());
                columns.Clear();
            }
        }

        parsed.Chunks.Add(columns.Encode());
        typeof(UsageParseResult).GetProperty(nameof(UsageParseResult.Rows))!.SetValue(parsed, 1_000_000);
        var data = new InMemoryUsageDataSource();
        var id = data.Add("usr_a", parsed);
        using var cts = new CancellationTokenSource();
        var events = new List<Runtime.AgentEvent>();
        var watch = new System.Diagnostics.Stopwatch();
        var ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var e in TestSupport.Runtime(data).RunAsync(TestSupport.Request("Analyse my usage", id), cts.Token))
            {
                events.Add(e);
                if (e.Type == EventTypes.ToolExecuting && e.Payload.GetProperty("tool_name").GetString() == "find_repeated_prompts")
                {
                    watch.Start();
                    cts.Cancel();
                }
            }
        });
        Assert.NotNull(ex);
        Assert.True(watch.IsRunning, "the run reached the tool");
        Assert.True(watch.ElapsedMilliseconds < 1000, $"cancelled after {watch.ElapsedMilliseconds} ms");
        Assert.DoesNotContain(events, e => e.IsTerminal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Every_scanning_tool_stops_mid_scan_when_cancelled()
    {
        await Task.Yield();
        var columns = new UsageColumns(2_000_000);
        for (var i = 0; i < 2_000_000; i++)
        {
            columns.Add(new UsageRow
            {
                TimestampMs = 1_790_000_000_000 + i * 1000L, Model = "gpt-4o", Feature = "f" + (i % 1000), UserTier = "",
                InputTokens = 1000, OutputTokens = i % 2000, LatencyMs = i % 3000, CostUsd = 0.001, PromptHash = (ulong)i + 1,
            });
        }

        var catalog = Catalog.PriceCatalog.LoadBuiltIn();
        var analyzer = new Analysis.UsageAnalyzer(Analysis.UsageTable.FromColumns(columns, catalog), catalog, new Analysis.AnalysisOptions());
        var scans = new Action<CancellationToken>[]
        {
            ct => analyzer.Summarize(ct), ct => analyzer.FindRepeats(null, ct), ct => analyzer.FindWaste(ct),
            ct => analyzer.RecommendModels(true, ct), ct => analyzer.EstimateBatching(ct), ct => analyzer.EstimatePromptCaching(ct),
        };
        foreach (var scan in scans)
        {
            // Cancelled while the scan is under way: it must stop at its next check, not finish the pass.
            using var cts = new CancellationTokenSource();
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var started = new ManualResetEventSlim();
            var task = Task.Run(() =>
            {
                started.Set();
                scan(cts.Token);
            });
            started.Wait();
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => task);
            Assert.True(watch.ElapsedMilliseconds < 1000, $"stopped after {watch.ElapsedMilliseconds} ms");
        }
    }
}
