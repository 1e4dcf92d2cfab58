using System.ComponentModel.DataAnnotations;

namespace Apex.Realtime.Gateway;

/// <summary>Section <c>Realtime</c>: limits and timings of the WebSocket gateway (docs/spec/realtime-protocol.md section 5).</summary>
public sealed class GatewayOptions
{
    public const string Section = "Realtime";

    public const int DefaultHeartbeatIntervalSeconds = 25;
    public const int DefaultMaxMessageBytes = 64 * 1024;
    public const int DefaultMessagesPerSecond = 20;
    public const int DefaultMessageBurst = 40;
    public const int DefaultRejectedMessagesBeforeClose = 50;
    public const int DefaultSendQueueLimit = 1_024;
    public const int DefaultCloseTimeoutSeconds = 5;
    public const int DefaultMaxConnectionsPerUser = 20;

    /// <summary>Seconds without any frame from the server after which it sends <c>heartbeat</c>.</summary>
    [Range(1, 3600)]
    public int HeartbeatIntervalSeconds { get; set; } = DefaultHeartbeatIntervalSeconds;

    /// <summary>Largest inbound message in bytes; a larger one closes the socket with 1009.</summary>
    [Range(1024, 16 * 1024 * 1024)]
    public int MaxMessageBytes { get; set; } = DefaultMaxMessageBytes;

    /// <summary>Sustained inbound messages per second per connection.</summary>
    [Range(1, 10_000)]
    public int MessagesPerSecond { get; set; } = DefaultMessagesPerSecond;

    /// <summary>Messages a connection may send at once above the sustained rate.</summary>
    [Range(1, 100_000)]
    public int MessageBurst { get; set; } = DefaultMessageBurst;

    /// <summary>Messages refused for rate in one episode before the socket is closed with 1008.</summary>
    [Range(1, 1_000_000)]
    public int RejectedMessagesBeforeClose { get; set; } = DefaultRejectedMessagesBeforeClose;

    /// <summary>Live frames a connection may have waiting to be sent; a client slower than that is closed with 1013.</summary>
    [Range(8, 1_000_000)]
    public int SendQueueLimit { get; set; } = DefaultSendQueueLimit;

    /// <summary>Seconds the server waits for a close to be sent and answered before it drops the connection.</summary>
    [Range(1, 300)]
    public int CloseTimeoutSeconds { get; set; } = DefaultCloseTimeoutSeconds;

    /// <summary>
    /// Open sockets one user may hold on this node; one more is closed with 1008
    /// (<c>too_many_connections</c>). Counted per node: each node guards its own memory.
    /// </summary>
    [Range(1, 100_000)]
    public int MaxConnectionsPerUser { get; set; } = DefaultMaxConnectionsPerUser;
}
