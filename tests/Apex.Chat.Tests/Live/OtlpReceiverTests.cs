using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Apex.Testing;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;
using OpenTelemetry.Proto.Trace.V1;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Apex.Chat.Tests.Live;

/// <summary>
/// Live usage end to end on a real server: ingest keys over REST, GenAI spans sent by the real
/// OpenTelemetry .NET SDK and its OTLP/HTTP protobuf exporter (and OTLP JSON bodies written per the
/// OTLP specification, since the .NET exporter has no JSON protocol), the live dataset analysed by the
/// real agent, and the refusals: revoked key, malformed body, other media type, rate limit.
/// </summary>
public sealed class OtlpReceiverTests : IAsyncLifetime
{
    // USD per million tokens: big-4 $10 in / $30 out, small-2 $0.5 / $2.
    internal const string CatalogJson = """
        {"version":"live-test","models":[
          {"id":"big-4","provider":"testco","input_per_million":10,"output_per_million":30,"cached_input_per_million":5,"batch_discount":0.5,"context_window":128000,"quality_tier":3,"price_date":"2026-11-01","source":"https://example.com/prices"},
          {"id":"small-2","provider":"testco","input_per_million":0.5,"output_per_million":2,"cached_input_per_million":0.25,"batch_discount":0.5,"context_window":128000,"quality_tier":2,"price_date":"2026-11-01","source":"https://example.com/prices"}
        ]}
        """;

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

    internal static decimal Cents(double usd) => Math.Round((decimal)usd, 2, MidpointRounding.AwayFromZero);

    [Fact(Timeout = 120_000)]
    public async Task Spans_sent_by_the_OpenTelemetry_SDK_become_a_live_dataset_the_agent_analyses()
    {
        using var alice = await ChatUser.CreateAsync(_server);
        var (keyId, key, datasetId) = await CreateKeyAsync(alice, "prod-app");

        // support-chat: 6 calls on big-4 (1000 in / 500 out = $0.025 each, one failed); faq-bot: 4 calls on
        // small-2 (2000 in, 400 of them cache reads / 100 out = $0.0009 + $0.0002 - $0.0001 = ...), computed below.
        var start = DateTimeOffset.UtcNow.AddMinutes(-5);
        var sent = new List<(string Feature, string Model, int Input, int Output, int Cached, bool Error)>();
        using (var support = Tracer(key, "support-chat", out var supportSource))
        {
            for (var i = 0; i < 6; i++)
            {
                Emit(supportSource, start.AddSeconds(i), 1200 + (i * 100), "big-4", 1000, 500, 0, error: i == 5, prompt: $"s{i}");
                sent.Add(("support-chat", "big-4", 1000, 500, 0, i == 5));
            }

            // An HTTP span without GenAI attributes: ignored, not a row.
            using (var http = supportSource.StartActivity("GET /health", ActivityKind.Server))
            {
                http?.SetTag("http.request.method", "GET");
            }

            Assert.True(support.ForceFlush(30_000));
            supportSource.Dispose();
        }

        using (var faq = Tracer(key, "faq-bot", out var faqSource))
        {
            for (var i = 0; i < 4; i++)
            {
                Emit(faqSource, start.AddSeconds(10 + i), 300, "small-2", 2000, 100, 400, error: false, prompt: "faq-same");
                sent.Add(("faq-bot", "small-2", 2000, 100, 400, false));
            }

            Assert.True(faq.ForceFlush(30_000));
            faqSource.Dispose();
        }

        var (status, dataset) = await alice.GetAsync($"/api/datasets/{datasetId}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(("live", "otlp_live", "prod-app"), (dataset.Str("kind"), dataset.Str("source_format"), dataset.Str("name")));
        Assert.Equal(10, dataset.GetProperty("rows").GetInt32());
        Assert.Equal(10, dataset.GetProperty("calls").GetInt64());

        var (_, list) = await alice.GetAsync("/api/ingest-keys");
        var listed = Assert.Single(list.GetProperty("items").EnumerateArray());
        Assert.Equal(keyId, listed.Str("id"));
        Assert.False(listed.TryGetProperty("key", out _));
        Assert.Equal(key[..12], listed.Str("key_prefix"));
        Assert.NotEqual(JsonValueKind.Null, listed.GetProperty("last_used_at").ValueKind);

        // Costs as the catalog prices them: input at the input price, cache reads at the cached price.
        static double Cost((string Feature, string Model, int Input, int Output, int Cached, bool Error) s) => s.Model == "big-4"
            ? (((s.Input - s.Cached) * 10) + (s.Cached * 5) + (s.Output * 30)) / 1e6
            : (((s.Input - s.Cached) * 0.5) + (s.Cached * 0.25) + (s.Output * 2)) / 1e6;
        var total = sent.Sum(Cost);

        var threadId = await alice.CreateThreadAsync();
        var (accepted, body) = await alice.PostAsync($"/api/threads/{threadId}/messages",
            new { content = "Analyse our live usage and give me a 4-week plan.", dataset_id = datasetId });
        Assert.Equal(HttpStatusCode.Accepted, accepted);
        var run = await alice.WaitForRunAsync(body.GetProperty("run").Str("id")!, RunTimeout);
        Assert.Equal("completed", run.Str("status"));
        var report = run.GetProperty("report");
        Assert.Equal(datasetId, report.Str("dataset_id"));
        var cost = report.GetProperty("cost_analysis");
        Assert.Equal(10, cost.GetProperty("calls").GetInt64());
        var days = cost.GetProperty("daily").EnumerateArray().ToList();
        var day = Assert.Single(days);
        Assert.Equal(start.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), day.Str("date"));
        Assert.Equal(Cents(total), day.GetProperty("cost_usd").GetDecimal());
        Assert.Equal(Cents(sent.Where(s => s.Feature == "support-chat").Sum(Cost)), day.GetProperty("by_feature").GetProperty("support-chat").GetDecimal());
        Assert.Equal(Cents(sent.Where(s => s.Feature == "faq-bot").Sum(Cost)), day.GetProperty("by_feature").GetProperty("faq-bot").GetDecimal());
        // One day of data: a month is 30 of it.
        Assert.Equal(Cents(total * 30), cost.GetProperty("monthly_cost_usd").GetDecimal());
        // Live data is analysed over its last 7 days by default.
        var filters = report.GetProperty("filters");
        Assert.Equal(start.UtcDateTime.Date.AddDays(-6).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), filters.Str("from"));
    }

    [Fact(Timeout = 60_000)]
    public async Task OTLP_JSON_bodies_are_stored_and_invalid_spans_are_reported_as_partial_success()
    {
        using var alice = await ChatUser.CreateAsync(_server);
        var (_, key, datasetId) = await CreateKeyAsync(alice, "json-app");
        var now = DateTimeOffset.UtcNow.AddMinutes(-1);
        var body = OtlpJson("json-feature",
            Span(now, 800, ("gen_ai.request.model", Str("big-4")), ("gen_ai.usage.input_tokens", Int(1000)), ("gen_ai.usage.output_tokens", Int(500))),
            Span(now, 900, ("gen_ai.response.model", Str("big-4")), ("gen_ai.usage.input_tokens", Int(2000)), ("gen_ai.usage.output_tokens", Int(100)), ("gen_ai.usage.cache_read.input_tokens", Int(1000))),
            // A GenAI span without token counts: rejected, the others stored.
            Span(now, 100, ("gen_ai.request.model", Str("big-4"))),
            // Not a GenAI span: ignored.
            Span(now, 50, ("db.system", Str("postgresql"))));

        using var response = await PostAsync(key, body, "application/json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using (var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync()))
        {
            var partial = answer.RootElement.GetProperty("partialSuccess");
            // proto3 JSON writes int64 as a string.
            Assert.Equal("1", partial.GetProperty("rejectedSpans").GetString());
            Assert.Contains("token counts", partial.GetProperty("errorMessage").GetString(), StringComparison.Ordinal);
        }

        var (_, dataset) = await alice.GetAsync($"/api/datasets/{datasetId}");
        Assert.Equal(2, dataset.GetProperty("rows").GetInt32());

        // The same export gzip-compressed, all spans valid: an empty response (no partial_success).
        var valid = OtlpJson("json-feature", Span(now, 700, ("gen_ai.request.model", Str("small-2")), ("gen_ai.usage.input_tokens", Int(10)), ("gen_ai.usage.output_tokens", Int(5))));
        using var gzipped = await PostAsync(key, Gzip(valid), "application/json", gzip: true);
        Assert.Equal(HttpStatusCode.OK, gzipped.StatusCode);
        using (var empty = JsonDocument.Parse(await gzipped.Content.ReadAsStringAsync()))
        {
            Assert.Empty(empty.RootElement.EnumerateObject());
        }

        (_, dataset) = await alice.GetAsync($"/api/datasets/{datasetId}");
        Assert.Equal(3, dataset.GetProperty("rows").GetInt32());

        // A protobuf answer for a protobuf request that has a refused span.
        var nanos = (ulong)now.ToUnixTimeMilliseconds() * 1_000_000UL;
        var request = new ExportTraceServiceRequest
        {
            ResourceSpans =
            {
                new ResourceSpans
                {
                    ScopeSpans =
                    {
                        new ScopeSpans
                        {
                            Spans =
                            {
                                new Span
                                {
                                    Name = "chat", StartTimeUnixNano = nanos, EndTimeUnixNano = nanos + 1_000_000,
                                    Attributes = { new KeyValue { Key = "gen_ai.request.model", Value = new AnyValue { StringValue = "big-4" } } },
                                },
                            },
                        },
                    },
                },
            },
        };
        using var pb = await PostAsync(key, request.ToByteArray(), "application/x-protobuf");
        Assert.Equal(HttpStatusCode.OK, pb.StatusCode);
        var parsed = ExportTraceServiceResponse.Parser.ParseFrom(await pb.Content.ReadAsByteArrayAsync());
        Assert.Equal(1, parsed.PartialSuccess.RejectedSpans);
    }

    [Fact(Timeout = 60_000)]
    public async Task Revoked_unknown_and_missing_keys_get_401_and_malformed_bodies_400_with_nothing_stored()
    {
        using var alice = await ChatUser.CreateAsync(_server);
        using var bob = await ChatUser.CreateAsync(_server);
        var (keyId, key, datasetId) = await CreateKeyAsync(alice, "to-revoke");
        var now = DateTimeOffset.UtcNow.AddMinutes(-1);
        var good = OtlpJson("svc", Span(now, 100, ("gen_ai.request.model", Str("big-4")), ("gen_ai.usage.input_tokens", Int(10)), ("gen_ai.usage.output_tokens", Int(5))));

        // Malformed protobuf: a length-delimited field that claims more bytes than the body has.
        using (var response = await PostAsync(key, [0x0A, 0xFF, 0x01, 0x02], "application/x-protobuf"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var status = Google.Rpc.Status.Parser.ParseFrom(await response.Content.ReadAsByteArrayAsync());
            Assert.Equal(3, status.Code);
            Assert.Contains("protobuf", status.Message, StringComparison.Ordinal);
        }

        // Malformed JSON: not JSON, a wrong shape, a trace id that is not hex.
        foreach (var bad in new[] { "{not json", "{\"resourceSpans\": [{\"scopeSpans\": 5}]}", good.Replace("5b8efff798038103d269b633813fc60c", "zz8efff798038103d269b633813fc60c", StringComparison.Ordinal) })
        {
            using var response = await PostAsync(key, bad, "application/json");
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            using var status = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal(3, status.RootElement.GetProperty("code").GetInt32());
            Assert.False(string.IsNullOrEmpty(status.RootElement.GetProperty("message").GetString()));
        }

        // A gzip header over bytes that do not inflate.
        using (var response = await PostAsync(key, [0x1F, 0x8B, 0x08, 0x00, 0x01, 0x02], "application/json", gzip: true))
        {
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        }

        using (var response = await PostAsync(key, good, "text/plain"))
        {
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        }

        var (_, dataset) = await alice.GetAsync($"/api/datasets/{datasetId}");
        Assert.Equal(0, dataset.GetProperty("rows").GetInt32());

        // x-api-key works as well as the bearer header.
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/traces") { Content = new StringContent(good, Encoding.UTF8, "application/json") })
        {
            request.Headers.Add("x-api-key", key);
            using var response = await _server.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // Bob cannot see or revoke Alice's key.
        var (bobRevoke, problem) = await bob.SendAsync(HttpMethod.Delete, $"/api/ingest-keys/{keyId}");
        Assert.Equal(HttpStatusCode.NotFound, bobRevoke);
        Assert.Equal("not_found", problem.Str("code"));
        var (_, bobKeys) = await bob.GetAsync("/api/ingest-keys");
        Assert.Empty(bobKeys.GetProperty("items").EnumerateArray());

        var (revoked, _) = await alice.SendAsync(HttpMethod.Delete, $"/api/ingest-keys/{keyId}");
        Assert.Equal(HttpStatusCode.NoContent, revoked);
        foreach (var (k, contentType) in new[] { (key, "application/json"), ("apx_ik_" + new string('A', 43), "application/json"), (null, "application/json"), (key, "application/x-protobuf") })
        {
            using var response = await PostAsync(k, contentType == "application/json" ? Encoding.UTF8.GetBytes(good) : [], contentType);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        // The revoked key's dataset and rows are kept.
        (_, dataset) = await alice.GetAsync($"/api/datasets/{datasetId}");
        Assert.Equal(1, dataset.GetProperty("rows").GetInt32());
        var (_, keys) = await alice.GetAsync("/api/ingest-keys");
        Assert.NotEqual(JsonValueKind.Null, Assert.Single(keys.GetProperty("items").EnumerateArray()).GetProperty("revoked_at").ValueKind);

        var (invalid, validation) = await alice.PostAsync("/api/ingest-keys", new { name = new string('x', 101) });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, invalid);
        Assert.True(validation.GetProperty("errors").TryGetProperty("name", out _));
    }

    [Fact(Timeout = 60_000)]
    public async Task A_burst_over_the_per_key_rate_gets_429_with_Retry_After()
    {
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Live:RequestsPerSecond"] = "0.01",
            ["Live:Burst"] = "3",
            ["Live:MaxRequestBytes"] = "2048",
        });
        using var alice = await ChatUser.CreateAsync(server);
        var (_, key, _) = await CreateKeyAsync(alice, "bursty");
        var (_, otherKey, _) = await CreateKeyAsync(alice, "calm");
        var body = OtlpJson("svc", Span(DateTimeOffset.UtcNow.AddMinutes(-1), 100, ("gen_ai.request.model", Str("gpt-4o")), ("gen_ai.usage.input_tokens", Int(10)), ("gen_ai.usage.output_tokens", Int(5))));

        // Over Live:MaxRequestBytes: 413, as sent and as a gzip body that inflates beyond it.
        var big = OtlpJson("svc", [.. Enumerable.Range(0, 20).Select(_ => Span(DateTimeOffset.UtcNow.AddMinutes(-1), 100, ("gen_ai.request.model", Str("gpt-4o")), ("gen_ai.usage.input_tokens", Int(10)), ("gen_ai.usage.output_tokens", Int(5))))]);
        Assert.True(big.Length > 2048 && Gzip(big).Length < 2048);
        using (var tooLarge = await PostAsync(key, big, "application/json", server))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
        }

        using (var inflated = await Send(server, key, Gzip(big), "application/json", gzip: true))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, inflated.StatusCode);
        }

        // The two refused bodies spent two of the burst's three requests (the rate counts requests, not rows).
        using (var ok = await PostAsync(key, body, "application/json", server))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using var limited = await PostAsync(key, body, "application/json", server);
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        var retryAfter = Assert.Single(limited.Headers.GetValues("Retry-After"));
        Assert.True(int.Parse(retryAfter, CultureInfo.InvariantCulture) >= 1);
        using (var status = JsonDocument.Parse(await limited.Content.ReadAsStringAsync()))
        {
            Assert.Equal(8, status.RootElement.GetProperty("code").GetInt32());
        }

        // The limit is per key: another key of the same user still sends.
        using var other = await PostAsync(otherKey, body, "application/json", server);
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
    }

    [Fact(Timeout = 60_000)]
    public async Task Concurrent_exports_to_one_key_are_all_stored_and_old_rows_are_dropped_by_retention()
    {
        using var alice = await ChatUser.CreateAsync(_server);
        var (_, key, datasetId) = await CreateKeyAsync(alice, "busy");
        var now = DateTimeOffset.UtcNow.AddMinutes(-1);
        string Batch(int n, DateTimeOffset at) => OtlpJson("svc", [.. Enumerable.Range(0, n).Select(i =>
            Span(at.AddMilliseconds(i), 100, ("gen_ai.request.model", Str("small-2")), ("gen_ai.usage.input_tokens", Int(100)), ("gen_ai.usage.output_tokens", Int(10))))]);

        // 40 days ago: past the default 30-day retention.
        using (var old = await PostOtlpAsync(_server, key, Batch(3, DateTimeOffset.UtcNow.AddDays(-40))))
        {
            Assert.Equal(HttpStatusCode.OK, old.StatusCode);
        }

        var responses = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => PostOtlpAsync(_server, key, Batch(5, now))));
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        foreach (var r in responses)
        {
            r.Dispose();
        }

        var (_, dataset) = await alice.GetAsync($"/api/datasets/{datasetId}");
        Assert.Equal(83, dataset.GetProperty("rows").GetInt32());

        // What the hourly retention pass does, run now.
        var store = _server.Services.GetRequiredService<Apex.Chat.Live.LiveUsageStore>();
        Assert.Equal(3, await store.DropOlderThanAsync(DateTimeOffset.UtcNow.AddDays(-30), CancellationToken.None));
        (_, dataset) = await alice.GetAsync($"/api/datasets/{datasetId}");
        Assert.Equal(80, dataset.GetProperty("rows").GetInt32());
        Assert.Equal(now.UtcDateTime.Date, DateTimeOffset.Parse(dataset.Str("period_start")!, CultureInfo.InvariantCulture).UtcDateTime.Date);

        // Every stored row is readable, none twice: the agent's loader sees exactly the 80 recent calls.
        var source = _server.Services.GetRequiredService<Apex.Agents.Data.IUsageDataSource>();
        var rows = new Apex.Agents.Data.UsageColumns();
        await foreach (var chunk in source.ReadChunksAsync(alice.Id, datasetId, CancellationToken.None))
        {
            rows.AppendEncoded(chunk);
        }

        Assert.Equal(80, rows.Count);
    }

    internal static async Task<(string Id, string Key, string DatasetId)> CreateKeyAsync(ChatUser user, string name)
    {
        var (status, created) = await user.PostAsync("/api/ingest-keys", new { name });
        Assert.Equal(HttpStatusCode.Created, status);
        var key = created.Str("key")!;
        Assert.Matches("^apx_ik_[A-Za-z0-9_-]{43}$", key);
        Assert.Equal(key[..12], created.Str("key_prefix"));
        Assert.Equal(name, created.Str("name"));
        Assert.Equal(JsonValueKind.Null, created.GetProperty("last_used_at").ValueKind);
        Assert.Equal(JsonValueKind.Null, created.GetProperty("revoked_at").ValueKind);
        return (created.Str("id")!, key, created.Str("dataset_id")!);
    }

    /// <summary>A tracer provider with the SDK's OTLP/HTTP protobuf exporter pointed at the server, for one service.</summary>
    internal static TracerProvider Tracer(string key, string service, out ActivitySource source, ApexTestServer server)
    {
        var name = "apex.test." + Guid.NewGuid().ToString("N");
        source = new ActivitySource(name);
        return Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService(service))
            .AddSource(name)
            .SetSampler(new AlwaysOnSampler())
            .AddOtlpExporter(o =>
            {
                o.Protocol = OtlpExportProtocol.HttpProtobuf;
                o.Endpoint = new Uri(server.BaseAddress, "/v1/traces");
                o.Headers = "Authorization=Bearer " + key;
                o.ExportProcessorType = ExportProcessorType.Batch;
            })
            .Build()!;
    }

    private TracerProvider Tracer(string key, string service, out ActivitySource source) => Tracer(key, service, out source, _server);

    /// <summary>One GenAI client span as an instrumented app records it.</summary>
    internal static void Emit(ActivitySource source, DateTimeOffset start, int latencyMs, string model, int input, int output, int cached, bool error, string prompt)
    {
        using var activity = source.StartActivity("chat " + model, ActivityKind.Client, default(ActivityContext), startTime: start);
        Assert.NotNull(activity);
        activity.SetTag("gen_ai.operation.name", "chat");
        activity.SetTag("gen_ai.request.model", model);
        activity.SetTag("gen_ai.response.model", model);
        activity.SetTag("gen_ai.usage.input_tokens", input);
        activity.SetTag("gen_ai.usage.output_tokens", output);
        if (cached > 0)
        {
            activity.SetTag("gen_ai.usage.cache_read.input_tokens", cached);
        }

        activity.SetTag("gen_ai.prompt.hash", prompt);
        if (error)
        {
            activity.SetStatus(ActivityStatusCode.Error, "upstream 500");
        }

        activity.SetEndTime(start.AddMilliseconds(latencyMs).UtcDateTime);
    }

    internal static string Str(string value) => JsonSerializer.Serialize(new { stringValue = value });

    /// <summary>OTLP JSON writes int64 values as strings.</summary>
    internal static string Int(long value) => JsonSerializer.Serialize(new { intValue = value.ToString(CultureInfo.InvariantCulture) });

    internal static string Span(DateTimeOffset start, int latencyMs, params (string Key, string Value)[] attributes)
    {
        var startNanos = start.ToUnixTimeMilliseconds() * 1_000_000L;
        var endNanos = startNanos + (latencyMs * 1_000_000L);
        var attrs = string.Join(",", attributes.Select(a => $"{{\"key\":{JsonSerializer.Serialize(a.Key)},\"value\":{a.Value}}}"));
        // Ids in hex, the kind as a number, times as strings: the OTLP JSON encoding.
        return $"{{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\",\"name\":\"chat\",\"kind\":3,"
            + $"\"startTimeUnixNano\":\"{startNanos}\",\"endTimeUnixNano\":\"{endNanos}\",\"attributes\":[{attrs}],\"status\":{{\"code\":\"STATUS_CODE_OK\"}}}}";
    }

    internal static string OtlpJson(string service, params string[] spans) =>
        $"{{\"resourceSpans\":[{{\"resource\":{{\"attributes\":[{{\"key\":\"service.name\",\"value\":{{\"stringValue\":{JsonSerializer.Serialize(service)}}}}}]}},"
        + $"\"scopeSpans\":[{{\"scope\":{{\"name\":\"test\"}},\"spans\":[{string.Join(",", spans)}]}}]}}]}}";

    private static byte[] Gzip(string text)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(Encoding.UTF8.GetBytes(text));
        }

        return output.ToArray();
    }

    private Task<HttpResponseMessage> PostAsync(string? key, string body, string contentType, ApexTestServer? server = null) =>
        PostAsync(key, Encoding.UTF8.GetBytes(body), contentType, server);

    private Task<HttpResponseMessage> PostAsync(string? key, byte[] body, string contentType, bool gzip = false) => PostAsync(key, body, contentType, null, gzip);

    internal static Task<HttpResponseMessage> PostOtlpAsync(ApexTestServer server, string key, string body) =>
        Send(server, key, Encoding.UTF8.GetBytes(body), "application/json", false);

    private Task<HttpResponseMessage> PostAsync(string? key, byte[] body, string contentType, ApexTestServer? server, bool gzip = false) =>
        Send(server ?? _server, key, body, contentType, gzip);

    private static async Task<HttpResponseMessage> Send(ApexTestServer server, string? key, byte[] body, string contentType, bool gzip)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/traces") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        if (gzip)
        {
            request.Content.Headers.ContentEncoding.Add("gzip");
        }

        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return await server.Client.SendAsync(request);
    }
}
