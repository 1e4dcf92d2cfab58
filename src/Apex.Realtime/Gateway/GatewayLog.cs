using Microsoft.Extensions.Logging;

namespace Apex.Realtime.Gateway;

internal static partial class GatewayLog
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Debug, Message = "WebSocket {ConnectionId} opened for user {UserId}")]
    public static partial void Opened(ILogger logger, string connectionId, string userId);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Debug, Message = "WebSocket {ConnectionId} closed with {CloseCode} ({Reason})")]
    public static partial void Closed(ILogger logger, string connectionId, int closeCode, string reason);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "WebSocket upgrade refused with {Status}: {Reason}")]
    public static partial void Refused(ILogger logger, int status, string reason);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Error, Message = "WebSocket {ConnectionId} failed; correlation id {CorrelationId}")]
    public static partial void ConnectionFailed(ILogger logger, Exception exception, string connectionId, string correlationId);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Error, Message = "Run command {MessageType} failed on connection {ConnectionId}; correlation id {CorrelationId}")]
    public static partial void CommandFailed(ILogger logger, Exception exception, string messageType, string connectionId, string correlationId);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Information, Message = "WebSocket {ConnectionId} closed: {Reason}")]
    public static partial void PolicyClose(ILogger logger, string connectionId, string reason);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Debug, Message = "WebSocket {ConnectionId} dropped by the peer")]
    public static partial void PeerDropped(ILogger logger, string connectionId);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Information, Message = "Closing {Count} WebSocket connections for shutdown")]
    public static partial void ShuttingDown(ILogger logger, int count);
}
