using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Apex.Redis;

/// <summary>
/// The node's one multiplexed Redis connection. It is created without waiting for Redis, so a node
/// starts (and reports itself not ready) while Redis is down, and reconnects by itself.
/// </summary>
internal sealed partial class RedisConnection : IDisposable
{
    private readonly ConnectionMultiplexer _multiplexer;
    private readonly ILogger<RedisConnection> _logger;

    public RedisConnection(IOptions<RedisOptions> options, ILogger<RedisConnection> logger)
    {
        var o = options.Value;
        _logger = logger;
        Prefix = o.KeyPrefix;
        Timeout = TimeSpan.FromMilliseconds(o.OperationTimeoutMs);
        NodeId = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..8]}";
        var config = ConfigurationOptions.Parse(o.Configuration ?? throw new InvalidOperationException("Redis:Configuration is required."));
        config.AbortOnConnectFail = false;
        config.ConnectTimeout = o.OperationTimeoutMs;
        config.SyncTimeout = o.OperationTimeoutMs;
        config.AsyncTimeout = o.OperationTimeoutMs;
        // Commands fail at once while Redis is unreachable instead of queueing behind a reconnect:
        // a request answers with a clear error within its timeout, never hangs.
        config.BacklogPolicy = BacklogPolicy.FailFast;
        config.ClientName = "apex";
        _multiplexer = ConnectionMultiplexer.Connect(config);
        _multiplexer.ConnectionFailed += (_, e) =>
        {
            LogConnectionFailed(_logger, e.ConnectionType, e.FailureType);
            Failed?.Invoke(e.ConnectionType);
        };
        _multiplexer.ConnectionRestored += (_, e) =>
        {
            LogConnectionRestored(_logger, e.ConnectionType);
            Restored?.Invoke(e.ConnectionType);
        };
    }

    /// <summary>Raised when a link to Redis drops (interactive or subscription).</summary>
    public event Action<ConnectionType>? Failed;

    /// <summary>Raised when a link to Redis is back; subscriptions are already re-established.</summary>
    public event Action<ConnectionType>? Restored;

    public string Prefix { get; }

    public TimeSpan Timeout { get; }

    /// <summary>This process's identity in run leases.</summary>
    public string NodeId { get; }

    public bool IsConnected => _multiplexer.IsConnected;

    public IDatabase Database => _multiplexer.GetDatabase();

    public ISubscriber Subscriber => _multiplexer.GetSubscriber();

    /// <summary>Whether the server is a Redis Cluster, where one script may only touch keys of one hash slot.</summary>
    public bool IsCluster => _multiplexer.GetServers().Any(s => s.ServerType == ServerType.Cluster);

    public int HashSlot(RedisKey key) => _multiplexer.HashSlot(key);

    public RedisChannel Channel(string name) => RedisChannel.Literal(Prefix + name);

    public void Dispose() => _multiplexer.Dispose();

    [LoggerMessage(EventId = 7001, Level = LogLevel.Warning, Message = "Redis {ConnectionType} connection failed ({FailureType}); reconnecting")]
    private static partial void LogConnectionFailed(ILogger logger, ConnectionType connectionType, ConnectionFailureType failureType);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Information, Message = "Redis {ConnectionType} connection restored")]
    private static partial void LogConnectionRestored(ILogger logger, ConnectionType connectionType);
}
