using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Apex.Agents.Runtime;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Apex.Testing;

/// <summary>How a <see cref="ScriptedAgent"/> run behaves after its opening events.</summary>
public enum ScriptMode
{
    /// <summary>The full script: nested sub-agent, one tool call, a streamed answer, final agent_completed.</summary>
    Complete,

    /// <summary>Throws after the opening events.</summary>
    Throws,

    /// <summary>Yields nothing more until its token is cancelled (then ends as a cancelled iterator would).</summary>
    NeverTerminates,

    /// <summary>Ignores its token: blocks for <see cref="ScriptedAgent.IgnoreCancellationFor"/> before ending.</summary>
    IgnoresCancellation,

    /// <summary>Returns after the opening events without any terminal event.</summary>
    EndsWithoutTerminal,
}

/// <summary>
/// An <see cref="IAgentRuntime"/> for tests that emits exact, known sequences, so tests can assert
/// the run driver's and the gateway's behaviour event by event. Register it with
/// <c>configure: b => ScriptedAgent.Register(b, agent)</c>; it replaces the real agent.
/// </summary>
public sealed class ScriptedAgent : IAgentRuntime
{
    public const string SubAgent = "triage";
    public const string ToolName = "parse_request";
    public const string AnswerPrefix = "You asked: ";

    public ScriptMode Mode { get; init; } = ScriptMode.Complete;

    /// <summary>Pause before each event (after the first), to keep a run going while a test acts.</summary>
    public TimeSpan Delay { get; init; }

    public TimeSpan IgnoreCancellationFor { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>When set, the run waits for it (observing cancellation) after its opening events.</summary>
    public Task? Gate { get; init; }

    /// <summary>Every request this agent received, in arrival order.</summary>
    public ConcurrentQueue<AgentRunRequest> Requests { get; } = new();

    /// <summary>Counts runs that observed their cancellation token.</summary>
    public int CancellationsObserved => _cancellations;

    private int _cancellations;

    /// <summary>The event types of a <see cref="ScriptMode.Complete"/> run, in order, as the protocol delivers them.</summary>
    public static IReadOnlyList<string> CompleteSequence { get; } =
    [
        "agent_started", "agent_thinking", "agent_started", "tool_executing", "tool_completed", "agent_completed",
        "agent_message_delta", "agent_message_delta", "agent_completed",
    ];

    public static string AnswerFor(string userText) => AnswerPrefix + userText;

    public static void Register(WebApplicationBuilder builder, ScriptedAgent agent) =>
        builder.Services.Replace(ServiceDescriptor.Singleton<IAgentRuntime>(agent));

    public async IAsyncEnumerable<AgentEvent> RunAsync(AgentRunRequest request, [EnumeratorCancellation] CancellationToken ct)
    {
        Requests.Enqueue(request);
        var started = DateTimeOffset.UtcNow;
        yield return AgentEvent.Started(AgentEvent.TopAgent, "Looking at your request.");
        await PauseAsync(ct);
        yield return AgentEvent.Thinking(AgentEvent.TopAgent, "Planning the analysis.", 1, 0.1);

        if (Gate is not null)
        {
            await WaitObservingAsync(Gate, ct);
        }

        switch (Mode)
        {
            case ScriptMode.Throws:
                await PauseAsync(ct);
                throw new InvalidOperationException("Scripted agent failure.");
            case ScriptMode.NeverTerminates:
                await WaitObservingAsync(Task.Delay(Timeout.Infinite, CancellationToken.None), ct);
                yield break;
            case ScriptMode.IgnoresCancellation:
                await Task.Delay(IgnoreCancellationFor, CancellationToken.None);
                yield break;
            case ScriptMode.EndsWithoutTerminal:
                yield break;
        }

        await PauseAsync(ct);
        yield return AgentEvent.Started(SubAgent, "Reading the request.", AgentEvent.TopAgent);
        var callId = "call_" + request.RunId;
        await PauseAsync(ct);
        yield return AgentEvent.ToolExecuting(SubAgent, callId, ToolName, new { text = request.UserText });
        await PauseAsync(ct);
        yield return AgentEvent.ToolCompleted(SubAgent, callId, ToolName, new { facts = Array.Empty<string>() }, 3, ok: true);
        await PauseAsync(ct);
        yield return AgentEvent.Completed(SubAgent, "completed", new { intent = "question" }, 5);
        var messageId = "msg_answer_" + request.RunId;
        await PauseAsync(ct);
        yield return AgentEvent.MessageDelta(AgentEvent.TopAgent, messageId, AnswerPrefix);
        await PauseAsync(ct);
        yield return AgentEvent.MessageDelta(AgentEvent.TopAgent, messageId, request.UserText);
        await PauseAsync(ct);
        var report = new { summary = AnswerFor(request.UserText), estimate = true, dataset_id = request.DatasetId };
        yield return AgentEvent.Completed(AgentEvent.TopAgent, "completed", new { answer = AnswerFor(request.UserText) },
            (long)(DateTimeOffset.UtcNow - started).TotalMilliseconds, final: true, report: report);
    }

    private Task PauseAsync(CancellationToken ct) => Delay > TimeSpan.Zero ? WaitObservingAsync(Task.Delay(Delay, ct), ct) : Task.CompletedTask;

    private async Task WaitObservingAsync(Task task, CancellationToken ct)
    {
        try
        {
            await task.WaitAsync(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            Interlocked.Increment(ref _cancellations);
            throw;
        }
    }
}
