using System.Net.WebSockets;
using System.Text.Json;
using Apex.Contracts;
using Apex.Realtime.Broker;

namespace Apex.Realtime.Gateway;

/// <summary>The frames the gateway writes for one connection only (no <c>seq</c>), docs/spec/realtime-protocol.md section 3.</summary>
internal static class Frames
{
    public static byte[] ConnectionEstablished(string connectionId, string userId, int heartbeatSeconds, int maxMessageBytes, string epoch, long lastSeq) =>
        EnvelopeSerializer.SerializeFrame(EventTypes.ConnectionEstablished, (connectionId, userId, heartbeatSeconds, maxMessageBytes, epoch, lastSeq), static (w, s) =>
        {
            w.WriteString("connection_id"u8, s.connectionId);
            w.WriteString("user_id"u8, s.userId);
            EnvelopeSerializer.WriteTimestamp(w, "server_time"u8, DateTimeOffset.UtcNow);
            w.WriteNumber("heartbeat_interval_s"u8, s.heartbeatSeconds);
            w.WriteNumber("max_message_bytes"u8, s.maxMessageBytes);
            w.WriteString("epoch"u8, s.epoch);
            w.WriteNumber("last_seq"u8, s.lastSeq);
        });

    public static byte[] Resumed(ResumeOutcome outcome) =>
        EnvelopeSerializer.SerializeFrame(EventTypes.Resumed, outcome, static (w, o) =>
        {
            w.WriteBoolean("recovered"u8, o.Recovered);
            w.WriteNumber("from_seq"u8, o.FromSeq);
            w.WriteNumber("to_seq"u8, o.ToSeq);
            w.WriteNumber("replayed"u8, o.Replayed);
            if (o.Reason is not null)
            {
                w.WriteString("reason"u8, o.Reason);
            }
        });

    public static byte[] Pong(JsonElement? clientTimestamp) =>
        EnvelopeSerializer.SerializeFrame(EventTypes.Pong, clientTimestamp, static (w, ts) =>
        {
            if (ts is { } value)
            {
                w.WritePropertyName("timestamp"u8);
                value.WriteTo(w);
            }

            EnvelopeSerializer.WriteTimestamp(w, "server_time"u8, DateTimeOffset.UtcNow);
        });

    public static byte[] Heartbeat() =>
        EnvelopeSerializer.SerializeFrame(EventTypes.Heartbeat, 0, static (w, _) =>
            EnvelopeSerializer.WriteTimestamp(w, "server_time"u8, DateTimeOffset.UtcNow));

    public static byte[] Ack(string receivedType, string? clientId, string? threadId = null, string? runId = null, DateTimeOffset? expiresAt = null) =>
        EnvelopeSerializer.SerializeFrame(EventTypes.Ack, (receivedType, clientId, threadId, runId, expiresAt), static (w, s) =>
        {
            w.WriteString("received_type"u8, s.receivedType);
            if (s.clientId is not null)
            {
                w.WriteString("client_id"u8, s.clientId);
            }

            if (s.threadId is not null)
            {
                w.WriteString("thread_id"u8, s.threadId);
            }

            if (s.runId is not null)
            {
                w.WriteString("run_id"u8, s.runId);
            }

            if (s.expiresAt is { } exp)
            {
                EnvelopeSerializer.WriteTimestamp(w, "expires_at"u8, exp);
            }
        });

    public static byte[] Error(string code, string message, string? clientId = null) =>
        EnvelopeSerializer.SerializeFrame(EventTypes.Error, (code, message, clientId), static (w, s) =>
        {
            w.WriteString("code"u8, s.code);
            w.WriteString("message"u8, s.message);
            if (s.clientId is not null)
            {
                w.WriteString("client_id"u8, s.clientId);
            }
        });
}

/// <summary>Error codes of <c>error</c> frames.</summary>
internal static class ErrorCodes
{
    public const string InvalidJson = "invalid_json";
    public const string InvalidMessage = "invalid_message";
    public const string UnknownType = "unknown_type";
    public const string RateLimited = "rate_limited";
    public const string TokenExpired = "token_expired";
    public const string TokenRevoked = "token_revoked";
    public const string TooManyConnections = "too_many_connections";
    public const string InvalidToken = "invalid_token";
    public const string Unavailable = "unavailable";
    public const string InternalError = "internal_error";
}

/// <summary>Close codes of docs/spec/realtime-protocol.md section 5.</summary>
internal static class CloseCodes
{
    /// <summary>1001: the server is shutting down.</summary>
    public const WebSocketCloseStatus GoingAway = WebSocketCloseStatus.EndpointUnavailable;

    /// <summary>1013 (RFC 6455 registry): try again later, used for a client too slow to drain its queue.</summary>
    public const WebSocketCloseStatus TryAgainLater = (WebSocketCloseStatus)1013;

    /// <summary>1008: a policy was broken (rate abuse, too many connections).</summary>
    public const WebSocketCloseStatus PolicyViolation = WebSocketCloseStatus.PolicyViolation;

    /// <summary>4401: the access token expired or was revoked.</summary>
    public const WebSocketCloseStatus TokenExpired = (WebSocketCloseStatus)4401;
}
