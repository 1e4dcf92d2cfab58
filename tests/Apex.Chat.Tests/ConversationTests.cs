using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Apex.Testing;

namespace Apex.Chat.Tests;

/// <summary>
/// A conversation about one dataset on a real server with the real agent (built-in planner): the
/// analysis, then follow-ups in the same thread, each answered from the thread's data and last report.
/// Every expected figure is computed here from the rows and the test catalog.
/// </summary>
public sealed class ConversationTests : IAsyncLifetime
{
    // Test catalog (replaces the built-in one), USD per million tokens: big-4 $10 in / $30 out (tier 3),
    // think-3 $2 / $10 (tier 3, a reasoning model), small-2 $0.5 / $2 (tier 2); batch discount 50%.
    private const string CatalogJson = """
        {"version":"conversation-test","models":[
          {"id":"big-4","provider":"testco","input_per_million":10,"output_per_million":30,"cached_input_per_million":5,"batch_discount":0.5,"context_window":128000,"quality_tier":3,"price_date":"2026-11-01","source":"https://example.com/prices"},
          {"id":"think-3","provider":"testco","input_per_million":2,"output_per_million":10,"cached_input_per_million":1,"batch_discount":0.5,"context_window":128000,"quality_tier":3,"reasoning":true,"price_date":"2026-11-01","source":"https://example.com/prices"},
          {"id":"small-2","provider":"testco","input_per_million":0.5,"output_per_million":2,"cached_input_per_million":0.25,"batch_discount":0.5,"context_window":128000,"quality_tier":2,"price_date":"2026-11-01","source":"https://example.com/prices"}
        ]}
        """;

    // Per call on big-4: support-chat 1000 in + 500 out = $0.025; faq-bot 2000 + 100 = $0.023 (its second
    // call each day repeats the first); report-gen 4000 + 1000 = $0.07. Two days: a month is 15 x the data.
    private const string Csv =
        "timestamp,model,input_tokens,output_tokens,latency_ms,feature,prompt_hash,status\n" +
        "2026-11-01T02:00:00Z,big-4,4000,1000,9000,report-gen,r1,ok\n" +
        "2026-11-01T10:00:00Z,big-4,1000,500,1000,support-chat,s1,ok\n" +
        "2026-11-01T10:00:00Z,big-4,2000,100,500,faq-bot,f1,ok\n" +
        "2026-11-01T10:30:00Z,big-4,2000,100,400,faq-bot,f1,ok\n" +
        "2026-11-01T11:00:00Z,big-4,1000,500,1200,support-chat,s2,ok\n" +
        "2026-11-01T12:00:00Z,big-4,1000,500,1400,support-chat,s3,ok\n" +
        "2026-11-01T13:00:00Z,big-4,1000,500,1600,support-chat,s4,ok\n" +
        "2026-11-02T02:00:00Z,big-4,4000,1000,9000,report-gen,r2,ok\n" +
        "2026-11-02T10:00:00Z,big-4,1000,500,1000,support-chat,s5,ok\n" +
        "2026-11-02T10:00:00Z,big-4,2000,100,500,faq-bot,f2,ok\n" +
        "2026-11-02T10:30:00Z,big-4,2000,100,400,faq-bot,f2,ok\n" +
        "2026-11-02T11:00:00Z,big-4,1000,500,1200,support-chat,s6,ok\n" +
        "2026-11-02T12:00:00Z,big-4,1000,500,1400,support-chat,s7,ok\n" +
        "2026-11-02T13:00:00Z,big-4,1000,500,30000,support-chat,s8,error\n";

    private const double Month = 15;
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(40);
    private ApexTestServer _server = null!;

    public async Task InitializeAsync()
    {
        _server = await ApexTestServer.StartWithCatalogAsync(CatalogJson);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
    }

    private static decimal Cents(double usd) => Math.Round((decimal)usd, 2, MidpointRounding.AwayFromZero);

    private static string Usd(decimal amount) => "$" + amount.ToString("N2", CultureInfo.InvariantCulture);

    [Fact(Timeout = 120_000)]
    public async Task Four_questions_in_one_thread_get_four_answers_from_the_same_data()
    {
        using var alice = await ChatUser.CreateAsync(_server);
        var datasetId = await UploadAsync(alice);
        var threadId = await alice.CreateThreadAsync();

        // 1. The analysis.
        var (run1, answer1, final1) = await AskAsync(alice, threadId, "Analyse the usage file I uploaded and give me a 4-week plan.", datasetId);
        var report = run1.GetProperty("report");
        var cost = report.GetProperty("cost_analysis");
        Assert.Equal(14, cost.GetProperty("calls").GetInt64());
        Assert.Equal(Cents(0.432 * Month), cost.GetProperty("monthly_cost_usd").GetDecimal());
        Assert.Equal(datasetId, report.Str("dataset_id"));
        var daily = cost.GetProperty("daily").EnumerateArray().ToList();
        Assert.Equal(["2026-11-01", "2026-11-02"], daily.Select(d => d.Str("date")!));
        Assert.All(daily, d =>
        {
            Assert.Equal(7, d.GetProperty("calls").GetInt64());
            Assert.Equal(0.22m, d.GetProperty("cost_usd").GetDecimal());
            Assert.Equal(0.22m, d.GetProperty("by_model").GetProperty("big-4").GetDecimal());
            Assert.Equal(0.10m, d.GetProperty("by_feature").GetProperty("support-chat").GetDecimal());
            Assert.Equal(0.05m, d.GetProperty("by_feature").GetProperty("faq-bot").GetDecimal());
        });
        var followUps = report.GetProperty("follow_ups").EnumerateArray().Select(f => f.GetString()!).ToList();
        Assert.InRange(followUps.Count, 2, 4);
        Assert.Contains("What if we only did the caching change?", followUps);
        Assert.Contains(Usd(report.GetProperty("potential_savings").GetProperty("monthly_amount").GetDecimal()) + "/month", answer1, StringComparison.Ordinal);

        // The reasoning model is offered only with its reasoning output in the figure: after the repeats and
        // the failed call are gone, think-3 bills each visible output token as 3 (2 reasoning tokens assumed).
        // support-chat 7 x (0.025 - 0.017), faq-bot 2 x (0.023 - 0.007), report-gen 2 x (0.07 - 0.038).
        var recommendations = report.GetProperty("recommendations").EnumerateArray().ToList();
        var toThink = recommendations.Single(r => r.Str("id") == "switch-model-big-4-to-think-3");
        Assert.Equal(Cents((7 * 0.008 + 2 * 0.016 + 2 * 0.032) * Month), toThink.GetProperty("monthly_savings_usd").GetDecimal());
        Assert.Contains("reasoning output", toThink.Str("rationale"), StringComparison.Ordinal);
        Assert.Contains(report.GetProperty("assumptions").EnumerateArray(), a => a.GetString()!.Contains("2 reasoning tokens per visible output token", StringComparison.Ordinal));

        // 2. What if only one change, named as the report numbers it: recommendation 1 caches the exact
        // repeats (2 x $0.023), so that alone saves their cost; the full plan saves more.
        Assert.Equal("cache-exact-repeats", recommendations[0].Str("id"));
        var (run2, answer2, final2) = await AskAsync(alice, threadId, "What would we save if we only did recommendation 1?");
        Assert.Equal(JsonValueKind.Null, ReportOf(run2).ValueKind);
        var result2 = final2.GetProperty("payload").GetProperty("result");
        Assert.Equal(("follow_up", "what_if", datasetId), (result2.Str("intent"), result2.Str("kind"), result2.Str("dataset_id")));
        var whatIf = Cents(2 * 0.023 * Month);
        Assert.Contains($"save **{Usd(whatIf)}/month**", answer2, StringComparison.Ordinal);
        Assert.Contains($"{Usd(whatIf)}/month on its own", answer2, StringComparison.Ordinal);
        Assert.DoesNotContain("prompt caching for long prompts", answer2.Split("The full plan")[0], StringComparison.OrdinalIgnoreCase);

        // 3. The daily trend of one feature, asked over the WebSocket: $0.046 a day, 2 calls.
        var (answer3, final3) = await AskOverWebSocketAsync(alice, threadId, "Show me the daily cost trend for faq-bot");
        var result3 = final3.GetProperty("payload").GetProperty("result");
        Assert.Equal("cost_trend", result3.Str("kind"));
        var trend = result3.GetProperty("trend");
        Assert.Equal(("day", "feature", "faq-bot"), (trend.Str("granularity"), trend.Str("scope"), trend.Str("name")));
        var points = trend.GetProperty("points").EnumerateArray().ToList();
        Assert.Equal(2, points.Count);
        Assert.All(points, p => Assert.Equal((2L, 0.05m, 0.05m), (p.GetProperty("calls").GetInt64(), p.GetProperty("cost_usd").GetDecimal(), p.GetProperty("by_feature").GetProperty("faq-bot").GetDecimal())));
        Assert.Contains("| 2026-11-01 | 2 | $0.05 |", answer3, StringComparison.Ordinal);

        // 4. The analysis without report-gen: 12 calls, support-chat $0.2 and faq-bot $0.092 in the data.
        var (run4, answer4, _) = await AskAsync(alice, threadId, "Exclude report-gen");
        var filtered = run4.GetProperty("report");
        var filters = filtered.GetProperty("filters");
        Assert.Equal(["report-gen"], filters.GetProperty("exclude_features").EnumerateArray().Select(f => f.GetString()));
        Assert.Equal((12L, 2L), (filters.GetProperty("calls_kept").GetInt64(), filters.GetProperty("calls_removed").GetInt64()));
        Assert.Equal(12, filtered.GetProperty("cost_analysis").GetProperty("calls").GetInt64());
        Assert.Equal(Cents(0.292 * Month), filtered.GetProperty("cost_analysis").GetProperty("monthly_cost_usd").GetDecimal());
        Assert.DoesNotContain(filtered.GetProperty("cost_analysis").GetProperty("by_feature").EnumerateArray(), f => f.Str("feature") == "report-gen");
        Assert.Contains("without report-gen: 12 calls kept, 2 left out", answer4, StringComparison.Ordinal);

        Assert.Equal(4, new[] { answer1, answer2, answer3, answer4 }.Distinct().Count());
        var (_, messages) = await alice.GetAsync($"/api/threads/{threadId}/messages");
        Assert.Equal(8, messages.GetProperty("items").GetArrayLength());
        _ = final1;
    }

    [Fact(Timeout = 120_000)]
    public async Task Asking_about_an_upload_without_attaching_it_analyses_the_latest_upload()
    {
        using var bob = await ChatUser.CreateAsync(_server);
        var thread = await bob.CreateThreadAsync();
        var (noData, noDataAnswer, _) = await AskAsync(bob, thread, "Analyse the usage file I uploaded");
        Assert.Equal("completed", noData.Str("status"));
        Assert.Equal(JsonValueKind.Null, ReportOf(noData).ValueKind);
        Assert.Contains("can't find an uploaded usage file", noDataAnswer, StringComparison.Ordinal);
        Assert.DoesNotContain("$0.00", noDataAnswer, StringComparison.Ordinal);

        var datasetId = await UploadAsync(bob);
        var other = await bob.CreateThreadAsync();
        var (run, answer, _) = await AskAsync(bob, other, "Analyse the usage file I uploaded");
        var report = run.GetProperty("report");
        Assert.Equal(datasetId, report.Str("dataset_id"));
        Assert.Equal(14, report.GetProperty("cost_analysis").GetProperty("calls").GetInt64());
        Assert.Contains("latest upload, **usage.csv** (14 rows", answer, StringComparison.Ordinal);

        // The thread keeps that data: a follow-up without any attachment is answered from it.
        var (_, _, final) = await AskAsync(bob, other, "Show the daily cost trend");
        var result = final.GetProperty("payload").GetProperty("result");
        Assert.Equal(("cost_trend", datasetId), (result.Str("kind"), result.Str("dataset_id")));
        Assert.Equal(2, result.GetProperty("trend").GetProperty("points").GetArrayLength());
        Assert.Equal(("all", JsonValueKind.Null), (result.GetProperty("trend").Str("scope"), result.GetProperty("trend").GetProperty("name").ValueKind));
    }

    private static JsonElement ReportOf(JsonElement run) => run.TryGetProperty("report", out var r) ? r : Null;

    private static readonly JsonElement Null = JsonDocument.Parse("null").RootElement.Clone();

    /// <summary>Sends the message on /ws and reads the run's frames to its terminal event; the streamed answer is the stored one.</summary>
    private async Task<(string Answer, JsonElement Final)> AskOverWebSocketAsync(ChatUser user, string threadId, string text)
    {
        await using var ws = await TestSocket.OpenAsync(_server, user.User.AccessToken);
        await ws.SendJsonAsync(new { type = "user_message", id = "q", payload = new { text, thread_id = threadId } });
        var frames = await ws.ReadUntilAsync(f => f.IsTerminal() && f.Str("thread_id") == threadId, RunTimeout);
        var final = frames[^1];
        var runFrames = frames.Where(f => f.Str("run_id") == final.Str("run_id")).ToList();
        ChatTestKit.AssertWellFormedRun(runFrames);
        var streamed = string.Concat(runFrames.Where(f => f.Type() == "agent_message_delta").Select(f => f.GetProperty("payload").Str("delta")));
        var (_, messages) = await user.GetAsync($"/api/threads/{threadId}/messages?limit=100");
        var stored = messages.GetProperty("items").EnumerateArray().Last(m => m.Str("role") == "assistant" && m.Str("run_id") == final.Str("run_id")).Str("content");
        Assert.Equal(stored, streamed);
        return (streamed, final);
    }

    private static async Task<string> UploadAsync(ChatUser user)
    {
        using var content = new MultipartFormDataContent();
        var file = new ByteArrayContent(Encoding.UTF8.GetBytes(Csv));
        file.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        content.Add(file, "file", "usage.csv");
        using var response = await user.Http.PostAsync(new Uri("/api/datasets", UriKind.Relative), content);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("id").GetString()!;
    }

    /// <summary>Posts a message, waits for its run, and returns the run, the stored answer and the terminal event.</summary>
    private static async Task<(JsonElement Run, string Answer, JsonElement Final)> AskAsync(ChatUser user, string threadId, string text, string? datasetId = null)
    {
        var (status, accepted) = await user.PostAsync($"/api/threads/{threadId}/messages",
            datasetId is null ? new { content = text } : new { content = text, dataset_id = datasetId });
        Assert.Equal(HttpStatusCode.Accepted, status);
        var runId = accepted.GetProperty("run").Str("id")!;
        var run = await user.WaitForRunAsync(runId, RunTimeout);
        Assert.Equal("completed", run.Str("status"));
        var events = await user.EventsAsync(runId);
        ChatTestKit.AssertWellFormedRun(events);
        var (_, messages) = await user.GetAsync($"/api/threads/{threadId}/messages?limit=100");
        var answer = messages.GetProperty("items").EnumerateArray().Last(m => m.Str("role") == "assistant" && m.Str("run_id") == runId).Str("content")!;
        return (run, answer, events[^1]);
    }
}
