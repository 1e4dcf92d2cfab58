using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Apex.Testing;

namespace Apex.Scale.Tests;

/// <summary>Three nodes sharing PostgreSQL and Redis: streams, resumes, stops and isolation across nodes.</summary>
public sealed class MultiNodeTests
{
    [ClusterFact]
    public async Task Run_started_over_rest_on_A_streams_to_sockets_on_B_and_C_in_the_same_seq_order()
    {
        var agent = new ScriptedAgent { Delay = TimeSpan.FromMilliseconds(20) };
        await using var cluster = await TestCluster.StartAsync(3, b => ScriptedAgent.Register(b, agent));
        var user = await cluster[0].RegisterUserAsync();
        var onB = await TestSocket.OpenAsync(cluster[1], user.AccessToken);
        var onC = await TestSocket.OpenAsync(cluster[2], user.AccessToken);
        await using var b = onB;
        await using var c = onC;
        Assert.Equal(b.Epoch, c.Epoch);

        var (threadId, runId) = await Rest.StartRunAsync(cluster[0], user);
        var seenB = await b.ReadRunAsync(runId);
        var seenC = await c.ReadRunAsync(runId);

        // The same frames, numbered once for the user, whichever node holds the socket.
        Assert.Equal(seenB.Select(f => f.GetRawText()), seenC.Select(f => f.GetRawText()));
        var seqs = seenB.Select(f => f.GetProperty("seq").GetInt64()).ToList();
        Assert.Equal(Enumerable.Range((int)seqs[0], seqs.Count).Select(i => (long)i), seqs);
        var runEvents = seenB.Where(f => f.TryGetProperty("run_id", out var r) && r.GetString() == runId).ToList();
        Assert.Equal(ScriptedAgent.CompleteSequence, runEvents.Select(f => f.GetProperty("type").GetString()));
        Assert.All(runEvents, f => Assert.Equal(threadId, f.GetProperty("thread_id").GetString()));
        // The run record turns final together with the terminal event's row, stored right after the event is published.
        Assert.True(await Rest.EventuallyAsync(async () =>
            (await Rest.GetRunAsync(cluster[2], user, runId)).GetProperty("status").GetString() == "completed", TimeSpan.FromSeconds(10)));
    }

    [ClusterFact]
    public async Task A_client_dropped_by_one_node_resumes_on_another_without_gap_or_duplicate()
    {
        var gate = new TaskCompletionSource();
        var agent = new ScriptedAgent { Gate = gate.Task };
        await using var cluster = await TestCluster.StartAsync(3, b => ScriptedAgent.Register(b, agent));
        var user = await cluster[0].RegisterUserAsync();
        var first = await TestSocket.OpenAsync(cluster[1], user.AccessToken);
        var (_, runId) = await Rest.StartRunAsync(cluster[0], user);

        // Read up to the agent's pause (agent_thinking), then drop the connection.
        JsonElement frame;
        do
        {
            frame = await first.NextEventAsync();
        }
        while (frame.GetProperty("type").GetString() != "agent_thinking");

        var (epoch, lastSeq) = (first.Epoch, first.LastSeq);
        await first.DisposeAsync();
        gate.SetResult();
        var watcher = await TestSocket.OpenAsync(cluster[0], user.AccessToken);
        await using (watcher)
        {
            await watcher.ReadRunAsync(runId);
        }

        var resumed = await TestSocket.OpenAsync(cluster[2], user.AccessToken, epoch, lastSeq);
        await using var _r = resumed;
        var outcome = await resumed.ExpectAsync("resumed");
        Assert.True(outcome.GetProperty("payload").GetProperty("recovered").GetBoolean(), outcome.GetRawText());
        var replayed = outcome.GetProperty("payload").GetProperty("replayed").GetInt32();
        Assert.True(replayed > 0);
        var events = new List<JsonElement>();
        for (var i = 0; i < replayed; i++)
        {
            events.Add(await resumed.NextEventAsync());
        }

        Assert.Equal(Enumerable.Range(1, replayed).Select(i => lastSeq + i), events.Select(e => e.GetProperty("seq").GetInt64()));
        Assert.True(TestSocket.IsTerminal(events[^1]), Rest.Types(events));
        Assert.Equal(resumed.Established.GetProperty("payload").GetProperty("last_seq").GetInt64(), events[^1].GetProperty("seq").GetInt64());
    }

    [ClusterFact]
    public async Task Stop_sent_to_B_cancels_the_run_executing_on_A()
    {
        var agent = new ScriptedAgent { Mode = ScriptMode.NeverTerminates };
        await using var cluster = await TestCluster.StartAsync(2, b => ScriptedAgent.Register(b, agent));
        var user = await cluster[0].RegisterUserAsync();
        var socket = await TestSocket.OpenAsync(cluster[1], user.AccessToken);
        await using var _s = socket;
        var (_, runId) = await Rest.StartRunAsync(cluster[0], user);
        await socket.ExpectSkippingAsync("agent_thinking");

        await socket.SendJsonAsync(new { type = "stop_agent", id = "stop-1", payload = new { run_id = runId } });
        var events = await socket.ReadRunAsync(runId);
        var terminal = events[^1];
        Assert.Equal("agent_completed", terminal.GetProperty("type").GetString());
        Assert.Equal("cancelled", terminal.GetProperty("payload").GetProperty("status").GetString());
        // The terminal event does not wait for the agent to unwind (a stop is bounded even for an agent that
        // ignores it), so the agent's own observation of the cancellation can land just after the frame.
        Assert.True(await Rest.EventuallyAsync(() => Task.FromResult(agent.CancellationsObserved == 1), TimeSpan.FromSeconds(10)));
        // The run record turns final together with the terminal event's row, stored right after the event is published.
        Assert.True(await Rest.EventuallyAsync(async () =>
            (await Rest.GetRunAsync(cluster[1], user, runId)).GetProperty("status").GetString() == "cancelled", TimeSpan.FromSeconds(10)));
    }

    [ClusterFact]
    public async Task Cancel_over_rest_on_B_reaches_the_run_on_A()
    {
        var agent = new ScriptedAgent { Mode = ScriptMode.NeverTerminates };
        await using var cluster = await TestCluster.StartAsync(2, b => ScriptedAgent.Register(b, agent));
        var user = await cluster[0].RegisterUserAsync();
        var socket = await TestSocket.OpenAsync(cluster[0], user.AccessToken);
        await using var _s = socket;
        var (_, runId) = await Rest.StartRunAsync(cluster[0], user);
        await socket.ExpectSkippingAsync("agent_thinking");

        using var client = cluster[1].CreateClient(user);
        using var cancel = await client.PostAsync($"/api/runs/{runId}/cancel", null);
        Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        var terminal = (await socket.ReadRunAsync(runId))[^1];
        Assert.Equal("cancelled", terminal.GetProperty("payload").GetProperty("status").GetString());

        // Another user naming the run cancels nothing and learns nothing.
        var other = await cluster[1].RegisterUserAsync();
        using var otherClient = cluster[1].CreateClient(other);
        using var foreign = await otherClient.PostAsync($"/api/runs/{runId}/cancel", null);
        Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
    }

    [ClusterFact]
    public async Task Isolation_holds_across_nodes_under_concurrent_load()
    {
        var agent = new ScriptedAgent { Delay = TimeSpan.FromMilliseconds(5) };
        await using var cluster = await TestCluster.StartAsync(3, b => ScriptedAgent.Register(b, agent));
        const int users = 12;
        var registered = await Task.WhenAll(Enumerable.Range(0, users).Select(i => cluster[i % 3].RegisterUserAsync()));
        var sockets = new List<(TestUser User, TestSocket Socket)>();
        for (var i = 0; i < users; i++)
        {
            // Each user watches from a node other than the one its runs start on.
            sockets.Add((registered[i], await TestSocket.OpenAsync(cluster[(i + 1) % 3], registered[i].AccessToken)));
        }

        try
        {
            const int runsPerUser = 3;
            var starts = await Task.WhenAll(Enumerable.Range(0, users).Select(async i =>
            {
                var runIds = new List<string>();
                for (var r = 0; r < runsPerUser; r++)
                {
                    runIds.Add((await Rest.StartRunAsync(cluster[i % 3], registered[i], $"question {r}", $"thread of user {i}")).RunId);
                }

                return runIds;
            }));

            await Task.WhenAll(sockets.Select(async (s, i) =>
            {
                var own = starts[i].ToHashSet(StringComparer.Ordinal);
                var finished = new HashSet<string>(StringComparer.Ordinal);
                long? previous = null;
                while (finished.Count < own.Count)
                {
                    var frame = await s.Socket.NextEventAsync(TimeSpan.FromSeconds(30));
                    var seq = frame.GetProperty("seq").GetInt64();
                    Assert.True(previous is null || seq == previous + 1, $"gap or duplicate: {previous} then {seq}");
                    previous = seq;
                    if (frame.TryGetProperty("run_id", out var runId))
                    {
                        Assert.Contains(runId.GetString()!, own);
                        if (TestSocket.IsTerminal(frame))
                        {
                            finished.Add(runId.GetString()!);
                        }
                    }

                    if (frame.TryGetProperty("payload", out var payload) && payload.TryGetProperty("thread", out var thread))
                    {
                        // Thread events carry the owner's thread only: its title is the user's own question.
                        Assert.Contains($"of user {i}", thread.GetProperty("title").GetString(), StringComparison.Ordinal);
                    }
                }
            }));
        }
        finally
        {
            foreach (var (_, socket) in sockets)
            {
                await socket.DisposeAsync();
            }
        }
    }
}
