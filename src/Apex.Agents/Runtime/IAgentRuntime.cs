namespace Apex.Agents.Runtime;

/// <summary>
/// Runs an agent for one user message. The runtime yields the run's events in order, starting with
/// the top agent's <c>agent_started</c> and ending with exactly one terminal event (the top agent's
/// <c>agent_completed</c> with <c>final: true</c>, or an <c>agent_error</c> with <c>final: true</c>).
/// Cancelling <paramref name="ct"/> stops the run; the caller reports it as cancelled.
/// </summary>
public interface IAgentRuntime
{
    IAsyncEnumerable<AgentEvent> RunAsync(AgentRunRequest request, CancellationToken ct);
}

/// <summary>What a run is asked to do.</summary>
public sealed record AgentRunRequest
{
    public required string RunId { get; init; }
    public required string ThreadId { get; init; }
    public required string UserId { get; init; }

    /// <summary>The user's message that started the run.</summary>
    public required string UserText { get; init; }

    /// <summary>The dataset to analyse: the message's, else the thread's last uploaded one.</summary>
    public string? DatasetId { get; init; }

    /// <summary>Earlier messages of the thread, oldest first (without the current one).</summary>
    public IReadOnlyList<ChatTurn> History { get; init; } = [];

    /// <summary>The report of the thread's latest run that has one (follow-ups refer to it); null when none.</summary>
    public System.Text.Json.JsonElement? LastReport { get; init; }

    /// <summary>The run that produced <see cref="LastReport"/>.</summary>
    public string? LastReportRunId { get; init; }

    /// <summary>The run's span: the parent of the agent's spans (null when tracing is off).</summary>
    public System.Diagnostics.ActivityContext? TraceParent { get; init; }
}

public sealed record ChatTurn(string Role, string Content);
