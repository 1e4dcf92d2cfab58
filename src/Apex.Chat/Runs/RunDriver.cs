using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Apex.Agents.Runtime;
using Apex.Chat.Api;
using Apex.Chat.Data;
using Apex.Contracts;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Apex.Chat.Runs;

/// <summary>
/// Drives admitted runs: executes the agent in the background on the run's own token, so that the
/// run outlives the request or socket that started it, maps the agent's events onto the protocol's,
/// and turns a stop, the timeout or shutdown into the run's end. Whatever the agent does (completes,
/// throws, stops yielding, ignores cancellation), the run ends with exactly one terminal event, through
/// the <see cref="RunJournal"/>.
/// </summary>
internal sealed class RunDriver(
    IServiceScopeFactory scopes,
    RunRegistry registry,
    RunJournal journal,
    IRunCluster cluster,
    IOptions<ChatOptions> options,
    TimeProvider time,
    ILogger<RunDriver> logger)
{
    /// <summary>Starts executing an admitted run in the background, bounded by the run timeout.</summary>
    public void Launch(ActiveRun active)
    {
        active.Cancellation.CancelAfter(TimeSpan.FromSeconds(options.Value.RunTimeoutSeconds));
        active.Completion = Task.Run(() => ExecuteAsync(active), CancellationToken.None);
    }

    public async Task<(StartRunError? Error, ChatRun? Run)> StopAsync(string userId, string runId, TimeSpan delay, CancellationToken ct)
    {
        if (!ApexIds.HasPrefix(runId, ApexIds.Run))
        {
            return (new StartRunError(RunErrors.NotFound, "Run not found.", "run_id"), null);
        }

        // The registry only holds the caller's runs for the caller: another user's id is not found.
        var active = registry.Find(userId, runId);
        if (active is not null)
        {
            if (delay > TimeSpan.Zero)
            {
                _ = Task.Delay(delay, time, CancellationToken.None).ContinueWith(
                    static (_, state) => ((ActiveRun)state!).Cancel(CancelReason.UserStop), active, CancellationToken.None,
                    TaskContinuationOptions.None, TaskScheduler.Default);
            }
            else
            {
                active.Cancel(CancelReason.UserStop);
            }
        }

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ChatDbContext>();
        var run = await db.Runs.AsNoTracking().SingleOrDefaultAsync(r => r.Id == runId && r.UserId == userId, ct);
        if (active is not null)
        {
            // Acknowledged even when the stop raced with the run's own end: the stream shows how it ended.
            return (null, run ?? new ChatRun
            {
                Id = active.RunId,
                ThreadId = active.ThreadId,
                UserId = active.UserId,
                Status = RunStatus.Queued,
                CreatedAt = time.GetUtcNow(),
            });
        }

        if (run is null)
        {
            return (new StartRunError(RunErrors.NotFound, "Run not found.", "run_id"), null);
        }

        if (cluster.SpansNodes && RunStatus.IsActive(run.Status))
        {
            // Executing on another node: that node stops it and publishes the terminal event.
            await cluster.RequestCancelAsync(userId, runId, CancelReason.UserStop, ct);
            return (null, run);
        }

        // Not executing here: it has ended (its record may still be turning final this very moment)
        // or a previous process left it, which the start-up check marks failed.
        return (new StartRunError(RunErrors.RunNotActive, "The run has already ended.", "run_id"), run);
    }

    /// <summary>Cancels the runs of a thread about to be deleted and waits briefly for their last event.</summary>
    public async Task CancelThreadRunsAsync(string userId, string threadId)
    {
        if (registry.FindByThread(userId, threadId) is { } run)
        {
            run.Cancel(CancelReason.ThreadDeleted);
            await run.Completion.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        else if (cluster.SpansNodes)
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<ChatDbContext>();
            var runId = await db.Threads.AsNoTracking().Where(t => t.Id == threadId && t.UserId == userId)
                .Select(t => t.ActiveRunId).FirstOrDefaultAsync();
            if (runId is not null)
            {
                await cluster.RequestCancelAsync(userId, runId, CancelReason.ThreadDeleted, CancellationToken.None);
            }
        }
    }

    private async Task ExecuteAsync(ActiveRun active)
    {
        var started = time.GetTimestamp();
        ChatMetrics.RunsActive.Inc();
        var state = new RunState(active, time.GetUtcNow());
        using var span = RunTelemetry.Start(active);
        state.Trace = span?.Context;
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            state.Db = scope.ServiceProvider.GetRequiredService<ChatDbContext>();
            Outcome outcome;
            try
            {
                outcome = await RunAgentAsync(scope.ServiceProvider, state);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // Storage or broker trouble outside the agent: still end the run visibly.
                Log.ExecutorFailed(logger, ex, active.RunId);
                outcome = Outcome.Fail(RunErrors.AgentFailed, "The run failed.");
            }

            await FinishAsync(state, outcome);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.ExecutorFailed(logger, ex, active.RunId);
        }
        finally
        {
            ChatMetrics.RunsActive.Dec();
            var elapsed = time.GetElapsedTime(started);
            ChatMetrics.RunsFinished.WithLabels(state.FinalStatus).Inc();
            ChatMetrics.RunDuration.WithLabels(state.FinalStatus).Observe(elapsed.TotalSeconds);
            Log.RunFinished(logger, active.RunId, state.FinalStatus, (long)elapsed.TotalMilliseconds);
            RunTelemetry.Finish(span, state.FinalStatus);
            registry.Remove(active);
        }
    }

    private async Task<Outcome> RunAgentAsync(IServiceProvider scoped, RunState state)
    {
        var active = state.Run;
        var db = state.Db!;
        var now = time.GetUtcNow();
        await db.Runs.Where(r => r.Id == active.RunId && r.Status == RunStatus.Queued)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, RunStatus.Running).SetProperty(r => r.StartedAt, now));
        await db.Threads.Where(t => t.Id == active.ThreadId && t.ActiveRunId == active.RunId)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.LastRunStatus, RunStatus.Running));

        var runtime = scoped.GetService<IAgentRuntime>();
        if (runtime is null)
        {
            return Outcome.Fail(RunErrors.AgentUnavailable, "No agent is configured on this server.");
        }

        var historySize = options.Value.HistoryMessages;
        var history = await db.Messages.AsNoTracking()
            .Where(m => m.ThreadId == active.ThreadId && m.UserId == active.UserId && m.Id != active.UserMessageId)
            .OrderByDescending(m => m.CreatedAt).ThenByDescending(m => m.Id)
            .Take(historySize)
            .Select(m => new ChatTurn(m.Role, m.Content))
            .ToListAsync();
        history.Reverse();

        // The thread's last report: follow-up questions are answered from it and its data.
        var last = await db.Runs.AsNoTracking()
            .Where(r => r.ThreadId == active.ThreadId && r.UserId == active.UserId && r.Id != active.RunId && r.Report != null)
            .OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id)
            .Select(r => new { r.Id, r.Report })
            .FirstOrDefaultAsync();

        var request = new AgentRunRequest
        {
            RunId = active.RunId,
            ThreadId = active.ThreadId,
            UserId = active.UserId,
            UserText = active.Text,
            DatasetId = active.DatasetId,
            History = history,
            LastReport = last?.Report is { } lastReport ? ChatMapping.ParseElement(lastReport) : null,
            LastReportRunId = last?.Id,
            // The agent works on tasks of its own: its spans hang under the run's by this, not by ambient context.
            TraceParent = state.Trace,
        };

        var token = active.Cancellation.Token;
        IAsyncEnumerator<AgentEvent>? events = null;
        Task<bool>? pending = null;
        try
        {
            events = runtime.RunAsync(request, token).GetAsyncEnumerator(token);
            while (true)
            {
                bool hasNext;
                try
                {
                    pending = events.MoveNextAsync().AsTask();
                    // WaitAsync: a stop ends the run within the protocol's bound even when the agent is
                    // stuck in code that does not observe its token.
                    hasNext = await pending.WaitAsync(token);
                    pending = null;
                }
                catch (Exception) when (token.IsCancellationRequested)
                {
                    return Outcome.Cancelled(active.Reason);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    pending = null;
                    Log.AgentFailed(logger, ex, active.RunId);
                    return Outcome.Fail(RunErrors.AgentFailed, "The agent stopped with an error.");
                }

                if (!hasNext)
                {
                    if (token.IsCancellationRequested)
                    {
                        return Outcome.Cancelled(active.Reason);
                    }

                    Log.AgentIncomplete(logger, active.RunId);
                    return Outcome.Fail(RunErrors.AgentIncomplete, "The agent ended without a result.");
                }

                var agentEvent = events.Current;
                if (agentEvent.IsTerminal)
                {
                    return Outcome.FromAgent(agentEvent);
                }

                await EmitAsync(state, agentEvent);
            }
        }
        finally
        {
            if (events is not null)
            {
                _ = ReleaseAsync(events, pending, active);
            }
        }
    }

    /// <summary>
    /// Disposes the agent's enumerator once its last MoveNextAsync has returned (an iterator cannot be
    /// disposed mid-step), then the run's token source. Runs detached so a stuck agent never delays
    /// the terminal event.
    /// </summary>
    private static async Task ReleaseAsync(IAsyncEnumerator<AgentEvent> events, Task<bool>? pending, ActiveRun active)
    {
        try
        {
            if (pending is not null)
            {
                await ((Task)pending).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            await events.DisposeAsync();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The run is over; an agent that fails while being disposed has nothing left to report.
            _ = ex;
        }
        finally
        {
            await active.Completion.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            active.Cancellation.Dispose();
        }
    }

    /// <summary>Publishes one non-terminal agent event and records what it opens or closes.</summary>
    private async Task EmitAsync(RunState state, AgentEvent agentEvent)
    {
        if (!state.Opened && !(agentEvent.Type == EventTypes.AgentStarted && agentEvent.AgentName == AgentEvent.TopAgent))
        {
            // The protocol promises that a run opens with the top agent's agent_started.
            await PublishAsync(state, AgentEvent.Started(AgentEvent.TopAgent, "Working on your request."));
        }

        state.Opened = true;
        var payload = agentEvent.Payload;
        switch (agentEvent.Type)
        {
            case EventTypes.AgentStarted when agentEvent.AgentName != AgentEvent.TopAgent:
                state.OpenAgents.Add(agentEvent.AgentName);
                break;
            case EventTypes.AgentCompleted:
                var index = state.OpenAgents.LastIndexOf(agentEvent.AgentName);
                if (index >= 0)
                {
                    state.OpenAgents.RemoveAt(index);
                }

                break;
            case EventTypes.ToolExecuting when TryGetString(payload, "tool_call_id") is { } callId:
                state.OpenTools.Add((callId, TryGetString(payload, "tool_name") ?? "unknown", agentEvent.AgentName));
                break;
            case EventTypes.ToolCompleted when TryGetString(payload, "tool_call_id") is { } callId:
                state.OpenTools.RemoveAll(t => t.CallId == callId);
                break;
            case EventTypes.AgentMessageDelta when TryGetString(payload, "delta") is { } delta:
                state.Answer.Append(delta);
                break;
        }

        await PublishAsync(state, agentEvent);
    }

    private async Task FinishAsync(RunState state, Outcome outcome)
    {
        var active = state.Run;
        if (!state.Opened)
        {
            await PublishAsync(state, AgentEvent.Started(AgentEvent.TopAgent, "Working on your request."));
            state.Opened = true;
        }

        // Close what the agent left open, innermost last-opened first, so every tool_executing has its
        // tool_completed and every sub-agent its agent_completed, whatever ended the run.
        var closing = outcome.Kind == OutcomeKind.Cancelled ? "cancelled" : "the run ended before this step finished";
        for (var i = state.OpenTools.Count - 1; i >= 0; i--)
        {
            var (callId, toolName, agent) = state.OpenTools[i];
            await PublishAsync(state, AgentEvent.ToolCompleted(agent, callId, toolName, null, 0, ok: false, error: closing));
        }

        for (var i = state.OpenAgents.Count - 1; i >= 0; i--)
        {
            await PublishAsync(state, AgentEvent.Completed(state.OpenAgents[i], "cancelled", null, DurationMs(state)));
        }

        var (terminal, status) = BuildTerminal(state, outcome);
        string? report = null;
        string? answer = null;
        string? errorCode = null;
        string? errorMessage = null;
        if (terminal.Type == EventTypes.AgentCompleted)
        {
            if (terminal.Payload.TryGetProperty("report", out var r) && r.ValueKind == JsonValueKind.Object)
            {
                report = r.GetRawText();
            }

            if (status == RunStatus.Completed)
            {
                answer = state.Answer.Length > 0 ? state.Answer.ToString() : AnswerFrom(terminal.Payload);
            }
        }
        else
        {
            errorCode = TryGetString(terminal.Payload, "code") ?? RunErrors.AgentFailed;
            errorMessage = TryGetString(terminal.Payload, "message");
        }

        state.FinalStatus = status;
        await journal.EndAsync(state.Db, Ref(active), terminal, new RunFinal(status, report, errorCode, errorMessage), answer);
    }

    private (AgentEvent Terminal, string Status) BuildTerminal(RunState state, Outcome outcome)
    {
        switch (outcome.Kind)
        {
            case OutcomeKind.Agent:
                var ev = outcome.Event!;
                if (ev.Type == EventTypes.AgentError)
                {
                    return (ev, RunStatus.Failed);
                }

                var cancelled = TryGetString(ev.Payload, "status") == "cancelled";
                return (ev, cancelled ? RunStatus.Cancelled : RunStatus.Completed);
            case OutcomeKind.Cancelled when outcome.Reason == CancelReason.Timeout:
                return (AgentEvent.Error(AgentEvent.TopAgent, RunErrors.RunTimeout,
                    $"The run took longer than {options.Value.RunTimeoutSeconds} s and was stopped.", final: true), RunStatus.Failed);
            case OutcomeKind.Cancelled when outcome.Reason == CancelReason.Shutdown:
                return (AgentEvent.Error(AgentEvent.TopAgent, RunErrors.ServerShutdown,
                    "The server is shutting down; the run was stopped. Send the message again to retry.", final: true), RunStatus.Failed);
            case OutcomeKind.Cancelled:
                return (AgentEvent.Completed(AgentEvent.TopAgent, "cancelled", new CancelledResult(ReasonText(outcome.Reason)), DurationMs(state), final: true),
                    RunStatus.Cancelled);
            default:
                return (AgentEvent.Error(AgentEvent.TopAgent, outcome.Code!, outcome.Message!, final: true), RunStatus.Failed);
        }
    }

    private static string ReasonText(CancelReason reason) => reason switch
    {
        CancelReason.ThreadDeleted => "thread_deleted",
        _ => "stopped_by_user",
    };

    private long DurationMs(RunState state) => (long)(time.GetUtcNow() - state.StartedAt).TotalMilliseconds;

    /// <summary>The answer text when the agent streamed none: its result's answer, else a summary.</summary>
    private static string? AnswerFrom(JsonElement payload)
    {
        if (payload.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        if (payload.TryGetProperty("result", out var result))
        {
            if (result.ValueKind == JsonValueKind.String)
            {
                return result.GetString();
            }

            if ((TryGetString(result, "answer") ?? TryGetString(result, "text") ?? TryGetString(result, "summary")) is { Length: > 0 } text)
            {
                return text;
            }
        }

        return payload.TryGetProperty("report", out var report) ? TryGetString(report, "summary") : null;
    }

    /// <summary>Publishes one non-terminal event of the run through the journal.</summary>
    private Task PublishAsync(RunState state, AgentEvent agentEvent) => journal.PublishAsync(state.Db, Ref(state.Run), agentEvent);

    private static RunRef Ref(ActiveRun active) => new(active.RunId, active.UserId, active.ThreadId);

    private static string? TryGetString(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    private sealed record CancelledResult(string Reason);

    private sealed class RunState(ActiveRun run, DateTimeOffset startedAt)
    {
        public ActiveRun Run { get; } = run;
        public DateTimeOffset StartedAt { get; } = startedAt;
        public ChatDbContext? Db { get; set; }
        public bool Opened { get; set; }
        public List<string> OpenAgents { get; } = [];
        public List<(string CallId, string ToolName, string Agent)> OpenTools { get; } = [];
        public StringBuilder Answer { get; } = new();
        public string FinalStatus { get; set; } = RunStatus.Failed;
        public ActivityContext? Trace { get; set; }
    }

    private enum OutcomeKind
    {
        Agent,
        Cancelled,
        Failed,
    }

    private sealed record Outcome(OutcomeKind Kind, AgentEvent? Event, CancelReason Reason, string? Code, string? Message)
    {
        public static Outcome FromAgent(AgentEvent e) => new(OutcomeKind.Agent, e, CancelReason.None, null, null);

        public static Outcome Cancelled(CancelReason reason) => new(OutcomeKind.Cancelled, null, reason, null, null);

        public static Outcome Fail(string code, string message) => new(OutcomeKind.Failed, null, CancelReason.None, code, message);
    }
}
