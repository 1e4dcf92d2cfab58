using System.Net;
using System.Text.Json;
using Apex.Testing;

namespace Apex.Chat.Tests;

public sealed class RunApiTests
{
    [Fact(Timeout = 30_000)]
    public async Task Posting_a_message_runs_the_agent_and_stores_the_answer()
    {
        var agent = new ScriptedAgent();
        await using var server = await ChatTestKit.StartAsync(agent);
        using var alice = await ChatUser.CreateAsync(server);
        var threadId = await alice.CreateThreadAsync();

        var (status, accepted) = await alice.PostAsync($"/api/threads/{threadId}/messages", new { content = "  How much do we spend?  " });
        Assert.Equal(HttpStatusCode.Accepted, status);
        var message = accepted.GetProperty("message");
        var run = accepted.GetProperty("run");
        Assert.StartsWith("msg_", message.Str("id"), StringComparison.Ordinal);
        Assert.Equal("user", message.Str("role"));
        Assert.Equal("How much do we spend?", message.Str("content"));
        var runId = run.Str("id")!;
        Assert.StartsWith("run_", runId, StringComparison.Ordinal);
        Assert.Equal(runId, message.Str("run_id"));
        Assert.Equal(threadId, run.Str("thread_id"));
        Assert.Equal("queued", run.Str("status"));

        var finished = await alice.WaitForRunAsync(runId);
        Assert.Equal("completed", finished.Str("status"));
        Assert.True(finished.TryGetProperty("started_at", out _));
        Assert.True(finished.TryGetProperty("finished_at", out _));
        Assert.Equal(ScriptedAgent.AnswerFor("How much do we spend?"), finished.GetProperty("report").Str("summary"));

        var (_, messages) = await alice.GetAsync($"/api/threads/{threadId}/messages");
        var items = messages.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(["user", "assistant"], items.Select(m => m.Str("role")!).ToArray());
        Assert.Equal(ScriptedAgent.AnswerFor("How much do we spend?"), items[1].Str("content"));
        Assert.Equal(runId, items[1].Str("run_id"));

        var (_, thread) = await alice.GetAsync($"/api/threads/{threadId}");
        Assert.Equal("completed", thread.Str("last_run_status"));

        var events = await alice.EventsAsync(runId);
        ChatTestKit.AssertWellFormedRun(events);
        Assert.Equal(ScriptedAgent.CompleteSequence, events.Select(e => e.Type()).ToArray());
        var request = Assert.Single(agent.Requests);
        Assert.Equal("How much do we spend?", request.UserText);
        Assert.Equal(alice.Id, request.UserId);
        Assert.Empty(request.History);
    }

    [Fact(Timeout = 30_000)]
    public async Task Run_events_page_with_after_seq_and_cursor()
    {
        await using var server = await ChatTestKit.StartAsync();
        using var alice = await ChatUser.CreateAsync(server);
        var threadId = await alice.CreateThreadAsync();
        var (_, accepted) = await alice.PostAsync($"/api/threads/{threadId}/messages", new { content = "page me" });
        var runId = accepted.GetProperty("run").Str("id")!;
        await alice.WaitForRunAsync(runId);
        var all = await alice.EventsAsync(runId);
        var seqs = all.Select(e => e.GetProperty("seq").GetInt64()).ToList();

        var after = await alice.EventsAsync(runId, seqs[2]);
        Assert.Equal(seqs.Skip(3), after.Select(e => e.GetProperty("seq").GetInt64()));

        var paged = new List<long>();
        string? cursor = null;
        do
        {
            var (status, page) = await alice.GetAsync($"/api/runs/{runId}/events?limit=4" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)));
            Assert.Equal(HttpStatusCode.OK, status);
            paged.AddRange(page.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("seq").GetInt64()));
            cursor = page.TryGetProperty("next_cursor", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
        }
        while (cursor is not null);

        Assert.Equal(seqs, paged);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await alice.GetAsync($"/api/runs/{runId}/events?after_seq=-3")).Status);
    }

    [Fact(Timeout = 30_000)]
    public async Task Messages_page_oldest_first_and_history_reaches_the_agent()
    {
        var agent = new ScriptedAgent();
        await using var server = await ChatTestKit.StartAsync(agent);
        using var alice = await ChatUser.CreateAsync(server);
        var threadId = await alice.CreateThreadAsync();
        for (var i = 0; i < 3; i++)
        {
            var (status, accepted) = await alice.PostAsync($"/api/threads/{threadId}/messages", new { content = $"question {i}" });
            Assert.Equal(HttpStatusCode.Accepted, status);
            await alice.WaitForRunAsync(accepted.GetProperty("run").Str("id")!);
        }

        var contents = new List<string>();
        string? cursor = null;
        do
        {
            var (_, page) = await alice.GetAsync($"/api/threads/{threadId}/messages?limit=4" + (cursor is null ? "" : "&cursor=" + Uri.EscapeDataString(cursor)));
            contents.AddRange(page.GetProperty("items").EnumerateArray().Select(m => m.Str("content")!));
            cursor = page.TryGetProperty("next_cursor", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
        }
        while (cursor is not null);

        string[] expected =
        [
            "question 0", ScriptedAgent.AnswerFor("question 0"), "question 1", ScriptedAgent.AnswerFor("question 1"),
            "question 2", ScriptedAgent.AnswerFor("question 2"),
        ];
        Assert.Equal(expected, contents);
        var last = agent.Requests.Last();
        Assert.Equal(expected.Take(4), last.History.Select(t => t.Content));
        Assert.Equal(["user", "assistant", "user", "assistant"], last.History.Select(t => t.Role));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_second_message_while_a_run_is_active_is_409_and_stores_nothing()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await ChatTestKit.StartAsync(new ScriptedAgent { Gate = gate.Task });
        using var alice = await ChatUser.CreateAsync(server);
        var threadId = await alice.CreateThreadAsync();
        var (status, first) = await alice.PostAsync($"/api/threads/{threadId}/messages", new { content = "first" });
        Assert.Equal(HttpStatusCode.Accepted, status);

        // Racing posts: none may start a second run.
        var racing = await Task.WhenAll(Enumerable.Range(0, 5).Select(i => alice.PostAsync($"/api/threads/{threadId}/messages", new { content = $"second {i}" })));
        Assert.All(racing, r =>
        {
            Assert.Equal(HttpStatusCode.Conflict, r.Status);
            Assert.Equal("run_active", r.Body.Str("code"));
        });

        var (_, messages) = await alice.GetAsync($"/api/threads/{threadId}/messages");
        Assert.Equal(["first"], messages.GetProperty("items").EnumerateArray().Select(m => m.Str("content")!).ToArray());

        // Another thread of the same user runs concurrently.
        var other = await alice.CreateThreadAsync();
        Assert.Equal(HttpStatusCode.Accepted, (await alice.PostAsync($"/api/threads/{other}/messages", new { content = "elsewhere" })).Status);

        gate.SetResult();
        await alice.WaitForRunAsync(first.GetProperty("run").Str("id")!);
        Assert.Equal(HttpStatusCode.Accepted, (await alice.PostAsync($"/api/threads/{threadId}/messages", new { content = "after" })).Status);
    }

    [Fact(Timeout = 30_000)]
    public async Task Concurrent_first_messages_to_one_thread_start_exactly_one_run()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await ChatTestKit.StartAsync(new ScriptedAgent { Gate = gate.Task });
        using var alice = await ChatUser.CreateAsync(server);
        var threadId = await alice.CreateThreadAsync();
        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(i => alice.PostAsync($"/api/threads/{threadId}/messages", new { content = $"m{i}" })));
        Assert.Equal(1, results.Count(r => r.Status == HttpStatusCode.Accepted));
        Assert.Equal(9, results.Count(r => r.Status == HttpStatusCode.Conflict));
        var (_, messages) = await alice.GetAsync($"/api/threads/{threadId}/messages");
        Assert.Equal(1, messages.GetProperty("items").GetArrayLength());
        gate.SetResult();
    }

    [Fact(Timeout = 30_000)]
    public async Task Another_users_run_is_not_found()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var server = await ChatTestKit.StartAsync(new ScriptedAgent { Gate = gate.Task });
        using var alice = await ChatUser.CreateAsync(server);
        using var mallory = await ChatUser.CreateAsync(server);
        var threadId = await alice.CreateThreadAsync();
        var (_, accepted) = await alice.PostAsync($"/api/threads/{threadId}/messages", new { content = "secret plan" });
        var runId = accepted.GetProperty("run").Str("id")!;

        Assert.Equal(HttpStatusCode.NotFound, (await mallory.GetAsync($"/api/runs/{runId}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await mallory.GetAsync($"/api/runs/{runId}/events")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await mallory.PostAsync($"/api/runs/{runId}/cancel")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await mallory.GetAsync("/api/runs/run_01JXXXXXXXXXXXXXXXXXXXXXXX")).Status);

        gate.SetResult();
        var finished = await alice.WaitForRunAsync(runId);
        Assert.Equal("completed", finished.Str("status"));
    }

    [Fact(Timeout = 30_000)]
    public async Task Cancel_ends_the_run_as_cancelled()
    {
        await using var server = await ChatTestKit.StartAsync(new ScriptedAgent { Mode = ScriptMode.NeverTerminates });
        using var alice = await ChatUser.CreateAsync(server);
        var threadId = await alice.CreateThreadAsync();
        var (_, accepted) = await alice.PostAsync($"/api/threads/{threadId}/messages", new { content = "long one" });
        var runId = accepted.GetProperty("run").Str("id")!;
        await WaitForEventsAsync(alice, runId, 2);

        var (status, cancel) = await alice.PostAsync($"/api/runs/{runId}/cancel");
        Assert.Equal(HttpStatusCode.Accepted, status);
        Assert.Equal(runId, cancel.Str("id"));
        // Waits on the run's state, not a clock: how fast a cancel lands belongs in a benchmark.
        var run = await alice.WaitForRunAsync(runId, TimeSpan.FromSeconds(15));
        Assert.Equal("cancelled", run.Str("status"));

        var events = await alice.EventsAsync(runId);
        ChatTestKit.AssertWellFormedRun(events);
        var terminal = events[^1];
        Assert.Equal("agent_completed", terminal.Type());
        Assert.Equal("apex", terminal.Str("agent_name"));
        Assert.Equal("cancelled", terminal.GetProperty("payload").Str("status"));

        var (again, problem) = await alice.PostAsync($"/api/runs/{runId}/cancel");
        Assert.Equal(HttpStatusCode.Conflict, again);
        Assert.Equal("run_not_active", problem.Str("code"));

        var (_, thread) = await alice.GetAsync($"/api/threads/{threadId}");
        Assert.Equal("cancelled", thread.Str("last_run_status"));
        Assert.Equal(HttpStatusCode.Accepted, (await alice.PostAsync($"/api/threads/{threadId}/messages", new { content = "next" })).Status);
    }

    [Fact(Timeout = 30_000)]
    public async Task Cancel_ends_the_run_even_when_the_agent_ignores_its_token()
    {
        await using var server = await ChatTestKit.StartAsync(new ScriptedAgent { Mode = ScriptMode.IgnoresCancellation });
        using var alice = await ChatUser.CreateAsync(server);
        var threadId = await alice.CreateThreadAsync();
        var (_, accepted) = await alice.PostAsync($"/api/threads/{threadId}/messages", new { content = "stubborn" });
        var runId = accepted.GetProperty("run").Str("id")!;
        await WaitForEventsAsync(alice, runId, 2);

        // The agent never ends by itself: the run ending at all proves the driver stops waiting for it.
        Assert.Equal(HttpStatusCode.Accepted, (await alice.PostAsync($"/api/runs/{runId}/cancel")).Status);
        var run = await alice.WaitForRunAsync(runId, TimeSpan.FromSeconds(15));
        Assert.Equal("cancelled", run.Str("status"));
    }

    [Theory(Timeout = 30_000)]
    [InlineData(ScriptMode.Throws, "agent_failed")]
    [InlineData(ScriptMode.EndsWithoutTerminal, "agent_incomplete")]
    public async Task A_failing_agent_ends_the_run_with_a_final_agent_error(ScriptMode mode, string code)
    {
        await using var server = await ChatTestKit.StartAsync(new ScriptedAgent { Mode = mode });
        using var alice = await ChatUser.CreateAsync(server);
        var threadId = await alice.CreateThreadAsync();
        var (_, accepted) = await alice.PostAsync($"/api/threads/{threadId}/messages", new { content = "break" });
        var runId = accepted.GetProperty("run").Str("id")!;
        var run = await alice.WaitForRunAsync(runId);
        Assert.Equal("failed", run.Str("status"));
        Assert.Equal(code, run.GetProperty("error").Str("code"));

        var events = await alice.EventsAsync(runId);
        ChatTestKit.AssertWellFormedRun(events);
        var terminal = events[^1];
        Assert.Equal("agent_error", terminal.Type());
        Assert.Equal(code, terminal.GetProperty("payload").Str("code"));
        Assert.True(terminal.GetProperty("payload").GetProperty("final").GetBoolean());
        // The exception text stays in the server log.
        Assert.DoesNotContain("Scripted agent failure", terminal.GetRawText(), StringComparison.Ordinal);

        var (_, messages) = await alice.GetAsync($"/api/threads/{threadId}/messages");
        Assert.Equal(["user"], messages.GetProperty("items").EnumerateArray().Select(m => m.Str("role")!).ToArray());
        Assert.Equal(HttpStatusCode.Accepted, (await alice.PostAsync($"/api/threads/{threadId}/messages", new { content = "again" })).Status);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_run_past_its_time_limit_fails_with_run_timeout()
    {
        await using var server = await ChatTestKit.StartAsync(new ScriptedAgent { Mode = ScriptMode.NeverTerminates },
            new Dictionary<string, string?> { ["Chat:RunTimeoutSeconds"] = "1" });
        using var alice = await ChatUser.CreateAsync(server);
        var threadId = await alice.CreateThreadAsync();
        var (_, accepted) = await alice.PostAsync($"/api/threads/{threadId}/messages", new { content = "slow" });
        var run = await alice.WaitForRunAsync(accepted.GetProperty("run").Str("id")!, TimeSpan.FromSeconds(5));
        Assert.Equal("failed", run.Str("status"));
        Assert.Equal("run_timeout", run.GetProperty("error").Str("code"));
    }

    [Fact(Timeout = 30_000)]
    public async Task Deleting_a_thread_stops_its_run_and_removes_its_messages_and_runs()
    {
        var agent = new ScriptedAgent { Mode = ScriptMode.NeverTerminates };
        await using var server = await ChatTestKit.StartAsync(agent);
        using var alice = await ChatUser.CreateAsync(server);
        var threadId = await alice.CreateThreadAsync();
        var (_, accepted) = await alice.PostAsync($"/api/threads/{threadId}/messages", new { content = "to be deleted" });
        var runId = accepted.GetProperty("run").Str("id")!;
        await WaitForEventsAsync(alice, runId, 2);

        Assert.Equal(HttpStatusCode.NoContent, (await alice.SendAsync(HttpMethod.Delete, $"/api/threads/{threadId}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await alice.GetAsync($"/api/runs/{runId}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await alice.GetAsync($"/api/runs/{runId}/events")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await alice.GetAsync($"/api/threads/{threadId}/messages")).Status);
        // The agent itself saw its token cancelled (it is not left running in the background).
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        while (agent.CancellationsObserved == 0)
        {
            await Task.Delay(10, cts.Token);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task An_unknown_dataset_is_refused_and_nothing_is_stored()
    {
        await using var server = await ChatTestKit.StartAsync();
        using var alice = await ChatUser.CreateAsync(server);
        var threadId = await alice.CreateThreadAsync();
        var (status, problem) = await alice.PostAsync($"/api/threads/{threadId}/messages", new { content = "use it", dataset_id = "ds_01JXXXXXXXXXXXXXXXXXXXXXXX" });
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("not_found", problem.GetProperty("code").GetString());
        var (_, messages) = await alice.GetAsync($"/api/threads/{threadId}/messages");
        Assert.Empty(messages.GetProperty("items").EnumerateArray());
    }

    private static async Task WaitForEventsAsync(ChatUser user, string runId, int count)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while ((await user.EventsAsync(runId)).Count < count)
        {
            await Task.Delay(20, cts.Token);
        }
    }
}
