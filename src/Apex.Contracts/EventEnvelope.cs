using System.Text.Json;

namespace Apex.Contracts;

/// <summary>
/// A server-to-client frame of the real-time protocol (docs/spec/realtime-protocol.md section 2). Events of a
/// user's stream carry <see cref="Seq"/>; replies to one connection only (pong, error, ack) do not.
/// The payload is an immutable <see cref="JsonElement"/> so one envelope can be shared by every
/// connection and every thread that serialises it.
/// </summary>
public sealed record EventEnvelope
{
    public required string Type { get; init; }
    public long? Seq { get; init; }
    public string? RunId { get; init; }
    public string? ThreadId { get; init; }
    public string? AgentName { get; init; }
    public required DateTimeOffset Timestamp { get; init; }
    public JsonElement? Payload { get; init; }
}

/// <summary>The message types of the real-time protocol (docs/spec/realtime-protocol.md section 3).</summary>
public static class EventTypes
{
    // Connection lifecycle, server to client.
    public const string ConnectionEstablished = "connection_established";
    public const string Pong = "pong";
    public const string Heartbeat = "heartbeat";
    public const string Ack = "ack";
    public const string Error = "error";
    public const string Resumed = "resumed";

    // Agent events.
    public const string AgentStarted = "agent_started";
    public const string AgentThinking = "agent_thinking";
    public const string ToolExecuting = "tool_executing";
    public const string ToolCompleted = "tool_completed";
    public const string AgentMessageDelta = "agent_message_delta";
    public const string AgentCompleted = "agent_completed";
    public const string AgentError = "agent_error";

    // Thread events.
    public const string ThreadCreated = "thread_created";
    public const string ThreadUpdated = "thread_updated";

    // Client to server.
    public const string Ping = "ping";
    public const string UserMessage = "user_message";
    public const string StartAgent = "start_agent";
    public const string StopAgent = "stop_agent";
    public const string Auth = "auth";
    public const string HeartbeatAck = "heartbeat_ack";
}
