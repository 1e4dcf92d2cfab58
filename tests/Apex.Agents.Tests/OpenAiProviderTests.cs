using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Apex.Agents.Data;
using Apex.Agents.Runtime;
using Apex.Agents.Tools;
using Apex.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Apex.Agents.Tests;

/// <summary>
/// The OpenAI-compatible provider against a real HTTP server (Kestrel on 127.0.0.1:0) speaking the
/// chat-completions wire format with SSE streaming and tool calls.
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class OpenAiProviderTests
{
    private const string ApiKey = "sk-test-very-secret-4242";
    private const string ModelProse = "The model's reading: most spend sits in support. ";

    private const string Csv =
        "timestamp,model,input_tokens,output_tokens,feature,prompt_hash,status\n" +
        "2026-11-01T10:00:00Z,gpt-4o,1000,200,support,p1,ok\n" +
        "2026-11-01T10:05:00Z,gpt-4o,1000,200,support,p1,ok\n" +
        "2026-11-01T11:00:00Z,gpt-4o,1500,300,support,p2,error\n";

    public enum Mode
    {
        Normal,
        Fails,
        Hangs,
    }

    [Fact(Timeout = 30_000)]
    public async Task The_model_calls_the_tools_and_its_text_is_streamed()
    {
        await using var server = await FakeOpenAi.StartAsync(Mode.Normal);
        var (events, logs) = await RunAsync(server, "Analyse my usage and tell me where the money goes", timeoutSeconds: 10);
        TestSupport.AssertWellFormedRun(events);

        // The model was offered each phase's tools and called them; each call is one event pair.
        Assert.Contains(server.OfferedTools, t => t == "summarize_usage");
        Assert.Contains(server.OfferedTools, t => t == "recommend_models");
        var called = TestSupport.ToolsCalled(events);
        foreach (var tool in new[] { "summarize_usage", "find_repeated_prompts", "find_waste", "recommend_models", "estimate_batching", "estimate_prompt_caching" })
        {
            Assert.Single(called, c => c == tool);
        }

        Assert.Contains(server.ToolResultsSeen, r => r.Contains("monthly_cost_usd", StringComparison.Ordinal));

        // The model's prose arrives as several deltas, followed by the report's figures.
        var deltas = events.Where(e => e.Type == EventTypes.AgentMessageDelta).Select(e => e.Payload.GetProperty("delta").GetString()!).ToList();
        Assert.True(deltas.Count >= 3);
        var answer = string.Concat(deltas);
        Assert.StartsWith(ModelProse, answer, StringComparison.Ordinal);
        var report = TestSupport.Report(events);
        Assert.Contains($"{report.GetProperty("potential_savings").GetProperty("monthly_amount").GetDecimal():N2}/month", answer);
        Assert.DoesNotContain(report.GetProperty("assumptions").EnumerateArray(), a => a.GetString()!.Contains("failed", StringComparison.Ordinal));
        Assert.Equal("openai", events[^1].Payload.GetProperty("result").GetProperty("provider").GetString());

        // The key went to the server, and nowhere else.
        Assert.All(server.Authorizations, a => Assert.Equal($"Bearer {ApiKey}", a));
        AssertNoKey(events, logs);
    }

    [Theory(Timeout = 30_000)]
    [InlineData(Mode.Fails, "HTTP 500")]
    [InlineData(Mode.Hangs, "no answer within 3 s")]
    public async Task A_failing_or_hanging_provider_falls_back_and_the_run_completes(Mode mode, string reason)
    {
        await using var server = await FakeOpenAi.StartAsync(mode);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        // The hang must outlast the timeout; 3 s leaves room for the client's first-use start-up on a busy machine.
        var (events, logs) = await RunAsync(server, "Analyse my usage", timeoutSeconds: mode == Mode.Hangs ? 3 : 10);
        TestSupport.AssertWellFormedRun(events);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15));
        Assert.True(server.Requests > 0);
        var report = TestSupport.Report(events);
        Assert.Contains(report.GetProperty("assumptions").EnumerateArray(), a => a.GetString()!.Contains(reason, StringComparison.Ordinal));
        Assert.Equal(reason, events[^1].Payload.GetProperty("result").GetProperty("fallback").GetString());
        // Every tool still ran (by the built-in planner), and the answer carries the report's summary.
        Assert.Equal(7, TestSupport.ToolsCalled(events).Distinct().Count());
        Assert.Contains(report.GetProperty("summary").GetString()!, TestSupport.Answer(events));
        AssertNoKey(events, logs);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_follow_up_gives_the_model_the_thread_and_the_last_report_and_its_tool_calls_reach_the_same_tools()
    {
        // The thread so far: the built-in planner's analysis of the dataset.
        var data = new InMemoryUsageDataSource();
        var id = data.Add("usr_a", TestSupport.ParseCsv(Csv));
        var first = await TestSupport.CollectAsync(TestSupport.Runtime(data), TestSupport.Request("Analyse my usage", id));
        var report = TestSupport.Report(first);
        var firstId = report.GetProperty("recommendations")[0].GetProperty("id").GetString()!;
        var history = new List<ChatTurn> { new("user", "Analyse my usage"), new("assistant", TestSupport.Answer(first)) };

        await using var server = await FakeOpenAi.StartAsync(Mode.Normal);
        var request = TestSupport.Request("What if we only did recommendation 1?", id) with
        {
            History = history,
            LastReport = report,
            LastReportRunId = "run_first",
        };
        var (events, logs) = await RunAsync(server, data, request, timeoutSeconds: 10);
        TestSupport.AssertWellFormedRun(events);

        // The model saw the earlier messages and the last report, and was offered the follow-up tools.
        Assert.Contains(server.Bodies, b => b.Contains("Analyse my usage", StringComparison.Ordinal) && b.Contains(firstId, StringComparison.Ordinal)
            && b.Contains("run_first", StringComparison.Ordinal) && b.Contains("\"assistant\"", StringComparison.Ordinal));
        foreach (var tool in FollowUpTools.Names)
        {
            Assert.Contains(tool, server.OfferedTools);
        }

        // Its calls ran the real tools (one event pair each); the what-if result went back to it and answers the question.
        var called = TestSupport.ToolsCalled(events);
        Assert.Single(called, c => c == "what_if");
        Assert.DoesNotContain("summarize_usage", called);
        var whatIf = events.Single(e => e.Type == EventTypes.ToolCompleted && e.Payload.GetProperty("tool_name").GetString() == "what_if").Payload;
        Assert.True(whatIf.GetProperty("ok").GetBoolean());
        Assert.Equal(firstId, whatIf.GetProperty("result").GetProperty("recommendation_ids")[0].GetString());
        Assert.Contains(server.ToolResultsSeen, r => r.Contains("full_plan_monthly_savings_usd", StringComparison.Ordinal));
        var result = events[^1].Payload.GetProperty("result");
        Assert.Equal(("follow_up", "what_if", "openai"), (result.GetProperty("intent").GetString(), result.GetProperty("kind").GetString(), result.GetProperty("provider").GetString()));
        var monthly = whatIf.GetProperty("result").GetProperty("monthly_savings_usd").GetDecimal();
        Assert.Contains($"${monthly:N2}/month", TestSupport.Answer(events), StringComparison.Ordinal);
        AssertNoKey(events, logs);
    }

    private static void AssertNoKey(List<AgentEvent> events, ConcurrentQueue<string> logs)
    {
        Assert.All(events, e => Assert.DoesNotContain(ApiKey, e.Payload.GetRawText(), StringComparison.Ordinal));
        Assert.All(logs, l => Assert.DoesNotContain(ApiKey, l, StringComparison.Ordinal));
    }

    private static async Task<(List<AgentEvent> Events, ConcurrentQueue<string> Logs)> RunAsync(FakeOpenAi server, string text, int timeoutSeconds)
    {
        var data = new InMemoryUsageDataSource();
        var id = data.Add("usr_a", TestSupport.ParseCsv(Csv));
        return await RunAsync(server, data, TestSupport.Request(text, id), timeoutSeconds);
    }

    private static async Task<(List<AgentEvent> Events, ConcurrentQueue<string> Logs)> RunAsync(FakeOpenAi server, InMemoryUsageDataSource data, AgentRunRequest request, int timeoutSeconds)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Agent:Provider"] = "openai",
            ["Agent:Endpoint"] = server.BaseAddress + "v1",
            ["Agent:Model"] = "test-model",
            ["Agent:ApiKey"] = ApiKey,
            ["Agent:TimeoutSeconds"] = timeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }).Build();
        var logs = new ConcurrentQueue<string>();
        var services = new ServiceCollection()
            .AddLogging(b => b.AddProvider(new ListLoggerProvider(logs)).SetMinimumLevel(LogLevel.Trace))
            .AddSingleton<IUsageDataSource>(data)
            .AddApexAgents(configuration)
            .BuildServiceProvider();
        await using var _ = services;
        var runtime = services.GetRequiredService<IAgentRuntime>();
        return (await TestSupport.CollectAsync(runtime, request), logs);
    }

    private sealed class ListLoggerProvider(ConcurrentQueue<string> logs) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new ListLogger(logs);

        public void Dispose()
        {
        }

        private sealed class ListLogger(ConcurrentQueue<string> logs) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                logs.Enqueue(formatter(state, exception) + exception);
        }
    }

    /// <summary>A minimal chat-completions server: tool calls for every offered tool, then streamed prose.</summary>
    private sealed class FakeOpenAi : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private int _requests;

        private FakeOpenAi(WebApplication app) => _app = app;

        public string BaseAddress { get; private set; } = "";
        public int Requests => _requests;
        public ConcurrentBag<string> OfferedTools { get; } = [];
        public ConcurrentBag<string> ToolResultsSeen { get; } = [];
        public ConcurrentBag<string> Authorizations { get; } = [];

        /// <summary>Every request body as received.</summary>
        public ConcurrentQueue<string> Bodies { get; } = new();

        public static async Task<FakeOpenAi> StartAsync(Mode mode)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            var server = new FakeOpenAi(app);
            app.MapPost("/v1/chat/completions", (HttpContext http) => server.HandleAsync(http, mode));
            await app.StartAsync();
            server.BaseAddress = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/";
            return server;
        }

        private async Task HandleAsync(HttpContext http, Mode mode)
        {
            Interlocked.Increment(ref _requests);
            Authorizations.Add(http.Request.Headers.Authorization.ToString());
            var body = (await JsonNode.ParseAsync(http.Request.Body))!.AsObject();
            Bodies.Enqueue(body.ToJsonString());
            if (mode == Mode.Fails)
            {
                http.Response.StatusCode = 500;
                await http.Response.WriteAsJsonAsync(new { error = new { message = "upstream exploded", type = "server_error" } });
                return;
            }

            if (mode == Mode.Hangs)
            {
                await Task.Delay(Timeout.Infinite, http.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
                return;
            }

            var messages = body["messages"]!.AsArray();
            foreach (var tool in messages.Where(m => (string?)m!["role"] == "tool"))
            {
                ToolResultsSeen.Add(tool!["content"]?.ToJsonString() ?? "");
            }

            var tools = body["tools"]?.AsArray().Select(t => (string)t!["function"]!["name"]!).ToList() ?? [];
            foreach (var t in tools)
            {
                OfferedTools.Add(t);
            }

            http.Response.ContentType = "text/event-stream";
            var hasToolResults = messages.Any(m => (string?)m!["role"] == "tool");
            if (tools.Count > 0 && !hasToolResults)
            {
                var calls = tools.Select((name, i) => new { index = i, id = $"call_{name}", type = "function", function = new { name, arguments = "{}" } }).ToArray();
                await SendAsync(http, new { role = "assistant", tool_calls = calls }, null);
                await SendAsync(http, new { }, "tool_calls");
            }
            else
            {
                var text = tools.Count > 0 ? "Checked the numbers." : ModelProse;
                foreach (var piece in Chunks(text))
                {
                    await SendAsync(http, new { content = piece }, null);
                }

                await SendAsync(http, new { }, "stop");
            }

            await http.Response.WriteAsync("data: [DONE]\n\n");
        }

        private static IEnumerable<string> Chunks(string text)
        {
            for (var i = 0; i < text.Length; i += 12)
            {
                yield return text.Substring(i, Math.Min(12, text.Length - i));
            }
        }

        private static async Task SendAsync(HttpContext http, object delta, string? finish)
        {
            var chunk = new
            {
                id = "chatcmpl-test",
                @object = "chat.completion.chunk",
                created = 1_790_000_000,
                model = "test-model",
                choices = new[] { new { index = 0, delta, finish_reason = finish } },
            };
            await http.Response.WriteAsync("data: " + JsonSerializer.Serialize(chunk) + "\n\n", Encoding.UTF8);
            await http.Response.Body.FlushAsync();
        }

        public async ValueTask DisposeAsync()
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _app.StopAsync(cts.Token);
            await _app.DisposeAsync();
        }
    }
}
