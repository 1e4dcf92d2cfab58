using Apex.Testing;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Trace;

namespace Apex.Chat.Tests;

/// <summary>
/// Apex's own tracing, exported by the real OpenTelemetry SDK over OTLP/HTTP to a receiver the test
/// runs on loopback: one run is one trace with its sub-agents and tool calls under it.
/// </summary>
public sealed class TracingTests
{
    private const string Question = "We spend about $4,000 a month on gpt-4o across 1,000,000 calls. How can we cut the cost?";

    [Fact(Timeout = 60_000)]
    public async Task A_run_is_one_trace_with_its_sub_agents_and_tool_calls()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?>
        {
            // The signal-neutral endpoint: the SDK appends /v1/traces for http/protobuf.
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.BaseAddress.ToString().TrimEnd('/'),
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_SERVICE_NAME"] = "apex-tracing-test",
            // Batches leave every 100 ms, so the spans arrive while the test waits for them.
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
        });
        Assert.NotNull(server.Services.GetService<TracerProvider>());
        using var alice = await ChatUser.CreateAsync(server);
        await using var ws = await TestSocket.ConnectAsync(server, alice.User.AccessToken);

        await ws.SendJsonAsync(new { type = "user_message", id = "c1", payload = new { text = Question } });
        var frames = await ws.ReadUntilAsync(f => f.IsTerminal());
        var runId = frames[^1].Str("run_id")!;
        Assert.Equal("completed", frames[^1].GetProperty("payload").Str("status"));
        // The session's span ends with the socket.
        await ws.CloseAsync();

        string[] agents = ["triage", "cost_analyst", "optimizer", "reporter"];
        (string Agent, string Tool)[] tools = [("triage", "parse_request"), ("cost_analyst", "summarize_usage"), ("optimizer", "recommend_models")];
        var spans = await receiver.WaitForAsync(all =>
        {
            var run = all.FirstOrDefault(s => s.Name == "run" && s.Attribute("apex.run_id") == runId);
            return run is not null
                && agents.All(a => all.Any(s => s.TraceId == run.TraceId && s.Name == $"agent {a}"))
                && tools.All(t => all.Any(s => s.TraceId == run.TraceId && s.Name == $"tool {t.Tool}"))
                // The journal stores a run's last event and final state after publishing it, so that
                // database work can end (and be exported) after the run's own span.
                && all.Any(s => s.TraceId == run.TraceId && s.Scope.Contains("EntityFrameworkCore", StringComparison.Ordinal))
                && all.FirstOrDefault(s => s.Name == "ws.session" && s.Attribute("apex.user_id") == alice.Id) is { } session
                && all.Any(s => s.SpanId == session.ParentSpanId);
        });

        var run = spans.Single(s => s.Name == "run" && s.Attribute("apex.run_id") == runId);
        var trace = spans.Where(s => s.TraceId == run.TraceId).ToList();
        Assert.Equal("Apex.Chat.Runs", run.Scope);
        Assert.Equal("apex-tracing-test", run.ServiceName);
        Assert.Equal(frames[^1].Str("thread_id"), run.Attribute("apex.thread_id"));
        Assert.Equal("completed", run.Attribute("apex.run_status"));
        // The run is the root of its trace; it links to the WebSocket session that started it.
        Assert.Equal(string.Empty, run.ParentSpanId);
        var session = spans.Single(s => s.Name == "ws.session" && s.Attribute("apex.user_id") == alice.Id);
        Assert.Equal("Apex.Realtime", session.Scope);
        Assert.Contains((session.TraceId, session.SpanId), run.Links);
        Assert.NotEqual(session.TraceId, run.TraceId);
        Assert.Contains(spans, s => s.SpanId == session.ParentSpanId && s.Name.StartsWith("GET", StringComparison.Ordinal));

        // Each sub-agent once, directly under the run; each tool call under the sub-agent that made it.
        var agentSpans = trace.Where(s => s.Name.StartsWith("agent ", StringComparison.Ordinal)).ToList();
        Assert.Equal(agents.Select(a => $"agent {a}").Order(), agentSpans.Select(s => s.Name).Order());
        Assert.All(agentSpans, s => Assert.Equal((run.SpanId, "Apex.Agents"), (s.ParentSpanId, s.Scope)));
        foreach (var (agent, tool) in tools)
        {
            var toolSpan = Assert.Single(trace, s => s.Name == $"tool {tool}");
            Assert.Equal(agentSpans.Single(s => s.Name == $"agent {agent}").SpanId, toolSpan.ParentSpanId);
            Assert.Equal(agent, toolSpan.Attribute("apex.agent"));
            Assert.StartsWith("call_", toolSpan.Attribute("apex.tool_call_id"), StringComparison.Ordinal);
        }

        // The run's events are published under it, and its database work is in the same trace.
        Assert.Contains(trace, s => s.Name == "broker.publish" && s.ParentSpanId == run.SpanId && s.Attribute("apex.run_id") == runId);
        Assert.Contains(trace, s => s.Scope.Contains("EntityFrameworkCore", StringComparison.Ordinal));
        // Every span of the trace hangs, through its parents, from the run.
        var ids = trace.Select(s => s.SpanId).ToHashSet();
        Assert.All(trace.Where(s => s != run), s => Assert.Contains(s.ParentSpanId, ids));
    }

    [Theory(Timeout = 30_000)]
    [InlineData("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")]
    [InlineData("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://collector/v1/traces")]
    [InlineData("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]
    public async Task A_wrong_otlp_setting_fails_the_start_naming_its_key(string key, string value)
    {
        var settings = new Dictionary<string, string?> { ["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:4318", [key] = value };
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => ApexTestServer.StartAsync(settings));
        Assert.StartsWith(key + " must be", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Without_an_otlp_endpoint_nothing_listens()
    {
        await using var server = await ApexTestServer.StartAsync();
        Assert.Null(server.Services.GetService<TracerProvider>());
    }
}

/// <summary>One exported span, with the few OTLP fields the tests read.</summary>
internal sealed record ReceivedSpan(
    string TraceId, string SpanId, string ParentSpanId, string Name, string Scope, string? ServiceName,
    IReadOnlyDictionary<string, string> Attributes, IReadOnlyList<(string TraceId, string SpanId)> Links)
{
    public string? Attribute(string key) => Attributes.GetValueOrDefault(key);
}

/// <summary>
/// An OTLP/HTTP trace receiver on loopback: accepts <c>POST /v1/traces</c> with a protobuf
/// <c>ExportTraceServiceRequest</c>, decodes the fields of opentelemetry/proto/trace/v1/trace.proto the
/// tests read, and answers with an empty <c>ExportTraceServiceResponse</c>.
/// </summary>
internal sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<ReceivedSpan> _spans = [];
    private readonly SemaphoreSlim _arrived = new(0);

    private OtlpReceiver(WebApplication app) => _app = app;

    public Uri BaseAddress { get; private set; } = null!;

    public static async Task<OtlpReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(["--urls=http://127.0.0.1:0"]);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new OtlpReceiver(app);
        app.MapPost("/v1/traces", (Delegate)receiver.ReceiveAsync);
        await app.StartAsync();
        receiver.BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return receiver;
    }

    /// <summary>Waits until the spans received so far satisfy <paramref name="done"/>; returns them.</summary>
    public async Task<List<ReceivedSpan>> WaitForAsync(Func<List<ReceivedSpan>, bool> done)
    {
        while (true)
        {
            List<ReceivedSpan> snapshot;
            lock (_spans)
            {
                snapshot = [.. _spans];
            }

            if (done(snapshot))
            {
                return snapshot;
            }

            await _arrived.WaitAsync();
        }
    }

    private async Task<IResult> ReceiveAsync(HttpContext context)
    {
        if (context.Request.ContentType != "application/x-protobuf")
        {
            return Results.StatusCode(StatusCodes.Status415UnsupportedMediaType);
        }

        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        var spans = new List<ReceivedSpan>();
        // ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
        foreach (var resourceSpans in Fields(body.ToArray(), 1))
        {
            string? service = null;
            foreach (var resource in Fields(resourceSpans, 1))
            {
                service = Attributes(resource, 1).GetValueOrDefault("service.name");
            }

            // ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
            foreach (var scopeSpans in Fields(resourceSpans, 2))
            {
                var scope = Fields(scopeSpans, 1).Select(s => Fields(s, 1).Select(n => n.ToStringUtf8()).FirstOrDefault()).FirstOrDefault() ?? string.Empty;
                foreach (var span in Fields(scopeSpans, 2))
                {
                    spans.Add(ReadSpan(span, scope, service));
                }
            }
        }

        lock (_spans)
        {
            _spans.AddRange(spans);
        }

        _arrived.Release();
        // An empty ExportTraceServiceResponse: everything accepted.
        return Results.Bytes([], "application/x-protobuf");
    }

    // Span { bytes trace_id = 1; bytes span_id = 2; bytes parent_span_id = 4; string name = 5;
    //        repeated KeyValue attributes = 9; repeated Link links = 13; }  Link { bytes trace_id = 1; bytes span_id = 2; }
    private static ReceivedSpan ReadSpan(ByteString span, string scope, string? service) => new(
        Hex(Fields(span, 1).Single()),
        Hex(Fields(span, 2).Single()),
        Fields(span, 4).Select(Hex).SingleOrDefault() ?? string.Empty,
        Fields(span, 5).Single().ToStringUtf8(),
        scope,
        service,
        Attributes(span, 9),
        [.. Fields(span, 13).Select(link => (Hex(Fields(link, 1).Single()), Hex(Fields(link, 2).Single())))]);

    /// <summary>KeyValue { string key = 1; AnyValue value = 2; }, AnyValue { string string_value = 1; int64 int_value = 3; ... }.</summary>
    private static Dictionary<string, string> Attributes(ByteString message, int field)
    {
        var attributes = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var keyValue in Fields(message, field))
        {
            var key = Fields(keyValue, 1).Single().ToStringUtf8();
            var value = Fields(keyValue, 2).SingleOrDefault();
            if (value is not null && Fields(value, 1).FirstOrDefault() is { } text)
            {
                attributes[key] = text.ToStringUtf8();
            }
            else if (value is not null)
            {
                attributes[key] = Varints(value, 3).FirstOrDefault().ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return attributes;
    }

    /// <summary>The length-delimited fields numbered <paramref name="number"/> of a message.</summary>
    private static List<ByteString> Fields(ByteString message, int number) => Fields(message.ToByteArray(), number);

    private static List<ByteString> Fields(byte[] message, int number)
    {
        var found = new List<ByteString>();
        var input = new CodedInputStream(message);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == number && WireFormat.GetTagWireType(tag) == WireFormat.WireType.LengthDelimited)
            {
                found.Add(input.ReadBytes());
            }
            else
            {
                input.SkipLastField();
            }
        }

        return found;
    }

    private static List<long> Varints(ByteString message, int number)
    {
        var found = new List<long>();
        var input = new CodedInputStream(message.ToByteArray());
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            if (WireFormat.GetTagFieldNumber(tag) == number && WireFormat.GetTagWireType(tag) == WireFormat.WireType.Varint)
            {
                found.Add(input.ReadInt64());
            }
            else
            {
                input.SkipLastField();
            }
        }

        return found;
    }

    private static string Hex(ByteString bytes) => Convert.ToHexStringLower(bytes.Span);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _arrived.Dispose();
    }
}
