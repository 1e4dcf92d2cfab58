using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Apex.Chat.Data;
using Apex.Testing;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Apex.Chat.Tests;

public sealed class RunLifecycleTests
{
    [Fact(Timeout = 60_000)]
    public async Task Shutdown_fails_active_runs_visibly_and_a_restart_fails_runs_left_running()
    {
        var dataDir = Directory.CreateTempSubdirectory("apex-restart-").FullName;
        string runId;
        string threadId;
        TestUser user;
        // The first server is stopped, not disposed: the fixture's dispose would delete the data directory.
        var first = await ChatTestKit.StartAsync(new ScriptedAgent { Mode = ScriptMode.NeverTerminates }, dataDir: dataDir);
        {
            user = await first.RegisterUserAsync();
            using var alice = new ChatUser(first, user);
            threadId = await alice.CreateThreadAsync();
            var (_, accepted) = await alice.PostAsync($"/api/threads/{threadId}/messages", new { content = "interrupted" });
            runId = accepted.GetProperty("run").Str("id")!;
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            while ((await alice.EventsAsync(runId)).Count < 2)
            {
                await Task.Delay(20, cts.Token);
            }

            // A graceful stop, as on SIGTERM.
            await first.StopKeepingDataAsync(cts.Token);
        }

        await using var second = await ChatTestKit.StartAsync(dataDir: dataDir);
        using var again = new ChatUser(second, user);
        var (status, run) = await again.GetAsync($"/api/runs/{runId}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("failed", run.Str("status"));
        Assert.Equal("server_shutdown", run.GetProperty("error").Str("code"));
        var events = await again.EventsAsync(runId);
        ChatTestKit.AssertWellFormedRun(events);
        Assert.Equal("agent_error", events[^1].Type());
        Assert.Equal("server_shutdown", events[^1].GetProperty("payload").Str("code"));
        var (_, thread) = await again.GetAsync($"/api/threads/{threadId}");
        Assert.Equal("failed", thread.Str("last_run_status"));
        Assert.Equal(HttpStatusCode.Accepted, (await again.PostAsync($"/api/threads/{threadId}/messages", new { content = "resumed" })).Status);
    }

    [SqliteOnlyFact(Timeout = 60_000)]
    public async Task Runs_a_crashed_process_left_running_are_failed_at_start()
    {
        var dataDir = Directory.CreateTempSubdirectory("apex-crash-").FullName;
        string runId;
        string threadId;
        TestUser user;
        var first = await ChatTestKit.StartAsync(dataDir: dataDir);
        {
            user = await first.RegisterUserAsync();
            using var alice = new ChatUser(first, user);
            threadId = await alice.CreateThreadAsync();
            var (_, accepted) = await alice.PostAsync($"/api/threads/{threadId}/messages", new { content = "done" });
            runId = accepted.GetProperty("run").Str("id")!;
            await alice.WaitForRunAsync(runId);
            await first.StopKeepingDataAsync();
        }

        // What a killed process leaves behind: a run still marked running, holding its thread.
        await using (var connection = new SqliteConnection($"Data Source={Path.Combine(dataDir, "apex.db")};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "UPDATE chat_runs SET Status = 'running', FinishedAt = NULL WHERE Id = $run; UPDATE chat_threads SET ActiveRunId = $run, LastRunStatus = 'running' WHERE Id = $thread;";
            command.Parameters.AddWithValue("$run", runId);
            command.Parameters.AddWithValue("$thread", threadId);
            Assert.Equal(2, await command.ExecuteNonQueryAsync());
        }

        await using var second = await ChatTestKit.StartAsync(dataDir: dataDir);
        using var again = new ChatUser(second, user);
        var (_, run) = await again.GetAsync($"/api/runs/{runId}");
        Assert.Equal("failed", run.Str("status"));
        Assert.True(run.TryGetProperty("finished_at", out _));
        var (_, thread) = await again.GetAsync($"/api/threads/{threadId}");
        Assert.Equal("failed", thread.Str("last_run_status"));
        Assert.Equal(HttpStatusCode.Accepted, (await again.PostAsync($"/api/threads/{threadId}/messages", new { content = "again" })).Status);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_run_left_by_a_killed_process_ends_with_a_stored_and_published_terminal_event_in_the_live_frame_json()
    {
        var dataDir = Directory.CreateTempSubdirectory("apex-orphan-").FullName;
        var runId = "run_" + Guid.NewGuid().ToString("N");
        string threadId;
        TestUser user;
        var first = await ChatTestKit.StartAsync(dataDir: dataDir);
        {
            user = await first.RegisterUserAsync();
            using var alice = new ChatUser(first, user);
            threadId = await alice.CreateThreadAsync();

            // What a process killed mid-run (kill -9) leaves behind: a run still marked running,
            // holding its thread, with no terminal event stored.
            await using (var scope = first.Services.CreateAsyncScope())
            {
                var db = scope.ServiceProvider.GetRequiredService<ChatDbContext>();
                db.Runs.Add(new ChatRun
                {
                    Id = runId,
                    ThreadId = threadId,
                    UserId = user.Id,
                    Status = RunStatus.Running,
                    CreatedAt = DateTimeOffset.UtcNow,
                    StartedAt = DateTimeOffset.UtcNow,
                });
                await db.SaveChangesAsync();
                await db.Threads.Where(t => t.Id == threadId).ExecuteUpdateAsync(s => s.SetProperty(t => t.ActiveRunId, runId));
            }

            await first.StopKeepingDataAsync();
        }

        await using var second = await ChatTestKit.StartAsync(dataDir: dataDir);
        using var again = new ChatUser(second, user);
        var (_, run) = await again.GetAsync($"/api/runs/{runId}");
        Assert.Equal("failed", run.Str("status"));
        var stored = Assert.Single(await again.EventsAsync(runId));
        Assert.Equal("agent_error", stored.Type());
        Assert.Equal("server_shutdown", stored.GetProperty("payload").Str("code"));
        Assert.True(stored.GetProperty("payload").GetProperty("final").GetBoolean());
        Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$", stored.Str("timestamp"));

        // Published too: a client resuming from the start of the stream gets the same JSON live.
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + user.AccessToken);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await socket.ConnectAsync(new Uri(second.WebSocketBase, "/ws"), cts.Token);
        var established = await ReceiveAsync(socket, cts.Token);
        var epoch = established.GetProperty("payload").Str("epoch");
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
        using var resumed = new ClientWebSocket();
        resumed.Options.SetRequestHeader("Authorization", "Bearer " + user.AccessToken);
        await resumed.ConnectAsync(new Uri(second.WebSocketBase, $"/ws?epoch={Uri.EscapeDataString(epoch!)}&last_seq=0"), cts.Token);
        JsonElement live;
        do
        {
            live = await ReceiveAsync(resumed, cts.Token);
        }
        while (!live.IsTerminalOf(runId));

        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(stored.GetRawText()), JsonNode.Parse(live.GetRawText())), $"stored {stored.GetRawText()} live {live.GetRawText()}");
        Assert.Equal(HttpStatusCode.Accepted, (await again.PostAsync($"/api/threads/{threadId}/messages", new { content = "again" })).Status);
    }

    private static async Task<JsonElement> ReceiveAsync(ClientWebSocket socket, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, ct);
            Assert.NotEqual(WebSocketMessageType.Close, result.MessageType);
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                using var document = JsonDocument.Parse(message.ToArray());
                return document.RootElement.Clone();
            }
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task A_messages_dataset_must_be_the_callers_and_later_runs_reuse_the_threads_last_one()
    {
        var agent = new ScriptedAgent();
        await using var server = await ChatTestKit.StartAsync(agent);
        using var alice = await ChatUser.CreateAsync(server);
        using var bob = await ChatUser.CreateAsync(server);
        var (uploaded, dataset) = await alice.PostAsync("/api/datasets", new
        {
            name = "november",
            rows = new[]
            {
                new { timestamp = "2026-11-01T10:00:00Z", model = "gpt-4o", input_tokens = 1200, output_tokens = 300 },
                new { timestamp = "2026-11-02T10:00:00Z", model = "gpt-4o", input_tokens = 900, output_tokens = 250 },
            },
        });
        Assert.Equal(HttpStatusCode.Created, uploaded);
        var datasetId = dataset.Str("id")!;

        var threadId = await alice.CreateThreadAsync();
        var (status, accepted) = await alice.PostAsync($"/api/threads/{threadId}/messages", new { content = "with data", dataset_id = datasetId });
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal(datasetId, accepted.GetProperty("run").Str("dataset_id"));
        Assert.Equal(datasetId, accepted.GetProperty("message").Str("dataset_id"));
        await alice.WaitForRunAsync(accepted.GetProperty("run").Str("id")!);

        var (_, second) = await alice.PostAsync($"/api/threads/{threadId}/messages", new { content = "follow-up" });
        Assert.Equal(datasetId, second.GetProperty("run").Str("dataset_id"));
        await alice.WaitForRunAsync(second.GetProperty("run").Str("id")!);
        Assert.Equal([datasetId, datasetId], agent.Requests.Select(r => r.DatasetId ?? "(none)").ToArray());

        // Bob names alice's dataset: it does not exist for him, and nothing is stored.
        var bobThread = await bob.CreateThreadAsync();
        var (bobStatus, problem) = await bob.PostAsync($"/api/threads/{bobThread}/messages", new { content = "steal", dataset_id = datasetId });
        Assert.Equal(HttpStatusCode.NotFound, bobStatus);
        Assert.Equal("not_found", problem.GetProperty("code").GetString());
        var (_, messages) = await bob.GetAsync($"/api/threads/{bobThread}/messages");
        Assert.Empty(messages.GetProperty("items").EnumerateArray());
        Assert.Equal(2, agent.Requests.Count);
    }
    /// <summary>
    /// Runs of several users end and start while readers poll: every event a run published is in its
    /// stored log (seq contiguous per run). On SQLite a commit that met a reader's lock once failed with
    /// "database is locked" and the event was published but never stored.
    /// </summary>
    [Fact(Timeout = 120_000)]
    public async Task Concurrent_runs_and_readers_lose_no_stored_event()
    {
        await using var server = await ChatTestKit.StartAsync();
        var users = new List<(ChatUser User, string Thread)>();
        for (var i = 0; i < 6; i++)
        {
            var user = await ChatUser.CreateAsync(server);
            users.Add((user, await user.CreateThreadAsync()));
        }

        using var stop = new CancellationTokenSource();
        var readers = users.Select(u => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await u.User.GetAsync($"/api/threads/{u.Thread}/messages?limit=100");
                await u.User.GetAsync("/api/threads?limit=100");
            }
        })).ToList();
        try
        {
            for (var round = 0; round < 4; round++)
            {
                var runs = await Task.WhenAll(users.Select(async u =>
                {
                    var (status, accepted) = await u.User.PostAsync($"/api/threads/{u.Thread}/messages", new { content = $"round {round}" });
                    Assert.Equal(HttpStatusCode.Accepted, status);
                    return (u.User, RunId: accepted.GetProperty("run").Str("id")!);
                }));
                foreach (var (user, runId) in runs)
                {
                    Assert.Equal("completed", (await user.WaitForRunAsync(runId)).Str("status"));
                    ChatTestKit.AssertWellFormedRun(await user.EventsAsync(runId));
                }
            }
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(readers);
            foreach (var (user, _) in users)
            {
                user.Dispose();
            }
        }
    }
}
