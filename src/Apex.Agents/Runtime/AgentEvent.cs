using System.Text.Json;
using Apex.Contracts;

namespace Apex.Agents.Runtime;

/// <summary>
/// One event of a run as produced by an agent: the protocol <see cref="Type"/> (see
/// <see cref="EventTypes"/>), the agent that emitted it and its payload, exactly as
/// docs/spec/realtime-protocol.md section 3 defines it. The run driver adds <c>seq</c>, ids and timestamp (through the run journal).
/// </summary>
public sealed record AgentEvent(string Type, string AgentName, JsonElement Payload)
{
    public const string TopAgent = "apex";

    public static AgentEvent Started(string agent, string message, string? parentAgent = null) =>
        new(EventTypes.AgentStarted, agent, ApexJson.ToElement(new StartedPayload(message, parentAgent)));

    public static AgentEvent Thinking(string agent, string reasoning, int step, double? progress = null) =>
        new(EventTypes.AgentThinking, agent, ApexJson.ToElement(new ThinkingPayload(reasoning, step, progress)));

    public static AgentEvent ToolExecuting(string agent, string toolCallId, string toolName, object? parameters) =>
        new(EventTypes.ToolExecuting, agent, ApexJson.ToElement(new ToolExecutingPayload(toolCallId, toolName, ApexJson.ToElement(parameters))));

    public static AgentEvent ToolCompleted(string agent, string toolCallId, string toolName, object? result, long durationMs, bool ok, string? error = null) =>
        new(EventTypes.ToolCompleted, agent, ApexJson.ToElement(new ToolCompletedPayload(toolCallId, toolName, ApexJson.ToElement(result), durationMs, ok, error)));

    public static AgentEvent MessageDelta(string agent, string messageId, string delta) =>
        new(EventTypes.AgentMessageDelta, agent, ApexJson.ToElement(new MessageDeltaPayload(messageId, delta)));

    /// <summary>A (sub-)agent's completion; for the top agent pass <paramref name="final"/> and the report.</summary>
    public static AgentEvent Completed(string agent, string status, object? result, long durationMs, bool? final = null, object? report = null) =>
        new(EventTypes.AgentCompleted, agent, ApexJson.ToElement(new CompletedPayload(status, ApexJson.ToElement(result), durationMs, final,
            report is null ? null : ApexJson.ToElement(report))));

    public static AgentEvent Error(string agent, string code, string message, bool final) =>
        new(EventTypes.AgentError, agent, ApexJson.ToElement(new ErrorPayload(code, message, final)));

    /// <summary>True for the event that ends a run (docs/spec/realtime-protocol.md section 4).</summary>
    public bool IsTerminal =>
        Payload.ValueKind == JsonValueKind.Object
        && Payload.TryGetProperty("final", out var final) && final.ValueKind == JsonValueKind.True
        && (Type == EventTypes.AgentCompleted || Type == EventTypes.AgentError);

    private sealed record StartedPayload(string Message, string? ParentAgent);
    private sealed record ThinkingPayload(string Reasoning, int Step, double? Progress);
    private sealed record ToolExecutingPayload(string ToolCallId, string ToolName, JsonElement Parameters);
    private sealed record ToolCompletedPayload(string ToolCallId, string ToolName, JsonElement Result, long DurationMs, bool Ok, string? Error);
    private sealed record MessageDeltaPayload(string MessageId, string Delta);
    private sealed record CompletedPayload(string Status, JsonElement Result, long DurationMs, bool? Final, JsonElement? Report);
    private sealed record ErrorPayload(string Code, string Message, bool Final);
}
