using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Apex.Chat.Data;
using Apex.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Apex.Scale.Tests;

/// <summary>
/// The documented behaviour of docs/scale-out.md ("Faults"): Redis or PostgreSQL going away makes
/// nodes not ready and fail requests clearly and quickly, and service comes back by itself; a node
/// stopping hands its clients over to the others; a run whose node died ends as failed.
/// </summary>
public sealed class FaultTests
{
    private static readonly TimeSpan Recovery = TimeSpan.FromSeconds(20);

    [ClusterFact]
    public async Task A_stopping_node_closes_with_1001_and_its_client_resumes_on_another_node_without_loss()
    {
        var gate = new TaskCompletionSource();
        var agent = new ScriptedAgent { Gate = gate.Task };
        await using var cluster = await TestCluster.StartAsync(2, b => ScriptedAgent.Register(b, agent));
        var user = await cluster[1].RegisterUserAsync();
        var socket = await TestSocket.OpenAsync(cluster[0], user.AccessToken);
        await using var _s = socket;
        var (_, runId) = await Rest.StartRunAsync(cluster[1], user);
        await socket.ExpectSkippingAsync("agent_thinking");

        await cluster[0].App.StopAsync();
        var (_, close) = await socket.ReadUntilCloseAsync();
        Assert.Equal(1001, close);

        // The run goes on, on the other node, while the client is away: another connection of the
        // user's sees it end before the client comes back.
        var observer = await TestSocket.OpenAsync(cluster[1], user.AccessToken);
        await using var _o = observer;
        gate.SetResult();
        await observer.ReadRunAsync(runId);
        var resumed = await TestSocket.OpenAsync(cluster[1], user.AccessToken, socket.Epoch, socket.LastSeq);
        await using var _r = resumed;
        var outcome = await resumed.ExpectAsync("resumed");
        Assert.True(outcome.GetProperty("payload").GetProperty("recovered").GetBoolean(), outcome.GetRawText());
        var rest = await resumed.ReadRunAsync(runId);
        Assert.Equal(socket.LastSeq + 1, rest[0].GetProperty("seq").GetInt64());
        Assert.Equal("agent_completed", rest[^1].GetProperty("type").GetString());
    }

    [ClusterFact]
    public async Task A_run_whose_node_died_ends_as_failed_and_the_user_sees_it()
    {
        await using var cluster = await TestCluster.StartAsync(2);
        var user = await cluster[0].RegisterUserAsync();
        using var client = cluster[0].CreateClient(user);
        using var created = await client.PostAsJsonAsync("/api/threads", new { title = "orphan" });
        var threadId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;

        var socket = await TestSocket.OpenAsync(cluster[1], user.AccessToken);
        await using var _s = socket;

        // What a node that died mid-run leaves behind: a running run, a claimed thread, no lease.
        var runId = "run_" + Guid.NewGuid().ToString("N");
        await using (var scope = cluster[0].Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<ChatDbContext>();
            db.Runs.Add(new ChatRun
            {
                Id = runId,
                ThreadId = threadId,
                UserId = user.Id,
                Status = RunStatus.Running,
                CreatedAt = DateTimeOffset.UtcNow - TimeSpan.FromMinutes(1),
                StartedAt = DateTimeOffset.UtcNow - TimeSpan.FromMinutes(1),
            });
            await db.SaveChangesAsync();
            await db.Threads.Where(t => t.Id == threadId).ExecuteUpdateAsync(s => s.SetProperty(t => t.ActiveRunId, runId));
        }

        var events = await socket.ReadRunAsync(runId, TimeSpan.FromSeconds(20));
        var terminal = events[^1];
        Assert.Equal("agent_error", terminal.GetProperty("type").GetString());
        Assert.Equal("node_lost", terminal.GetProperty("payload").GetProperty("code").GetString());
        Assert.Single(events, e => TestSocket.IsTerminal(e));

        var run = await Rest.GetRunAsync(cluster[1], user, runId);
        Assert.Equal("failed", run.GetProperty("status").GetString());
        // Stored through the same path as every run's end: REST serves the live frame's exact JSON.
        using (var stored = await client.GetAsync($"/api/runs/{runId}/events"))
        {
            var items = (await stored.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items");
            var last = items[items.GetArrayLength() - 1];
            Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(System.Text.Json.Nodes.JsonNode.Parse(last.GetRawText()), System.Text.Json.Nodes.JsonNode.Parse(terminal.GetRawText())),
                $"stored {last.GetRawText()} live {terminal.GetRawText()}");
        }

        // The thread is free again.
        using var again = await client.PostAsJsonAsync($"/api/threads/{threadId}/messages", new { content = "try again" });
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
    }

    [ClusterFact]
    public async Task Redis_going_away_during_a_run_ends_sockets_with_1013_and_readiness_503_then_service_recovers()
    {
        await using var redis = await PrivateRedis.StartAsync();
        var agent = new ScriptedAgent { Delay = TimeSpan.FromMilliseconds(400) };
        await using var cluster = await TestCluster.StartAsync(2, b => ScriptedAgent.Register(b, agent), redis: redis.Configuration);
        var user = await cluster[0].RegisterUserAsync();
        var socket = await TestSocket.OpenAsync(cluster[1], user.AccessToken);
        await using var _s = socket;
        var (_, runId) = await Rest.StartRunAsync(cluster[0], user);
        await socket.ExpectSkippingAsync("agent_started");
        var (epoch, lastSeq) = (socket.Epoch, socket.LastSeq);

        await redis.KillAsync();

        // Open sockets: an `error` frame, then 1013 (try again later), instead of a silent stream.
        var (frames, close) = await socket.ReadUntilCloseAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1013, close);
        Assert.Contains(frames, f => f.GetProperty("type").GetString() == "error");
        foreach (var node in cluster.Nodes)
        {
            using var ready = await node.Client.GetAsync("/health/ready");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        }

        // A new socket is closed with 1013 at once rather than left waiting.
        var (refused, refusedClose) = await TryConnectAsync(cluster[1], user.AccessToken);
        Assert.Equal(1013, refusedClose);
        refused.Dispose();

        // The run does not hang: it ends (its events could not be streamed) and REST shows how.
        Assert.True(await Rest.EventuallyAsync(async () =>
            (await Rest.GetRunAsync(cluster[1], user, runId)).GetProperty("status").GetString() is "completed" or "failed", Recovery));

        await redis.StartServerAsync();
        foreach (var node in cluster.Nodes)
        {
            Assert.True(await Rest.EventuallyAsync(async () =>
            {
                using var ready = await node.Client.GetAsync("/health/ready");
                return ready.StatusCode == HttpStatusCode.OK;
            }, Recovery), "readiness did not recover");
        }

        // Redis came back empty: the stream's history is gone, and the resume says so.
        var back = await TestSocket.OpenAsync(cluster[1], user.AccessToken, epoch, lastSeq);
        await using var _b = back;
        var outcome = await back.ExpectAsync("resumed");
        Assert.False(outcome.GetProperty("payload").GetProperty("recovered").GetBoolean());
        Assert.NotEqual(epoch, back.Epoch);

        // And runs stream again.
        var (_, next) = await Rest.StartRunAsync(cluster[0], user);
        var events = await back.ReadRunAsync(next, TimeSpan.FromSeconds(20));
        Assert.Equal("agent_completed", events[^1].GetProperty("type").GetString());
    }

    [ClusterFact]
    public async Task PostgreSQL_going_away_fails_requests_with_503_and_readiness_503_then_service_recovers()
    {
        if (PrivatePostgres.Unavailable is { } missing)
        {
            Assert.Fail(missing);
        }

        await using var pg = await PrivatePostgres.StartAsync();
        var agent = new ScriptedAgent { Delay = TimeSpan.FromMilliseconds(300) };
        await using var cluster = await TestCluster.StartAsync(2, b => ScriptedAgent.Register(b, agent), postgresServer: pg.ConnectionString);
        var user = await cluster[0].RegisterUserAsync();
        var socket = await TestSocket.OpenAsync(cluster[1], user.AccessToken);
        await using var _s = socket;
        var (_, runId) = await Rest.StartRunAsync(cluster[0], user);
        await socket.ExpectSkippingAsync("agent_started");

        await pg.StopServerAsync();

        // The run still ends with exactly one terminal event on the socket (it could not store it).
        var events = await socket.ReadRunAsync(runId, TimeSpan.FromSeconds(20));
        Assert.Single(events, e => TestSocket.IsTerminal(e));

        using var client = cluster[1].CreateClient(user);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using (var threads = await client.GetAsync("/api/threads"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, threads.StatusCode);
            Assert.Equal("application/problem+json", threads.Content.Headers.ContentType?.MediaType);
        }

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        foreach (var node in cluster.Nodes)
        {
            using var ready = await node.Client.GetAsync("/health/ready");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        }

        await pg.StartServerAsync();
        Assert.True(await Rest.EventuallyAsync(async () =>
        {
            using var threads = await client.GetAsync("/api/threads");
            return threads.StatusCode == HttpStatusCode.OK;
        }, Recovery), "requests did not recover");
        foreach (var node in cluster.Nodes)
        {
            using var ready = await node.Client.GetAsync("/health/ready");
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }

        var (_, next) = await Rest.StartRunAsync(cluster[0], user);
        var after = await socket.ReadRunAsync(next, TimeSpan.FromSeconds(20));
        Assert.Equal("agent_completed", after[^1].GetProperty("type").GetString());
    }

    private static async Task<(System.Net.WebSockets.ClientWebSocket Socket, int? Close)> TryConnectAsync(ApexTestServer node, string token)
    {
        var socket = new System.Net.WebSockets.ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.ConnectAsync(new UriBuilder(node.WebSocketBase) { Path = "/ws" }.Uri, cts.Token);
        var buffer = new byte[4096];
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, cts.Token);
            if (result.MessageType == System.Net.WebSockets.WebSocketMessageType.Close)
            {
                return (socket, (int?)socket.CloseStatus);
            }
        }
    }
}
