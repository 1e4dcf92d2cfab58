using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Apex.Chat.Datasets;
using Apex.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Apex.Chat.Tests.Datasets;

/// <summary>The dataset routes over real HTTP, with real users and tokens, on a real SQLite file.</summary>
public sealed class DatasetRouteTests : IAsyncLifetime
{
    private const string GoodCsv =
        "timestamp,model,input_tokens,output_tokens,latency_ms,feature,prompt_hash,status,cost_usd\r\n" +
        "2026-11-01T10:00:00Z,gpt-4o,1000,200,900,support,p1,ok,\r\n" +
        "2026-11-01T10:30:00Z,gpt-4o,1000,200,950,support,p1,ok,\r\n" +
        "2026-11-02T09:00:00Z,gpt-4o-mini,3000,100,400,search,p2,error,\r\n" +
        "2026-11-03T09:00:00Z,in-house-llm,500,50,200,search,p3,ok,\r\n";

    private ApexTestServer _server = null!;

    public async Task InitializeAsync() => _server = await ApexTestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact(Timeout = 30_000)]
    public async Task Upload_list_get_and_delete_a_csv_dataset()
    {
        var user = await _server.RegisterUserAsync();
        using var client = _server.CreateClient(user);
        using var response = await client.PostAsync("/api/datasets", File(GoodCsv, "usage.csv"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = await Json(response);
        var id = created.GetProperty("id").GetString()!;
        Assert.StartsWith("ds_", id, StringComparison.Ordinal);
        Assert.Equal($"/api/datasets/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal("usage.csv", created.GetProperty("name").GetString());
        Assert.Equal(4, created.GetProperty("rows").GetInt32());
        Assert.Contains("prompt_hash", created.GetProperty("columns").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal(new DateTimeOffset(2026, 11, 1, 10, 0, 0, TimeSpan.Zero), created.GetProperty("period_start").GetDateTimeOffset());
        Assert.Equal(new DateTimeOffset(2026, 11, 3, 9, 0, 0, TimeSpan.Zero), created.GetProperty("period_end").GetDateTimeOffset());
        Assert.Contains(created.GetProperty("warnings").EnumerateArray(), w => w.GetString()!.Contains("'in-house-llm'", StringComparison.Ordinal));

        var one = await Json(await client.GetAsync($"/api/datasets/{id}"));
        Assert.Equal(4, one.GetProperty("rows").GetInt32());
        var list = await Json(await client.GetAsync("/api/datasets"));
        Assert.Equal(id, Assert.Single(list.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());

        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/api/datasets/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/api/datasets/{id}")).StatusCode);
        Assert.Equal(0, await ChunkCountAsync());
    }

    [Fact(Timeout = 30_000)]
    public async Task Json_lines_and_json_rows_are_accepted()
    {
        var user = await _server.RegisterUserAsync();
        using var client = _server.CreateClient(user);
        var jsonl = "{\"timestamp\":\"2026-11-01T10:00:00Z\",\"model\":\"gpt-4o\",\"input_tokens\":100,\"output_tokens\":10}\n";
        using var fromFile = await client.PostAsync("/api/datasets", File(jsonl, "usage.jsonl"));
        Assert.Equal(HttpStatusCode.Created, fromFile.StatusCode);

        using var fromBody = await client.PostAsJsonAsync("/api/datasets", new
        {
            name = "api rows",
            rows = new object[]
            {
                new { timestamp = "2026-11-01T10:00:00Z", model = "claude-sonnet-4", input_tokens = 100, output_tokens = 10 },
                new { timestamp = "2026-11-01T11:00:00Z", model = "claude-sonnet-4", input_tokens = -3, output_tokens = 10 },
            },
        });
        Assert.Equal(HttpStatusCode.Created, fromBody.StatusCode);
        var body = await Json(fromBody);
        Assert.Equal("api rows", body.GetProperty("name").GetString());
        Assert.Equal(1, body.GetProperty("rows").GetInt32());
        Assert.Contains("Row 2: skipped, input_tokens is negative.", body.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()));
    }

    [Fact(Timeout = 30_000)]
    public async Task Bad_rows_are_reported_with_line_numbers()
    {
        var user = await _server.RegisterUserAsync();
        using var client = _server.CreateClient(user);
        var csv = "timestamp,model,input_tokens,output_tokens\n" +
                  "2026-11-01T10:00:00Z,gpt-4o,100,10\n" +
                  "2026-11-01T10:00:00Z,gpt-4o,100\n" +            // mismatched columns
                  "2026-11-01T10:00:00Z,gpt-4o,-100,10\n" +        // negative tokens
                  "2099-01-01T00:00:00Z,gpt-4o,100,10\n";          // future date
        using var response = await client.PostAsync("/api/datasets", File(csv, "usage.csv"));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await Json(response);
        Assert.Equal(1, body.GetProperty("rows").GetInt32());
        var warnings = body.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()).ToList();
        Assert.Contains("Line 3: skipped, expected 4 columns, found 3.", warnings);
        Assert.Contains("Line 4: skipped, input_tokens is negative.", warnings);
        Assert.Contains("Line 5: skipped, timestamp is in the future.", warnings);
    }

    [Fact(Timeout = 60_000)]
    public async Task Unusable_uploads_get_clear_errors_and_store_nothing()
    {
        var user = await _server.RegisterUserAsync();
        using var client = _server.CreateClient(user);

        var empty = await client.PostAsync("/api/datasets", File("", "usage.csv"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, empty.StatusCode);
        Assert.Equal("application/problem+json", empty.Content.Headers.ContentType?.MediaType);
        Assert.Contains("empty", (await Json(empty)).GetProperty("detail").GetString(), StringComparison.Ordinal);

        var garbage = new byte[64 * 1024];
        new Random(11).NextBytes(garbage);
        var binary = await client.PostAsync("/api/datasets", File(garbage, "usage.csv"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, binary.StatusCode);
        Assert.Contains("not text", (await Json(binary)).GetProperty("detail").GetString(), StringComparison.Ordinal);

        var allBad = await client.PostAsync("/api/datasets", File("timestamp,model,input_tokens,output_tokens\n2026-11-01T10:00:00Z,gpt-4o,-1,-1\n", "usage.csv"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, allBad.StatusCode);
        var allBadBody = await Json(allBad);
        Assert.Contains("Line 2: skipped, input_tokens is negative.", allBadBody.GetProperty("warnings").EnumerateArray().Select(w => w.GetString()));

        var noColumns = await client.PostAsync("/api/datasets", File("when,what\n2026-11-01,x\n", "usage.csv"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, noColumns.StatusCode);
        Assert.Contains("input_tokens", (await Json(noColumns)).GetProperty("detail").GetString(), StringComparison.Ordinal);

        // 51 MB against the 50 MB default; Expect: 100-continue lets the server refuse before the body is sent.
        var big = new byte[51 * 1024 * 1024];
        Array.Fill(big, (byte)'a');
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/datasets") { Content = File(big, "big.csv") };
        request.Headers.ExpectContinue = true;
        using var tooLarge = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
        Assert.Contains("Datasets:MaxUploadBytes", (await Json(tooLarge)).GetProperty("detail").GetString(), StringComparison.Ordinal);

        Assert.Empty((await Json(await client.GetAsync("/api/datasets"))).GetProperty("items").EnumerateArray());
        Assert.Equal(0, await ChunkCountAsync());
    }

    [Fact(Timeout = 30_000)]
    public async Task The_upload_limit_is_configurable_and_also_holds_without_a_content_length()
    {
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?> { ["Datasets:MaxUploadBytes"] = "2048" });
        var user = await server.RegisterUserAsync();
        using var client = server.CreateClient(user);
        var csv = new StringBuilder("timestamp,model,input_tokens,output_tokens\n");
        while (csv.Length < 200_000)
        {
            csv.Append("2026-11-01T10:00:00Z,gpt-4o,100,10\n");
        }

        // A streamed body has no Content-Length: the limit is enforced while reading.
        var content = new MultipartFormDataContent();
        var stream = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(csv.ToString())));
        stream.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        content.Add(stream, "file", "usage.csv");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/datasets") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Empty((await Json(await client.GetAsync("/api/datasets"))).GetProperty("items").EnumerateArray());
    }

    [Fact(Timeout = 30_000)]
    public async Task Another_users_dataset_is_not_found_everywhere()
    {
        var owner = await _server.RegisterUserAsync();
        var other = await _server.RegisterUserAsync();
        using var ownerClient = _server.CreateClient(owner);
        using var otherClient = _server.CreateClient(other);
        var id = (await Json(await ownerClient.PostAsync("/api/datasets", File(GoodCsv, "usage.csv")))).GetProperty("id").GetString();

        var get = await otherClient.GetAsync($"/api/datasets/{id}");
        Assert.Equal(HttpStatusCode.NotFound, get.StatusCode);
        Assert.Equal("not_found", (await Json(get)).GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await otherClient.DeleteAsync($"/api/datasets/{id}")).StatusCode);
        Assert.Empty((await Json(await otherClient.GetAsync("/api/datasets"))).GetProperty("items").EnumerateArray());
        Assert.Equal(HttpStatusCode.NotFound, (await otherClient.GetAsync("/api/datasets/ds_01JZZZZZZZZZZZZZZZZZZZZZZZ")).StatusCode);

        // Attaching it to a message is refused as well, and the owner still has it.
        var thread = await Json(await otherClient.PostAsJsonAsync("/api/threads", new { title = "t" }));
        var attach = await otherClient.PostAsJsonAsync($"/api/threads/{thread.GetProperty("id").GetString()}/messages", new { content = "Analyse it", dataset_id = id });
        Assert.Equal(HttpStatusCode.NotFound, attach.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ownerClient.GetAsync($"/api/datasets/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _server.Client.GetAsync($"/api/datasets/{id}")).StatusCode);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_message_with_a_dataset_runs_the_agent_and_stores_the_report()
    {
        var user = await _server.RegisterUserAsync();
        using var client = _server.CreateClient(user);
        var id = (await Json(await client.PostAsync("/api/datasets", File(GoodCsv, "usage.csv")))).GetProperty("id").GetString();
        var thread = await Json(await client.PostAsJsonAsync("/api/threads", new { title = "costs" }));
        var threadId = thread.GetProperty("id").GetString();
        var posted = await Json(await client.PostAsJsonAsync($"/api/threads/{threadId}/messages",
            new { content = "Analyse the usage file I uploaded and give me a 4-week plan.", dataset_id = id }));
        var runId = posted.GetProperty("run").GetProperty("id").GetString();

        var run = await client.WaitForRunAsync(runId!);

        Assert.Equal("completed", run.GetProperty("status").GetString());
        var report = run.GetProperty("report");
        Assert.False(report.GetProperty("estimate").GetBoolean());
        Assert.Equal(4, report.GetProperty("cost_analysis").GetProperty("calls").GetInt64());
        // gpt-4o 1,000 in / 200 out at 2.50 / 10.00 per million = 0.0045 a call; the second call repeats the first.
        var cache = report.GetProperty("recommendations").EnumerateArray().Single(r => r.GetProperty("id").GetString() == "cache-exact-repeats");
        Assert.Equal(Math.Round(0.0045m * 30 / 3, 2, MidpointRounding.AwayFromZero), cache.GetProperty("monthly_savings_usd").GetDecimal());

        var messages = await Json(await client.GetAsync($"/api/threads/{threadId}/messages"));
        var answer = messages.GetProperty("items").EnumerateArray().Last().GetProperty("content").GetString();
        Assert.Contains(report.GetProperty("summary").GetString()!, answer);
    }

    private async Task<int> ChunkCountAsync()
    {
        await using var scope = _server.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<DatasetsDbContext>().Chunks.CountAsync();
    }

    private static MultipartFormDataContent File(string text, string name) => File(Encoding.UTF8.GetBytes(text), name);

    private static MultipartFormDataContent File(byte[] bytes, string name)
    {
        var content = new MultipartFormDataContent();
        var file = new ByteArrayContent(bytes);
        file.Headers.ContentType = new MediaTypeHeaderValue(name.EndsWith(".jsonl", StringComparison.Ordinal) ? "application/x-ndjson" : "text/csv");
        content.Add(file, "file", name);
        return content;
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
