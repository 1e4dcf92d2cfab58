using System.Net;
using System.Text.Json;
using Apex.Testing;

namespace Apex.Chat.Tests;

public sealed class ServiceRouteTests
{
    private static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.Clone();
    }

    [Fact(Timeout = 30_000)]
    public async Task Health_reports_every_check_and_the_service()
    {
        await using var server = await ApexTestServer.StartAsync();
        using var response = await server.Client.GetAsync(new Uri("/health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await ReadJsonAsync(response);
        Assert.Equal("healthy", body.GetProperty("status").GetString());
        Assert.Equal("apex", body.GetProperty("service").GetString());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("version").GetString()));
        Assert.True(body.GetProperty("uptime_seconds").GetDouble() >= 0);
        Assert.Equal("ok", body.GetProperty("database").GetString());
        Assert.Equal("ok", body.GetProperty("checks").GetProperty("database").GetString());
        var expectedBus = server.Services.GetService(typeof(Apex.Realtime.Broker.IEventBroker)) is null ? "not_applicable" : "ok";
        Assert.Equal(expectedBus, body.GetProperty("checks").GetProperty("event_bus").GetString());
    }

    [SqliteOnlyFact(Timeout = 30_000)]
    public async Task Health_and_ready_are_503_when_the_database_cannot_be_opened()
    {
        await using var server = await ApexTestServer.StartAsync();
        using var ok = await server.Client.GetAsync(new Uri("/health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);

        // The database file replaced by a directory: SQLite cannot open it.
        var dbFile = Path.Combine(server.DataDir, "apex.db");
        foreach (var file in new[] { dbFile, dbFile + "-wal", dbFile + "-shm" })
        {
            File.Delete(file);
        }

        Directory.CreateDirectory(dbFile);
        using var response = await server.Client.GetAsync(new Uri("/health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var body = await ReadJsonAsync(response);
        Assert.Equal("unhealthy", body.GetProperty("status").GetString());
        Assert.Equal("error", body.GetProperty("database").GetString());
        Assert.Equal("error", body.GetProperty("checks").GetProperty("database").GetString());
        Assert.Equal("ok", body.GetProperty("checks").GetProperty("event_bus").GetString());
        Assert.DoesNotContain(server.DataDir, body.GetRawText(), StringComparison.Ordinal);
        using var ready = await server.Client.GetAsync(new Uri("/health/ready", UriKind.Relative));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal("not_ready", (await ReadJsonAsync(ready)).GetProperty("status").GetString());
        using var live = await server.Client.GetAsync(new Uri("/health/live", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    [Fact(Timeout = 30_000)]
    public async Task Role_auth_serves_auth_health_and_reports_no_event_bus()
    {
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?> { ["Apex:Role"] = "Auth" });
        using var response = await server.Client.GetAsync(new Uri("/auth/health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await ReadJsonAsync(response);
        Assert.Equal("apex-auth", body.GetProperty("service").GetString());
        Assert.Equal("not_applicable", body.GetProperty("checks").GetProperty("event_bus").GetString());
        using var ready = await server.Client.GetAsync(new Uri("/health/ready", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }

    [Fact(Timeout = 30_000)]
    public async Task Role_api_has_no_auth_health()
    {
        // The API role validates tokens against an auth node's JWKS and refuses to start without its URL.
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Apex:Role"] = "Api",
            ["Auth:JwksUrl"] = "http://127.0.0.1:9/.well-known/jwks.json",
        });
        using var response = await server.Client.GetAsync(new Uri("/auth/health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        using var health = await server.Client.GetAsync(new Uri("/health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact(Timeout = 30_000)]
    public async Task Live_and_ready_answer_200()
    {
        await using var server = await ApexTestServer.StartAsync();
        using var live = await server.Client.GetAsync(new Uri("/health/live", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        using var ready = await server.Client.GetAsync(new Uri("/health/ready", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        var body = await ReadJsonAsync(ready);
        Assert.Equal("ready", body.GetProperty("status").GetString());
        Assert.Equal("ok", body.GetProperty("checks").GetProperty("database").GetString());
    }

    [Fact(Timeout = 30_000)]
    public async Task Public_config_tells_the_web_app_where_to_go()
    {
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Apex:PublicUrl"] = "https://apex.example.com/",
        });
        using var response = await server.Client.GetAsync(new Uri("/api/config/public", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await ReadJsonAsync(response);
        Assert.Equal("Apex", body.GetProperty("app_name").GetString());
        Assert.Equal("Development", body.GetProperty("environment").GetString());
        Assert.Equal("https://apex.example.com/auth", body.GetProperty("auth_url").GetString());
        Assert.Equal("wss://apex.example.com/ws", body.GetProperty("ws_url").GetString());
        Assert.True(body.GetProperty("features").GetProperty("chat").GetBoolean());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("version").GetString()));
    }

    [Fact(Timeout = 30_000)]
    public async Task Public_config_defaults_to_the_request_host()
    {
        await using var server = await ApexTestServer.StartAsync();
        var body = await ReadJsonAsync(await server.Client.GetAsync(new Uri("/api/config/public", UriKind.Relative)));
        var authority = server.BaseAddress.Authority;
        Assert.Equal($"http://{authority}/auth", body.GetProperty("auth_url").GetString());
        Assert.Equal($"ws://{authority}/ws", body.GetProperty("ws_url").GetString());
    }

    [Fact(Timeout = 30_000)]
    public async Task OpenApi_document_lists_every_route()
    {
        await using var server = await ApexTestServer.StartAsync();
        using var response = await server.Client.GetAsync(new Uri("/openapi/v1.json", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var paths = (await ReadJsonAsync(response)).GetProperty("paths");
        string[] expected =
        [
            "/health", "/auth/health", "/health/live", "/health/ready", "/api/config/public",
            "/api/threads", "/api/threads/{id}", "/api/threads/{id}/messages",
            "/api/runs/{id}", "/api/runs/{id}/events", "/api/runs/{id}/cancel",
        ];
        foreach (var path in expected)
        {
            Assert.True(paths.TryGetProperty(path, out _), $"OpenAPI lacks {path}");
        }

        var thread = paths.GetProperty("/api/threads/{id}");
        Assert.True(thread.TryGetProperty("get", out _));
        Assert.True(thread.TryGetProperty("patch", out _));
        Assert.True(thread.TryGetProperty("delete", out _));
        var postMessage = paths.GetProperty("/api/threads/{id}/messages").GetProperty("post").GetProperty("responses");
        foreach (var code in new[] { "202", "401", "404", "409", "422" })
        {
            Assert.True(postMessage.TryGetProperty(code, out _), $"POST messages lacks {code}");
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Metrics_are_prometheus_text_with_the_run_metrics()
    {
        await using var server = await ApexTestServer.StartAsync();
        using var response = await server.Client.GetAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("# TYPE apex_runs_total counter", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE apex_run_duration_seconds histogram", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE apex_runs_active gauge", text, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Metrics_can_be_turned_off()
    {
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?> { ["Service:Metrics:Enabled"] = "false" });
        using var response = await server.Client.GetAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}
