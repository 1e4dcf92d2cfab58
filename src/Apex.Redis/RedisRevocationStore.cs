using Apex.Auth.Revocation;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace Apex.Redis;

/// <summary>
/// Revocations stay in the database (the source of truth, polled by every node), and are also
/// announced on a Redis channel so that every node reads them at once instead of on its next poll:
/// a logout on one node refuses the token on every node well within a second.
/// </summary>
internal sealed partial class RedisRevocationStore(
    DatabaseRevocationStore inner,
    RedisConnection redis,
    ILogger<RedisRevocationStore> logger) : IRevocationStore, IHostedService, IDisposable
{
    private const string ChannelName = "revocations";
    private readonly CancellationTokenSource _stopping = new();

    public ValueTask EnsureLoadedAsync(CancellationToken ct) => inner.EnsureLoadedAsync(ct);

    public bool IsRevoked(string tokenId, string? sessionId) => inner.IsRevoked(tokenId, sessionId);

    public event Action? Revoked
    {
        add => inner.Revoked += value;
        remove => inner.Revoked -= value;
    }

    public async Task RevokeTokenAsync(string tokenId, DateTimeOffset expiresAt, CancellationToken ct)
    {
        await inner.RevokeTokenAsync(tokenId, expiresAt, ct);
        await AnnounceAsync();
    }

    public async Task RevokeSessionAsync(string sessionId, DateTimeOffset expiresAt, CancellationToken ct)
    {
        await inner.RevokeSessionAsync(sessionId, expiresAt, ct);
        await AnnounceAsync();
    }

    public Task SyncAsync(CancellationToken ct) => inner.SyncAsync(ct);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = SubscribeAsync(_stopping.Token);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping.Cancel();
        return Task.CompletedTask;
    }

    public void Dispose() => _stopping.Dispose();

    private async Task AnnounceAsync()
    {
        try
        {
            // The message carries no id: it only says "read the revocation log now".
            await redis.Subscriber.PublishAsync(redis.Channel(ChannelName), "1").WaitAsync(redis.Timeout);
        }
        catch (Exception ex) when (RedisEventBroker.IsRedisFailure(ex))
        {
            // Stored already: other nodes still pick it up on their next database poll.
            LogAnnounceFailed(logger, ex.GetType().Name);
        }
    }

    private async Task SubscribeAsync(CancellationToken ct)
    {
        // Redis may be down at start: keep trying; once subscribed, the client re-subscribes by itself.
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await redis.Subscriber.SubscribeAsync(redis.Channel(ChannelName), (_, _) => _ = SyncNowAsync(ct)).WaitAsync(redis.Timeout, ct);
                return;
            }
            catch (Exception ex) when (RedisEventBroker.IsRedisFailure(ex))
            {
                await Task.Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    private async Task SyncNowAsync(CancellationToken ct)
    {
        try
        {
            await inner.SyncAsync(ct);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogSyncFailed(logger, ex.GetType().Name);
        }
    }

    [LoggerMessage(EventId = 7020, Level = LogLevel.Warning, Message = "Announcing a revocation through Redis failed ({ErrorType}); other nodes read it on their next poll")]
    private static partial void LogAnnounceFailed(ILogger logger, string errorType);

    [LoggerMessage(EventId = 7021, Level = LogLevel.Warning, Message = "Reading announced revocations failed ({ErrorType}); the next poll retries")]
    private static partial void LogSyncFailed(ILogger logger, string errorType);
}
