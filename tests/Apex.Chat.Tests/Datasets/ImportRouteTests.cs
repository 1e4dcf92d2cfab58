using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Apex.Agents.Catalog;
using Apex.Chat.Datasets;
using Apex.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using nietras.SeparatedValues;

namespace Apex.Chat.Tests.Datasets;

/// <summary>
/// Real exports (tests/fixtures/imports, see its README) uploaded over HTTP to a real server, analysed
/// by the agent, and the report checked against figures this test computes from the fixture's own rows.
/// </summary>
public sealed class ImportRouteTests : IAsyncLifetime
{
    private ApexTestServer _server = null!;

    public async Task InitializeAsync() => _server = await ApexTestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    /// <summary>One fixture row as this test reads it: its UTC day, its cost (null = unknown), failure, calls.</summary>
    private sealed record Row(DateOnly Day, decimal? Cost, bool Failed, long Requests);

    [Theory(Timeout = 60_000)]
    [InlineData("openai_activity_2026-11.csv", "openai_usage_csv", true, false)]
    [InlineData("openai_cost_2026-11.csv", "openai_cost_csv", false, true)]
    [InlineData("openai_usage_completions.json", "openai_usage_api", true, false)]
    [InlineData("claude_api_tokens_2026_11.csv", "anthropic_usage_csv", true, false)]
    [InlineData("anthropic_cost_2026_11.csv", "anthropic_cost_csv", false, true)]
    [InlineData("anthropic_usage_report_messages.json", "anthropic_usage_api", true, false)]
    [InlineData("litellm_spend_logs.csv", "litellm_spend_logs", false, false)]
    [InlineData("litellm_spend_logs.json", "litellm_spend_logs", false, false)]
    [InlineData("langfuse_generations.csv", "langfuse_generations", false, false)]
    [InlineData("helicone_export.jsonl", "helicone_requests", false, false)]
    [InlineData("helicone_export.csv", "helicone_requests", false, false)]
    [InlineData("openrouter_activity.csv", "openrouter_activity", false, false)]
    [InlineData("portkey_logs.jsonl", "portkey_logs", false, false)]
    [InlineData("bedrock_invocation_logs.jsonl", "bedrock_invocation_logs", false, false)]
    [InlineData("otel_genai_spans.json", "otel_genai_spans", false, false)]
    public async Task Each_export_is_recognised_and_the_report_matches_its_rows(string fixture, string format, bool aggregated, bool costOnly)
    {
        var user = await _server.RegisterUserAsync();
        using var client = _server.CreateClient(user);
        var bytes = await File.ReadAllBytesAsync(FixturePath(fixture));
        using var upload = await client.PostAsync("/api/datasets", Multipart(bytes, fixture));
        var created = await Json(upload);
        Assert.True(upload.StatusCode == HttpStatusCode.Created, created.ToString());
        Assert.Equal(format, created.GetProperty("source_format").GetString());
        Assert.False(string.IsNullOrWhiteSpace(created.GetProperty("source_format_name").GetString()));
        Assert.Equal(aggregated, created.GetProperty("aggregated").GetBoolean());
        Assert.Equal(costOnly, created.GetProperty("cost_only").GetBoolean());

        var rows = Expected(format, bytes, _server.Services.GetRequiredService<PriceCatalog>());
        Assert.Equal(rows.Count, created.GetProperty("rows").GetInt32());
        Assert.Equal(costOnly ? 0 : rows.Sum(r => r.Requests), created.GetProperty("calls").GetInt64());
        if (costOnly)
        {
            Assert.Contains(created.GetProperty("warnings").EnumerateArray(), w => w.GetString()!.Contains("usage export instead", StringComparison.Ordinal));
        }

        var days = rows.Max(r => r.Day).DayNumber - rows.Min(r => r.Day).DayNumber + 1;
        var factor = 30m / days;
        var total = rows.Sum(r => r.Cost ?? 0);
        var failed = rows.Where(r => r.Failed).Sum(r => r.Cost ?? 0);

        var report = await AnalyseAsync(client, created.GetProperty("id").GetString()!);
        var cost = report.GetProperty("cost_analysis");
        Assert.Equal(days, cost.GetProperty("period_days").GetInt32());
        // The analysis sums doubles, this test decimals: a figure at an exact half cent may round either way.
        Assert.InRange(cost.GetProperty("monthly_cost_usd").GetDecimal(), Cents(total * factor) - 0.01m, Cents(total * factor) + 0.01m);
        if (!costOnly)
        {
            Assert.Equal(rows.Sum(r => r.Requests), cost.GetProperty("calls").GetInt64());
        }

        var fix = report.GetProperty("recommendations").EnumerateArray().Where(r => r.GetProperty("id").GetString() == "fix-failed-calls").ToList();
        if (failed * factor >= 0.005m)
        {
            var savings = Assert.Single(fix).GetProperty("monthly_savings_usd").GetDecimal();
            Assert.InRange(savings, Cents(failed * factor) - 0.01m, Cents(failed * factor) + 0.01m);
        }
        else
        {
            Assert.Empty(fix);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Azure_request_response_logs_are_refused_with_the_export_to_make_instead()
    {
        var user = await _server.RegisterUserAsync();
        using var client = _server.CreateClient(user);
        using var response = await client.PostAsync("/api/datasets", Multipart(await File.ReadAllBytesAsync(FixturePath("azure_openai_requestresponse.jsonl")), "PT1H.json"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var body = await Json(response);
        Assert.Equal("no_token_counts", body.GetProperty("code").GetString());
        Assert.Contains("Input Tokens", body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await CountAsync());
    }

    [Fact(Timeout = 60_000)]
    public async Task An_unknown_csv_is_refused_with_its_columns_and_accepted_with_a_mapping()
    {
        var user = await _server.RegisterUserAsync();
        using var client = _server.CreateClient(user);
        var bytes = await File.ReadAllBytesAsync(FixturePath("custom_billing_report.csv"));
        using var refused = await client.PostAsync("/api/datasets", Multipart(bytes, "billing.csv"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        var problem = await Json(refused);
        Assert.Equal("unrecognized_format", problem.GetProperty("code").GetString());
        Assert.Equal(["Date", "Model", "Prompt Tokens", "Completion Tokens", "Cost", "App", "Outcome"],
            problem.GetProperty("columns_found").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal(["timestamp", "model", "input_tokens", "output_tokens"], problem.GetProperty("fields_needed").EnumerateArray().Select(c => c.GetString()));
        Assert.Contains("cost_usd", problem.GetProperty("fields_optional").EnumerateArray().Select(c => c.GetString()));
        Assert.Contains("input_tokens", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await CountAsync());

        var mapping = JsonSerializer.Serialize(new Dictionary<string, string>
        {
            ["timestamp"] = "Date",
            ["model"] = "Model",
            ["input_tokens"] = "Prompt Tokens",
            ["output_tokens"] = "Completion Tokens",
            ["cost_usd"] = "Cost",
            ["feature"] = "App",
            ["status"] = "Outcome",
        });
        var content = Multipart(bytes, "billing.csv");
        content.Add(new StringContent(mapping), "mapping");
        using var accepted = await client.PostAsync("/api/datasets", content);
        var created = await Json(accepted);
        Assert.True(accepted.StatusCode == HttpStatusCode.Created, created.ToString());
        Assert.Equal("custom_mapping", created.GetProperty("source_format").GetString());
        Assert.Equal(3, created.GetProperty("rows").GetInt32());
        Assert.Equal(3, created.GetProperty("calls").GetInt64());

        // Three days (Nov 3..5), $0.00963 in all, the $0.0045 error call failed.
        var report = await AnalyseAsync(client, created.GetProperty("id").GetString()!);
        Assert.Equal(Cents(0.00963m * 10), report.GetProperty("cost_analysis").GetProperty("monthly_cost_usd").GetDecimal());
        var fix = report.GetProperty("recommendations").EnumerateArray().Single(r => r.GetProperty("id").GetString() == "fix-failed-calls");
        Assert.Equal(Cents(0.0045m * 10), fix.GetProperty("monthly_savings_usd").GetDecimal());

        var bad = Multipart(bytes, "billing.csv");
        bad.Add(new StringContent("{\"timestamp\":\"Date\",\"model\":\"Nope\"}"), "mapping");
        using var badMapping = await client.PostAsync("/api/datasets", bad);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, badMapping.StatusCode);
        Assert.Equal("unrecognized_format", (await Json(badMapping)).GetProperty("code").GetString());
    }

    [Fact(Timeout = 30_000)]
    public async Task Json_rows_with_a_mapping_are_read_through_it()
    {
        var user = await _server.RegisterUserAsync();
        using var client = _server.CreateClient(user);
        using var response = await client.PostAsJsonAsync("/api/datasets", new
        {
            name = "mapped rows",
            rows = new object[]
            {
                new Dictionary<string, object> { ["when"] = "2026-11-03T08:00:00Z", ["llm"] = "gpt-4o", ["in"] = 1000, ["out"] = 200 },
                new Dictionary<string, object> { ["when"] = "2026-11-03T09:00:00Z", ["llm"] = "gpt-4o", ["in"] = -5, ["out"] = 200 },
            },
            mapping = new Dictionary<string, string> { ["timestamp"] = "when", ["model"] = "llm", ["input_tokens"] = "in", ["output_tokens"] = "out" },
        });
        var created = await Json(response);
        Assert.True(response.StatusCode == HttpStatusCode.Created, created.ToString());
        Assert.Equal("custom_mapping", created.GetProperty("source_format").GetString());
        Assert.Equal(1, created.GetProperty("rows").GetInt32());
        Assert.Contains("Record 2: skipped, input_tokens (in) is negative.", created.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_json_array_file_uploaded_with_a_mapping_is_read_through_it()
    {
        var user = await _server.RegisterUserAsync();
        using var client = _server.CreateClient(user);
        var file = Encoding.UTF8.GetBytes(
            "[{\"when\":\"2026-11-03T08:00:00Z\",\"llm\":\"gpt-4o\",\"in\":1000,\"out\":200}," +
            "{\"when\":\"2026-11-03T09:00:00Z\",\"llm\":\"gpt-4o\",\"in\":2000,\"out\":100}]");
        using (var refused = await client.PostAsync("/api/datasets", Multipart(file, "calls.json")))
        {
            Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        }

        var content = Multipart(file, "calls.json");
        content.Add(new StringContent("{\"timestamp\":\"when\",\"model\":\"llm\",\"input_tokens\":\"in\",\"output_tokens\":\"out\"}"), "mapping");
        using var response = await client.PostAsync("/api/datasets", content);
        var created = await Json(response);
        Assert.True(response.StatusCode == HttpStatusCode.Created, created.ToString());
        Assert.Equal("custom_mapping", created.GetProperty("source_format").GetString());
        Assert.Equal(2, created.GetProperty("rows").GetInt32());
    }

    [Fact(Timeout = 30_000)]
    public async Task A_gzip_compressed_export_is_read_like_the_plain_one()
    {
        var user = await _server.RegisterUserAsync();
        using var client = _server.CreateClient(user);
        var plain = await File.ReadAllBytesAsync(FixturePath("litellm_spend_logs.csv"));
        using var packed = new MemoryStream();
        using (var gzip = new GZipStream(packed, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(plain);
        }

        using var response = await client.PostAsync("/api/datasets", Multipart(packed.ToArray(), "LiteLLM_SpendLogs.csv.gz"));
        var created = await Json(response);
        Assert.True(response.StatusCode == HttpStatusCode.Created, created.ToString());
        Assert.Equal("litellm_spend_logs", created.GetProperty("source_format").GetString());
        Assert.Equal(7, created.GetProperty("rows").GetInt32());
    }

    [Fact(Timeout = 30_000)]
    public async Task A_gzip_upload_that_inflates_beyond_its_limit_is_refused_and_stores_nothing()
    {
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?> { ["Datasets:MaxUploadBytes"] = "4096" });
        var user = await server.RegisterUserAsync();
        using var client = server.CreateClient(user);
        var csv = new StringBuilder("timestamp,model,input_tokens,output_tokens\n");
        while (csv.Length < 200_000)
        {
            csv.Append("2026-11-01T10:00:00Z,gpt-4o,100,10\n");
        }

        using var packed = new MemoryStream();
        using (var gzip = new GZipStream(packed, CompressionLevel.SmallestSize, leaveOpen: true))
        {
            gzip.Write(Encoding.UTF8.GetBytes(csv.ToString()));
        }

        Assert.True(packed.Length < 4096);
        using var response = await client.PostAsync("/api/datasets", Multipart(packed.ToArray(), "usage.csv.gz"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("inflates", (await Json(response)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Empty((await Json(await client.GetAsync("/api/datasets"))).GetProperty("items").EnumerateArray());
    }

    [Fact(Timeout = 30_000)]
    public async Task A_multipart_body_without_its_closing_boundary_is_a_400_and_stores_nothing()
    {
        var user = await _server.RegisterUserAsync();
        using var client = _server.CreateClient(user);
        const string boundary = "apex-boundary-7d1";
        var body = $"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"usage.csv\"\r\nContent-Type: text/csv\r\n\r\n"
                   + "timestamp,model,input_tokens,output_tokens\r\n2026-11-01T10:00:00Z,gpt-4o,100,10\r\n";
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse($"multipart/form-data; boundary={boundary}");
        using var response = await client.PostAsync("/api/datasets", content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, await CountAsync());
    }

    [Fact(Timeout = 30_000)]
    public async Task A_body_shorter_than_its_content_length_is_a_400_and_stores_nothing()
    {
        var user = await _server.RegisterUserAsync();
        const string boundary = "apex-boundary-9f2";
        var part = $"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"usage.csv\"\r\nContent-Type: text/csv\r\n\r\n"
                   + "timestamp,model,input_tokens,output_tokens\r\n2026-11-01T10:00:00Z,gpt-4o,100,10\r\n";
        var sent = Encoding.UTF8.GetBytes(part);
        var head = $"POST /api/datasets HTTP/1.1\r\nHost: {_server.BaseAddress.Authority}\r\nAuthorization: Bearer {user.AccessToken}\r\n"
                   + $"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {sent.Length + 5000}\r\n\r\n";
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(_server.BaseAddress.Host, _server.BaseAddress.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        await stream.WriteAsync(sent);
        await stream.FlushAsync();
        tcp.Client.Shutdown(SocketShutdown.Send);

        // The server either answers 400 or, seeing the client's end of stream, closes the connection:
        // never a 500, never a stored dataset, and it keeps serving.
        using var reader = new StreamReader(stream, Encoding.ASCII);
        string? status;
        try
        {
            status = await reader.ReadLineAsync();
        }
        catch (IOException)
        {
            status = null; // reset by the server: closed without an answer
        }

        if (status is not null)
        {
            Assert.StartsWith("HTTP/1.1 400", status, StringComparison.Ordinal);
        }

        Assert.Equal(0, await CountAsync());
        using var client = _server.CreateClient(user);
        using var after = await client.PostAsync("/api/datasets", Multipart(await File.ReadAllBytesAsync(FixturePath("helicone_export.csv")), "h.csv"));
        Assert.Equal(HttpStatusCode.Created, after.StatusCode);
    }

    /// <summary>Posts the plan request with the dataset and waits for the run to end; returns its report.</summary>
    private static async Task<JsonElement> AnalyseAsync(HttpClient client, string datasetId)
    {
        var thread = await Json(await client.PostAsJsonAsync("/api/threads", new { title = "imports" }));
        var posted = await Json(await client.PostAsJsonAsync($"/api/threads/{thread.GetProperty("id").GetString()}/messages",
            new { content = "Analyse the usage file I uploaded and give me a 4-week plan.", dataset_id = datasetId }));
        var runId = posted.GetProperty("run").GetProperty("id").GetString();
        var run = await client.WaitForRunAsync(runId!);

        Assert.True(run.GetProperty("status").GetString() == "completed", run.ToString());
        return run.GetProperty("report");
    }

    private static decimal Cents(decimal v) => Math.Round(v, 2, MidpointRounding.AwayFromZero);

    /// <summary>The fixture's rows read by this test on its own, per the vendor's published schema.</summary>
    private static List<Row> Expected(string format, byte[] bytes, PriceCatalog catalog)
    {
        var text = Encoding.UTF8.GetString(bytes);
        decimal? Price(string model, long input, long read, long write, long output)
        {
            if (catalog.Find(model) is not { } p)
            {
                return null;
            }

            return ((input - read - write) * p.InputPerMillion + read * p.CachedInputPerMillion + write * (p.CacheWritePerMillion ?? p.InputPerMillion)
                    + output * p.OutputPerMillion) / 1_000_000m;
        }

        static DateOnly Day(string s) => DateOnly.FromDateTime(DateTime.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal));
        static DateOnly EpochDay(long seconds) => DateOnly.FromDateTime(DateTimeOffset.FromUnixTimeSeconds(seconds).UtcDateTime);
        static decimal Dec(string s) => decimal.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);
        static long L(string s) => s.Length == 0 ? 0 : long.Parse(s, CultureInfo.InvariantCulture);

        List<Row> Csv(Func<Func<string, string>, Row?> read)
        {
            using var reader = Sep.Reader(o => o with { Unescape = true }).FromText(text);
            var list = new List<Row>();
            var names = reader.Header.ColNames;
            foreach (var r in reader)
            {
                var values = new Dictionary<string, string>();
                for (var i = 0; i < names.Count; i++)
                {
                    values[names[i]] = r[i].ToString();
                }

                if (read(name => values[name]) is { } x)
                {
                    list.Add(x);
                }
            }

            return list;
        }

        List<JsonElement> Lines() => [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone())];
        static long N(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : 0;
        static string S(JsonElement e, string name) => e.TryGetProperty(name, out var v) ? v.ToString() : string.Empty;

        switch (format)
        {
            case "openai_usage_csv":
                return Csv(g => new Row(Day(g("start_time_iso")), Price(g("model"), L(g("input_tokens")), L(g("input_cached_tokens")), 0, L(g("output_tokens"))), false, L(g("num_model_requests"))));
            case "openai_cost_csv":
                return Csv(g => new Row(Day(g("start_time_iso")), Dec(g("amount_value")), false, 1));
            case "openai_usage_api":
                return [.. JsonDocument.Parse(text).RootElement.GetProperty("data").EnumerateArray().SelectMany(b => b.GetProperty("results").EnumerateArray()
                    .Select(r => new Row(EpochDay(N(b, "start_time")), Price(S(r, "model"), N(r, "input_tokens"), N(r, "input_cached_tokens"), 0, N(r, "output_tokens")), false, N(r, "num_model_requests"))))];
            case "anthropic_usage_csv":
                return Csv(g =>
                {
                    long write = L(g("usage_input_tokens_cache_write_5m")) + L(g("usage_input_tokens_cache_write_1h")), read = L(g("usage_input_tokens_cache_read"));
                    return new Row(Day(g("usage_date_utc")), Price(g("model_version"), L(g("usage_input_tokens_no_cache")) + write + read, read, write, L(g("usage_output_tokens"))), false, 1);
                });
            case "anthropic_cost_csv":
                return Csv(g => new Row(Day(g("usage_date_utc")), Dec(g("cost_usd")), false, 1));
            case "anthropic_usage_api":
                return [.. JsonDocument.Parse(text).RootElement.GetProperty("data").EnumerateArray().SelectMany(b => b.GetProperty("results").EnumerateArray().Select(r =>
                {
                    var cc = r.GetProperty("cache_creation");
                    long write = N(cc, "ephemeral_5m_input_tokens") + N(cc, "ephemeral_1h_input_tokens"), read = N(r, "cache_read_input_tokens");
                    return new Row(Day(S(b, "starting_at")), Price(S(r, "model"), N(r, "uncached_input_tokens") + write + read, read, write, N(r, "output_tokens")), false, 1);
                }))];
            case "litellm_spend_logs" when text.TrimStart().StartsWith('['):
                return [.. JsonDocument.Parse(text).RootElement.EnumerateArray().Select(r => new Row(Day(S(r, "startTime")), r.GetProperty("spend").GetDecimal(), S(r, "status") == "failure", 1))];
            case "litellm_spend_logs":
                return Csv(g => new Row(Day(g("startTime")), Dec(g("spend")), g("status") == "failure", 1));
            case "langfuse_generations":
                return Csv(g => g("type") != "GENERATION" ? null : new Row(Day(g("startTime")), Dec(g("calculatedTotalCost")), g("level") == "ERROR", 1));
            case "helicone_requests" when text.StartsWith('{'):
                return [.. Lines().Select(r => new Row(Day(S(r, "request_created_at")), r.GetProperty("cost").GetDecimal(), N(r, "response_status") >= 400, 1))];
            case "helicone_requests":
                return Csv(g => new Row(Day(g("request_created_at")), Dec(g("cost")), L(g("response_status")) >= 400, 1));
            case "openrouter_activity":
                return Csv(g => new Row(Day(g("created_at")), Dec(g("cost_total")), g("cancelled") == "true", 1));
            case "portkey_logs":
                // Portkey's cost is in cents.
                return [.. Lines().Select(r => new Row(Day(S(r, "created_at")), r.GetProperty("cost").GetDecimal() / 100, N(r, "response_status_code") >= 400 || !r.GetProperty("is_success").GetBoolean(), 1))];
            case "bedrock_invocation_logs":
                return [.. Lines().Select(r =>
                {
                    var input = r.GetProperty("input");
                    long read = N(input, "cacheReadInputTokenCount"), write = N(input, "cacheWriteInputTokenCount");
                    var output = r.TryGetProperty("output", out var o) ? N(o, "outputTokenCount") : 0;
                    return new Row(Day(S(r, "timestamp")), Price(S(r, "modelId"), N(input, "inputTokenCount") + read + write, read, write, output), r.TryGetProperty("errorCode", out _), 1);
                })];
            case "otel_genai_spans":
                var spans = new List<Row>();
                foreach (var resource in JsonDocument.Parse(text).RootElement.GetProperty("resourceSpans").EnumerateArray())
                {
                    foreach (var span in resource.GetProperty("scopeSpans").EnumerateArray().SelectMany(s => s.GetProperty("spans").EnumerateArray()))
                    {
                        var attributes = span.GetProperty("attributes").EnumerateArray().ToDictionary(a => a.GetProperty("key").GetString()!, a => a.GetProperty("value").EnumerateObject().First().Value.ToString());
                        if (!attributes.TryGetValue("gen_ai.usage.input_tokens", out var input))
                        {
                            continue;
                        }

                        var model = attributes.GetValueOrDefault("gen_ai.response.model") ?? attributes["gen_ai.request.model"];
                        var read = L(attributes.GetValueOrDefault("gen_ai.usage.cache_read.input_tokens") ?? string.Empty);
                        var day = DateOnly.FromDateTime(DateTimeOffset.FromUnixTimeMilliseconds(L(span.GetProperty("startTimeUnixNano").GetString()!) / 1_000_000).UtcDateTime);
                        spans.Add(new Row(day, Price(model, L(input), read, 0, L(attributes["gen_ai.usage.output_tokens"])), span.GetProperty("status").TryGetProperty("code", out var c) && c.GetInt32() == 2, 1));
                    }
                }

                return spans;
            default:
                throw new ArgumentOutOfRangeException(nameof(format), format, null);
        }
    }

    private async Task<int> CountAsync()
    {
        await using var scope = _server.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DatasetsDbContext>();
        return await db.Datasets.CountAsync() + await db.Chunks.CountAsync();
    }

    internal static string FixturePath(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "tests", "fixtures", "imports", name);
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new FileNotFoundException("Fixture not found above the test binaries.", name);
    }

    private static MultipartFormDataContent Multipart(byte[] bytes, string name)
    {
        var content = new MultipartFormDataContent();
        var file = new ByteArrayContent(bytes);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Add(file, "file", name);
        return content;
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
