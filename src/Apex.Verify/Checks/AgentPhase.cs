using System.Text.Json;
using Apex.Verify.Probe;

namespace Apex.Verify.Checks;

/// <summary>Phase 7: a real question, its events in a valid order, one terminal event, the answer stored.</summary>
internal static class AgentPhase
{
    public static async Task RunAsync(VerifyContext ctx, CancellationToken ct)
    {
        var e = ctx.Endpoints;
        var s = ctx.Settings;
        if (ctx.Phases.Contains(Phases.Isolation))
        {
            await IsolationPhase.OpenObserverAsync(ctx, ct);
        }

        ProbeSocket? socket = null;
        var trace = new RunTrace();
        long? lastSeq = null;
        try
        {
            await ctx.CheckAsync("agent.first_event", "a question is acknowledged and the run starts", async scope =>
            {
                var attempt = await ProbeSocket.ConnectAsync(e.Ws, ctx.UserA!.AccessToken, [], null, s.FrameTimeout, ct);
                socket = attempt.Socket ?? throw new CheckFailedException($"{e.Ws}: {attempt.Error}");
                var established = await WebSocketPhase.ExpectEstablishedAsync(ctx, socket, ctx.UserA.UserId, ct);
                lastSeq = established.Payload.Long("last_seq");
                await StartRunAsync(ctx, socket, trace, "verify-run-1", null, ct);
                scope.Measured = trace.FirstEventAt - trace.SentAt;
                return $"ack after {(trace.AckAt - trace.SentAt)!.Value.TotalMilliseconds:0} ms; {trace.Events[0]} of '{trace.Events[0].AgentName}' " +
                    $"after {scope.Measured!.Value.TotalMilliseconds:0} ms (run {trace.RunId}, thread {trace.ThreadId})";
            }, ct, needs: [Facts.Session], provides: Facts.AgentStarted);

            await ctx.CheckAsync("agent.completion", "exactly one terminal event", async scope =>
            {
                await CollectUntilTerminalAsync(ctx, socket!, trace, ct);
                scope.Measured = trace.TerminalAt - trace.SentAt;
                return DescribeTerminal(trace, scope.Measured!.Value);
            }, ct, needs: [Facts.AgentStarted], provides: Facts.AgentRun);

            await ctx.CheckAsync("agent.event_types", "all five event types", _ =>
            {
                var missing = RunTrace.CriticalTypes.Where(t => trace.Events.All(ev => ev.Type != t)).ToList();
                if (missing.Count > 0)
                {
                    throw new CheckFailedException($"the run sent no {string.Join(", ", missing)} (saw {trace.TypeCounts()})");
                }

                var agents = trace.Events.Select(ev => ev.AgentName).Distinct();
                return Task.FromResult($"{trace.TypeCounts()}; agents {string.Join(", ", agents)}");
            }, ct, needs: [Facts.AgentRun]);

            await ctx.CheckAsync("agent.order", "valid order, seq without gaps", _ =>
            {
                var problems = trace.OrderProblems();
                problems.AddRange(RunTrace.SeqProblems(trace.Stream, lastSeq));
                if (problems.Count > 0)
                {
                    throw new CheckFailedException(string.Join("; ", problems));
                }

                return Task.FromResult($"{trace.Events.Count} events, seq {trace.Stream[0].Seq}..{trace.Stream[^1].Seq} without gaps, sub-agents nested inside '{RunTrace.TopAgent}'");
            }, ct, needs: [Facts.AgentRun]);

            await ctx.CheckAsync("agent.tool_pairs", "every tool call completes", _ =>
            {
                var (problems, pairs) = trace.ToolProblems();
                if (problems.Count > 0)
                {
                    throw new CheckFailedException(string.Join("; ", problems.Take(4)));
                }

                var tools = trace.Events.Where(ev => ev.Type == "tool_executing").Select(ev => ev.Payload.Str("tool_name")).Distinct();
                return Task.FromResult($"{pairs} paired calls: {string.Join(", ", tools)}");
            }, ct, needs: [Facts.AgentRun]);

            await ctx.CheckAsync("agent.stored", "the question and answer are stored", async _ =>
                await ExpectStoredAsync(ctx, trace, ct), ct, needs: [Facts.AgentRun]);
        }
        finally
        {
            if (socket is not null)
            {
                await socket.DisposeAsync();
            }
        }
    }

    /// <summary>Sends the question, waits for its ack and the run's first event.</summary>
    public static async Task StartRunAsync(VerifyContext ctx, ProbeSocket socket, RunTrace trace, string clientId, string? threadId, CancellationToken ct)
    {
        var s = ctx.Settings;
        trace.SentAt = socket.Now;
        object payload = threadId is null ? new { text = s.Question } : new { text = s.Question, thread_id = threadId };
        await socket.SendJsonAsync(new { type = "user_message", id = clientId, payload }, ct);
        var reply = await socket.WaitForAsync(
            f => (f.Type is "ack" or "error" && f.Payload.Str("client_id") == clientId) || Track(trace, f),
            s.FrameTimeout, $"ack of user_message '{clientId}'", ct);
        if (reply.Type == "error")
        {
            throw new CheckFailedException($"user_message answered with error {reply.Payload.Str("code")}: {reply.Payload.Str("message")}");
        }

        trace.AckAt = reply.ReceivedAt;
        if (reply.Payload.Str("received_type") is { } received && received != "user_message")
        {
            throw new CheckFailedException($"ack received_type is '{received}', not user_message");
        }

        if (trace.Events.Count > 0)
        {
            throw new CheckFailedException($"the run's {trace.Events[0]} arrived before the ack of its user_message");
        }

        var remaining = s.AgentFirstEventTimeout - (socket.Now - trace.SentAt.Value);
        if (trace.Events.Count == 0)
        {
            await socket.WaitForAsync(f => trace.Add(f), remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, "agent event", ct);
        }

        ctx.UserARuns.Add(trace.RunId!);
        if (trace.ThreadId is not null)
        {
            ctx.UserAThreads.Add(trace.ThreadId);
        }
    }

    private static bool Track(RunTrace trace, Frame f)
    {
        trace.Add(f);
        return false;
    }

    /// <summary>Reads until the run's terminal event (or the completion timeout), then a quiet period.</summary>
    public static async Task CollectUntilTerminalAsync(VerifyContext ctx, ProbeSocket socket, RunTrace trace, CancellationToken ct)
    {
        var s = ctx.Settings;
        var deadline = trace.SentAt!.Value + s.AgentCompletionTimeout;
        while (!trace.Finished)
        {
            var left = deadline - socket.Now;
            var frame = left > TimeSpan.Zero ? await socket.NextAsync(left, ct) : null;
            if (frame is null)
            {
                var closed = socket.IsClosed ? $"; the socket closed{socket.CloseText()}" : string.Empty;
                throw new CheckFailedException(
                    $"no terminal event within {s.AgentCompletionTimeout.TotalSeconds:0.#} s of the question: {trace.Events.Count} events so far, the last {trace.Last()}{closed}");
            }

            trace.Add(frame);
        }

        // Anything of the run after its terminal event breaks "exactly one terminal event".
        var quietUntil = socket.Now + s.QuietPeriod;
        while (socket.Now < quietUntil && await socket.NextAsync(quietUntil - socket.Now, ct) is { } late)
        {
            trace.Add(late);
        }

        var terminal = trace.Terminal!;
        if (trace.Terminals.Count > 1)
        {
            throw new CheckFailedException($"{trace.Terminals.Count} terminal events: {string.Join(", ", trace.Terminals)}");
        }

        if (trace.AfterTerminal.Count > 0)
        {
            throw new CheckFailedException($"events after the terminal {terminal}: {string.Join(", ", trace.AfterTerminal.Take(5))}");
        }

        if (terminal.Type == "agent_error")
        {
            throw new CheckFailedException($"the run failed: agent_error {terminal.Payload.Str("code")}: {terminal.Payload.Str("message")}");
        }

        var status = terminal.Payload.Str("status");
        if (terminal.AgentName != RunTrace.TopAgent || status != "completed")
        {
            throw new CheckFailedException($"terminal {terminal} of '{terminal.AgentName}' has status '{status}', expected '{RunTrace.TopAgent}' completed");
        }

        if (terminal.Payload.Prop("report") is not { ValueKind: JsonValueKind.Object })
        {
            throw new CheckFailedException($"terminal {terminal} carries no report");
        }
    }

    public static string DescribeTerminal(RunTrace trace, TimeSpan completion)
    {
        var terminal = trace.Terminal!;
        var summary = terminal.Payload.Prop("report").Str("summary");
        return $"{terminal} final after {completion.TotalMilliseconds:0} ms, {trace.Events.Count} events, nothing after it" +
            (summary is null ? string.Empty : $"; report: \"{Shorten(summary, 100)}\"");
    }

    private static async Task<string> ExpectStoredAsync(VerifyContext ctx, RunTrace trace, CancellationToken ct)
    {
        var e = ctx.Endpoints;
        var token = ctx.UserA!.AccessToken;
        var response = (await ctx.Http.GetAsync(e.ApiPath($"api/threads/{trace.ThreadId}/messages"), token, ct)).Expect(200);
        var items = Json.Items(response.Json) ?? throw new CheckFailedException($"{response.Describe()}: no message list");
        var question = items.FirstOrDefault(m => m.Str("role") == "user" && m.Str("content") == ctx.Settings.Question);
        if (question.ValueKind == JsonValueKind.Undefined)
        {
            throw new CheckFailedException($"{response.Describe()}: the question is not stored ({items.Count} messages)");
        }

        var answer = items.FirstOrDefault(m => m.Str("role") == "assistant" && m.Str("run_id") == trace.RunId);
        if (answer.ValueKind == JsonValueKind.Undefined || string.IsNullOrWhiteSpace(answer.Str("content")))
        {
            throw new CheckFailedException($"{response.Describe()}: no assistant message with run_id {trace.RunId} and content ({items.Count} messages)");
        }

        var stored = answer.Str("content")!.Trim();
        var streamed = trace.StreamedAnswers();
        if (streamed.Count > 0 && !streamed.Any(a => a.Trim() == stored) && string.Concat(streamed).Trim() != stored)
        {
            throw new CheckFailedException($"the stored answer ({stored.Length} chars) is not the streamed one ({string.Join(" + ", streamed.Select(a => a.Length))} chars)");
        }

        var run = await ctx.Http.GetAsync(e.ApiPath($"api/runs/{trace.RunId}"), token, ct);
        var body = run.Expect(200).ExpectJsonObject();
        if (body.Str("status") != "completed" || body.Str("thread_id") != trace.ThreadId)
        {
            throw new CheckFailedException($"{run.Describe()}: status '{body.Str("status")}', thread '{body.Str("thread_id")}'");
        }

        return $"question and answer ({stored.Length} chars{(streamed.Count > 0 ? ", as streamed" : string.Empty)}) in {trace.ThreadId}; run {trace.RunId} completed";
    }

    public static string Shorten(string text, int max) => text.Length <= max ? text : text[..max] + "…";
}
