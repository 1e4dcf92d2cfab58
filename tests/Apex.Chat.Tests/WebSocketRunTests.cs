using System.Net;
using System.Text.Json;
using Apex.Testing;

namespace Apex.Chat.Tests;

public sealed class WebSocketRunTests
{
    [Fact(Timeout = 30_000)]
    public async Task A_full_run_over_the_websocket_follows_the_protocol_and_persists_the_answer()
    {
        await using var server = await ChatTestKit.StartAsync();
        using var alice = await ChatUser.CreateAsync(server);
        await using var ws = await TestSocket.OpenAsync(server, alice.User.AccessToken);

        await ws.SendJsonAsync(new { type = "user_message", id = "c1", payload = new { text = "Cut our GPT-4 bill" } });
        var frames = await ws.ReadUntilAsync(f => f.IsTerminal());

        var ack = Assert.Single(frames, f => f.Type() == "ack");
        Assert.Equal("c1", ack.GetProperty("payload").Str("client_id"));
        var created = Assert.Single(frames, f => f.Type() == "thread_created");
        var threadId = created.Str("thread_id")!;
        Assert.Equal("Cut our GPT-4 bill", created.GetProperty("payload").GetProperty("thread").Str("title"));

        var events = frames.Where(f => f.Str("run_id") is not null).ToList();
        ChatTestKit.AssertWellFormedRun(events);
        Assert.Equal(ScriptedAgent.CompleteSequence, events.Select(e => e.Type()).ToArray());
        // thread_created comes first in the same stream: seq is +1 from it to the run's first event.
        Assert.Equal(created.GetProperty("seq").GetInt64() + 1, events[0].GetProperty("seq").GetInt64());
        var runId = events[0].Str("run_id")!;
        Assert.Equal(threadId, events[0].Str("thread_id"));
        var terminal = events[^1];
        Assert.Equal("completed", terminal.GetProperty("payload").Str("status"));
        Assert.Equal(ScriptedAgent.AnswerFor("Cut our GPT-4 bill"), terminal.GetProperty("payload").GetProperty("report").Str("summary"));

        // The answer is stored before the terminal event is sent: readable right now, no polling.
        var (_, messages) = await alice.GetAsync($"/api/threads/{threadId}/messages");
        var items = messages.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(2, items.Count);
        Assert.Equal("Cut our GPT-4 bill", items[0].Str("content"));
        Assert.Equal(ScriptedAgent.AnswerFor("Cut our GPT-4 bill"), items[1].Str("content"));
        // The run record turns final with its last event row, a moment after the event is sent.
        var run = await alice.WaitForRunAsync(runId);
        Assert.Equal("completed", run.Str("status"));

        // The persisted events are the frames the socket received, byte for byte in JSON terms.
        var persisted = await alice.EventsAsync(runId);
        Assert.Equal(events.Select(e => e.GetRawText()), persisted.Select(e => e.GetRawText()));
        Assert.Empty(await ws.DrainAsync(TimeSpan.FromMilliseconds(200)));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_rest_message_streams_its_events_to_the_users_sockets()
    {
        await using var server = await ChatTestKit.StartAsync();
        using var alice = await ChatUser.CreateAsync(server);
        await using var ws = await TestSocket.OpenAsync(server, alice.User.AccessToken);
        var threadId = await alice.CreateThreadAsync();
        Assert.Equal("thread_created", (await ws.ReceiveAsync()).Type());

        var (status, accepted) = await alice.PostAsync($"/api/threads/{threadId}/messages", new { content = "over rest" });
        Assert.Equal(HttpStatusCode.Accepted, status);
        var runId = accepted.GetProperty("run").Str("id")!;
        var frames = await ws.ReadUntilAsync(f => f.IsTerminalOf(runId));
        ChatTestKit.AssertWellFormedRun(frames);
        Assert.Equal(ScriptedAgent.CompleteSequence, frames.Select(e => e.Type()).ToArray());
    }

    [Fact(Timeout = 30_000)]
    public async Task Aliases_and_start_agent_start_runs_in_an_existing_thread()
    {
        var agent = new ScriptedAgent();
        await using var server = await ChatTestKit.StartAsync(agent);
        using var alice = await ChatUser.CreateAsync(server);
        await using var ws = await TestSocket.OpenAsync(server, alice.User.AccessToken);
        var threadId = await alice.CreateThreadAsync();
        await ws.ReceiveAsync();

        await ws.SendJsonAsync(new { type = "chat_message", content = "top-level alias", thread_id = threadId });
        var first = await ws.ReadUntilAsync(f => f.IsTerminal());
        Assert.DoesNotContain(first, f => f.Type() == "thread_created");
        Assert.All(first.Where(f => f.Str("run_id") is not null), f => Assert.Equal(threadId, f.Str("thread_id")));

        await ws.SendJsonAsync(new { type = "start_agent", payload = new { user_request = "via start_agent", thread_id = threadId, context = new { source = "test" } } });
        var second = await ws.ReadUntilAsync(f => f.IsTerminal());
        Assert.Equal("completed", second[^1].GetProperty("payload").Str("status"));
        Assert.Equal(["top-level alias", "via start_agent"], agent.Requests.Select(r => r.UserText).ToArray());

        var (_, messages) = await alice.GetAsync($"/api/threads/{threadId}/messages");
        Assert.Equal(4, messages.GetProperty("items").GetArrayLength());
    }

    [Fact(Timeout = 30_000)]
    public async Task Run_active_and_not_found_are_error_frames()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await ChatTestKit.StartAsync(new ScriptedAgent { Gate = gate.Task });
        using var alice = await ChatUser.CreateAsync(server);
        using var mallory = await ChatUser.CreateAsync(server);
        await using var ws = await TestSocket.OpenAsync(server, alice.User.AccessToken);
        await using var malloryWs = await TestSocket.OpenAsync(server, mallory.User.AccessToken);

        await ws.SendJsonAsync(new { type = "user_message", payload = new { text = "hold" } });
        var ack = (await ws.ReadUntilAsync(f => f.Type() == "ack"))[^1];
        var threadId = ack.GetProperty("payload").Str("thread_id")!;
        var runId = ack.GetProperty("payload").Str("run_id")!;

        await ws.SendJsonAsync(new { type = "user_message", id = "dup", payload = new { text = "again", thread_id = threadId } });
        var busy = (await ws.ReadUntilAsync(f => f.Type() == "error"))[^1];
        Assert.Equal("run_active", busy.GetProperty("payload").Str("code"));
        Assert.Equal("dup", busy.GetProperty("payload").Str("client_id"));

        // Mallory can neither post into alice's thread nor stop alice's run, and learns nothing.
        await malloryWs.SendJsonAsync(new { type = "user_message", payload = new { text = "intrude", thread_id = threadId } });
        var intrude = (await malloryWs.ReadUntilAsync(f => f.Type() == "error"))[^1];
        Assert.Equal("not_found", intrude.GetProperty("payload").Str("code"));
        await malloryWs.SendJsonAsync(new { type = "stop_agent", payload = new { run_id = runId } });
        var stop = (await malloryWs.ReadUntilAsync(f => f.Type() == "error"))[^1];
        Assert.Equal("not_found", stop.GetProperty("payload").Str("code"));
        await malloryWs.SendJsonAsync(new { type = "stop_agent", payload = new { run_id = "run_01JXXXXXXXXXXXXXXXXXXXXXXX" } });
        var unknown = (await malloryWs.ReadUntilAsync(f => f.Type() == "error"))[^1];
        Assert.Equal(stop.GetProperty("payload").Str("message"), unknown.GetProperty("payload").Str("message"));
        await malloryWs.SendJsonAsync(new { type = "user_message", payload = new { text = "x", dataset_id = "ds_01JXXXXXXXXXXXXXXXXXXXXXXX" } });
        Assert.Equal("not_found", (await malloryWs.ReadUntilAsync(f => f.Type() == "error"))[^1].GetProperty("payload").Str("code"));

        gate.SetResult();
        var rest = await ws.ReadUntilAsync(f => f.IsTerminal());
        Assert.Equal("completed", rest[^1].GetProperty("payload").Str("status"));
        var (_, messages) = await alice.GetAsync($"/api/threads/{threadId}/messages");
        Assert.Equal(["hold", ScriptedAgent.AnswerFor("hold")], messages.GetProperty("items").EnumerateArray().Select(m => m.Str("content")!).ToArray());
        // Whatever reaches mallory's socket meanwhile: nothing of alice's.
        await malloryWs.DrainAsync(TimeSpan.FromMilliseconds(300));
        Assert.DoesNotContain(malloryWs.Received, f => f.Str("run_id") == runId || f.Str("thread_id") == threadId);
    }

    [Fact(Timeout = 30_000)]
    public async Task Stop_agent_ends_the_run_as_cancelled()
    {
        await using var server = await ChatTestKit.StartAsync(new ScriptedAgent { Mode = ScriptMode.NeverTerminates });
        using var alice = await ChatUser.CreateAsync(server);
        await using var ws = await TestSocket.OpenAsync(server, alice.User.AccessToken);
        await ws.SendJsonAsync(new { type = "user_message", payload = new { text = "forever" } });
        var opening = await ws.ReadUntilAsync(f => f.Type() == "agent_thinking");
        var runId = opening[^1].Str("run_id")!;

        await ws.SendJsonAsync(new { type = "stop_agent", id = "s1", payload = new { run_id = runId } });
        var closing = await ws.ReadUntilAsync(f => f.IsTerminal(), TimeSpan.FromSeconds(15));
        var terminal = closing[^1];
        // The ack normally comes first (the cancellation starts after the reply); on a starved machine
        // it may trail the terminal event, which no client may rely on either way.
        if (!closing.Any(f => f.Type() == "ack"))
        {
            closing.AddRange(await ws.ReadUntilAsync(f => f.Type() == "ack"));
        }

        Assert.Contains(closing, f => f.Type() == "ack" && f.GetProperty("payload").Str("client_id") == "s1");
        Assert.Equal("agent_completed", terminal.Type());
        Assert.Equal("apex", terminal.Str("agent_name"));
        Assert.Equal("cancelled", terminal.GetProperty("payload").Str("status"));
        ChatTestKit.AssertWellFormedRun([.. opening.Where(f => f.Str("run_id") is not null), .. closing.Where(f => f.Str("run_id") is not null)]);

        await ws.SendJsonAsync(new { type = "stop_agent", payload = new { run_id = runId } });
        Assert.Equal("run_not_active", (await ws.ReadUntilAsync(f => f.Type() == "error"))[^1].GetProperty("payload").Str("code"));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_throwing_agent_ends_with_a_final_agent_error_on_the_socket()
    {
        await using var server = await ChatTestKit.StartAsync(new ScriptedAgent { Mode = ScriptMode.Throws });
        using var alice = await ChatUser.CreateAsync(server);
        await using var ws = await TestSocket.OpenAsync(server, alice.User.AccessToken);
        await ws.SendJsonAsync(new { type = "user_message", payload = new { text = "explode" } });
        var frames = await ws.ReadUntilAsync(f => f.IsTerminal());
        var events = frames.Where(f => f.Str("run_id") is not null).ToList();
        ChatTestKit.AssertWellFormedRun(events);
        Assert.Equal("agent_error", events[^1].Type());
        Assert.Equal("agent_failed", events[^1].GetProperty("payload").Str("code"));
        Assert.Empty(await ws.DrainAsync(TimeSpan.FromMilliseconds(200)));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_run_outlives_its_users_disconnect()
    {
        await using var server = await ChatTestKit.StartAsync(new ScriptedAgent { Delay = TimeSpan.FromMilliseconds(100) });
        using var alice = await ChatUser.CreateAsync(server);
        string runId;
        string threadId;
        await using (var ws = await TestSocket.OpenAsync(server, alice.User.AccessToken))
        {
            await ws.SendJsonAsync(new { type = "user_message", payload = new { text = "keep going" } });
            var ack = (await ws.ReadUntilAsync(f => f.Type() == "ack"))[^1];
            runId = ack.GetProperty("payload").Str("run_id")!;
            threadId = ack.GetProperty("payload").Str("thread_id")!;
        }

        var run = await alice.WaitForRunAsync(runId);
        Assert.Equal("completed", run.Str("status"));
        var (_, messages) = await alice.GetAsync($"/api/threads/{threadId}/messages");
        Assert.Equal(ScriptedAgent.AnswerFor("keep going"), messages.GetProperty("items")[1].Str("content"));
        ChatTestKit.AssertWellFormedRun(await alice.EventsAsync(runId));
    }

    [Fact(Timeout = 60_000)]
    public async Task Twenty_users_with_two_connections_each_receive_exactly_their_own_events()
    {
        const int users = 20;
        await using var server = await ChatTestKit.StartAsync(new ScriptedAgent { Delay = TimeSpan.FromMilliseconds(5) });
        var people = await Task.WhenAll(Enumerable.Range(0, users).Select(_ => ChatUser.CreateAsync(server)));
        var sockets = new List<(ChatUser User, TestSocket A, TestSocket B)>();
        foreach (var person in people)
        {
            sockets.Add((person, await TestSocket.OpenAsync(server, person.User.AccessToken), await TestSocket.OpenAsync(server, person.User.AccessToken)));
        }

        try
        {
            var texts = people.Select((p, i) => $"user {i} asks about {p.Id}").ToArray();
            await Task.WhenAll(sockets.Select((s, i) => s.A.SendJsonAsync(new { type = "user_message", payload = new { text = texts[i] } })));

            var results = await Task.WhenAll(sockets.SelectMany((s, i) => new[] { (s.A, i), (s.B, i) })
                .Select(async x => (x.i, Frames: await x.Item1.ReadUntilAsync(f => f.IsTerminal(), TimeSpan.FromSeconds(30)))));
            // Anything still arriving afterwards would be someone else's.
            var late = await Task.WhenAll(sockets.SelectMany(s => new[] { s.A, s.B }).Select(c => c.DrainAsync(TimeSpan.FromMilliseconds(300))));
            Assert.All(late, l => Assert.Empty(l));

            var runIds = new HashSet<string>();
            foreach (var group in results.GroupBy(r => r.i))
            {
                var i = group.Key;
                var (user, _, _) = sockets[i];
                var streams = group.Select(g => g.Frames.Where(f => f.TryGetProperty("seq", out _)).ToList()).ToList();
                // Both connections of a user see the same events with the same numbering.
                Assert.Equal(streams[0].Select(f => f.GetRawText()), streams[1].Select(f => f.GetRawText()));
                var events = streams[0].Where(f => f.Str("run_id") is not null).ToList();
                ChatTestKit.AssertWellFormedRun(events);
                Assert.Equal(ScriptedAgent.CompleteSequence, events.Select(e => e.Type()).ToArray());
                var deltas = string.Concat(events.Where(e => e.Type() == "agent_message_delta").Select(e => e.GetProperty("payload").Str("delta")));
                Assert.Equal(ScriptedAgent.AnswerFor(texts[i]), deltas);
                var runId = events[0].Str("run_id")!;
                Assert.True(runIds.Add(runId));
                Assert.Equal("completed", (await user.WaitForRunAsync(runId)).Str("status"));
            }

            Assert.Equal(users, runIds.Count);
        }
        finally
        {
            foreach (var (user, a, b) in sockets)
            {
                await a.DisposeAsync();
                await b.DisposeAsync();
                user.Dispose();
            }
        }
    }
}
