using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Apex.Testing;
using Microsoft.AspNetCore.Builder;

namespace Apex.Chat.Tests;

/// <summary>A signed-in test user with a REST client.</summary>
internal sealed class ChatUser(ApexTestServer server, TestUser user) : IDisposable
{
    public TestUser User { get; } = user;
    public string Id => User.Id;
    public HttpClient Http { get; } = server.CreateClient(user);

    public static async Task<ChatUser> CreateAsync(ApexTestServer server) => new(server, await server.RegisterUserAsync());

    public async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        if (text.Length == 0)
        {
            return (response.StatusCode, default);
        }

        using var doc = JsonDocument.Parse(text);
        return (response.StatusCode, doc.RootElement.Clone());
    }

    public Task<(HttpStatusCode Status, JsonElement Body)> GetAsync(string path) => SendAsync(HttpMethod.Get, path);

    public Task<(HttpStatusCode Status, JsonElement Body)> PostAsync(string path, object? body = null) => SendAsync(HttpMethod.Post, path, body);

    public async Task<string> CreateThreadAsync(string? title = null)
    {
        var (status, body) = await PostAsync("/api/threads", title is null ? new { } : new { title });
        Assert.Equal(HttpStatusCode.Created, status);
        return body.GetProperty("id").GetString()!;
    }

    /// <summary>Polls GET /api/runs/{id} until the run leaves queued/running.</summary>
    public Task<JsonElement> WaitForRunAsync(string runId, TimeSpan? timeout = null) => Http.WaitForRunAsync(runId, timeout);

    public async Task<List<JsonElement>> EventsAsync(string runId, long afterSeq = 0)
    {
        var (status, body) = await GetAsync($"/api/runs/{runId}/events?after_seq={afterSeq}&limit=200");
        Assert.Equal(HttpStatusCode.OK, status);
        return [.. body.GetProperty("items").EnumerateArray()];
    }

    public void Dispose() => Http.Dispose();
}

internal static class ChatTestKit
{
    public static Task<ApexTestServer> StartAsync(ScriptedAgent? agent = null, IDictionary<string, string?>? settings = null, string? dataDir = null) =>
        ApexTestServer.StartAsync(settings, b => Register(b, agent ?? new ScriptedAgent()), dataDir);

    private static void Register(WebApplicationBuilder builder, ScriptedAgent agent) => ScriptedAgent.Register(builder, agent);

    public static string Type(this JsonElement frame) => frame.GetProperty("type").GetString()!;

    public static string? Str(this JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    public static bool IsTerminal(this JsonElement frame) =>
        frame.Type() is "agent_completed" or "agent_error"
        && frame.TryGetProperty("payload", out var p) && p.TryGetProperty("final", out var f) && f.ValueKind == JsonValueKind.True;

    public static bool IsTerminalOf(this JsonElement frame, string runId) => frame.IsTerminal() && frame.Str("run_id") == runId;

    /// <summary>
    /// The run semantics of docs/spec/realtime-protocol.md section 4 on one run's events: opens with the top
    /// agent's agent_started, seq strictly +1, tool calls paired, sub-agents closed, exactly one
    /// terminal event and it is last.
    /// </summary>
    public static void AssertWellFormedRun(IReadOnlyList<JsonElement> events, bool seqContiguous = true)
    {
        Assert.NotEmpty(events);
        Assert.Equal("agent_started", events[0].Type());
        Assert.Equal("apex", events[0].Str("agent_name"));
        Assert.Equal(1, events.Count(e => e.IsTerminal()));
        Assert.True(events[^1].IsTerminal(), "the terminal event must be the last one");
        var runId = events[0].Str("run_id");
        var threadId = events[0].Str("thread_id");
        var openTools = new HashSet<string>();
        var openAgents = new List<string>();
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            Assert.Equal(runId, e.Str("run_id"));
            Assert.Equal(threadId, e.Str("thread_id"));
            Assert.False(string.IsNullOrEmpty(e.Str("agent_name")));
            Assert.True(DateTimeOffset.TryParse(e.Str("timestamp"), out _));
            if (seqContiguous && i > 0)
            {
                Assert.Equal(events[i - 1].GetProperty("seq").GetInt64() + 1, e.GetProperty("seq").GetInt64());
            }

            var payload = e.GetProperty("payload");
            switch (e.Type())
            {
                case "tool_executing":
                    Assert.True(openTools.Add(payload.Str("tool_call_id")!));
                    break;
                case "tool_completed":
                    Assert.True(openTools.Remove(payload.Str("tool_call_id")!), "tool_completed without tool_executing");
                    break;
                case "agent_started" when i > 0:
                    openAgents.Add(e.Str("agent_name")!);
                    break;
                case "agent_completed" when !e.IsTerminal():
                    Assert.True(openAgents.Remove(e.Str("agent_name")!), "agent_completed without agent_started");
                    break;
            }
        }

        Assert.Empty(openTools);
        Assert.Empty(openAgents);
    }
}

/// <summary>REST waits shared by the suites that hold a plain <see cref="HttpClient"/>.</summary>
internal static class RunPolling
{
    /// <summary>Polls GET /api/runs/{id} until the run leaves queued/running; fails after <paramref name="timeout"/> (15 s by default).</summary>
    public static async Task<JsonElement> WaitForRunAsync(this HttpClient http, string runId, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(15));
        while (true)
        {
            using var response = await http.GetAsync(new Uri($"/api/runs/{runId}", UriKind.Relative), cts.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cts.Token));
            var run = doc.RootElement.Clone();
            if (run.GetProperty("status").GetString() is not ("queued" or "running"))
            {
                return run;
            }

            await Task.Delay(20, cts.Token);
        }
    }
}
