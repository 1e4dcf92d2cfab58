using Apex.Chat.Runs;
using Apex.Realtime.Broker;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Apex.Redis;

/// <summary>
/// Runs across nodes. A stop for a run this node does not execute is published on a channel every
/// node listens to, and the node that holds the run cancels it. Each node renews a lease in Redis for
/// every run it executes; a run left queued or running whose lease has lapsed belongs to a node that
/// died, and the first node to notice ends it as failed (stored, then an <c>agent_error</c> with
/// <c>final: true</c> on the owner's stream), so the user sees it end instead of waiting forever.
/// </summary>
internal sealed partial class RedisRunCluster(
    RedisConnection redis,
    IRunNode node,
    IOptions<RedisOptions> options,
    TimeProvider time,
    ILogger<RedisRunCluster> logger) : BackgroundService, IRunCluster
{
    public const string NodeLostCode = "node_lost";
    private const string CancelChannel = "runs:cancel";
    private const int ReapBatch = 100;
    private const string OrphanMessage = "The server running this run stopped; send the message again to retry.";

    private readonly TimeSpan _lease = TimeSpan.FromSeconds(options.Value.RunLeaseSeconds);
    private DateTimeOffset? _leasesWrittenSince;

    public bool SpansNodes => true;

    public async Task RequestCancelAsync(string userId, string runId, CancelReason reason, CancellationToken ct)
    {
        try
        {
            await redis.Subscriber.PublishAsync(redis.Channel(CancelChannel), $"{(int)reason}|{userId}|{runId}").WaitAsync(redis.Timeout, ct);
        }
        catch (Exception ex) when (RedisEventBroker.IsRedisFailure(ex))
        {
            throw new BrokerUnavailableException("The stop could not reach the node running the run: Redis did not answer.", ex);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var subscribed = false;
        using var timer = new PeriodicTimer(_lease / 3, time);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!subscribed)
                {
                    await redis.Subscriber.SubscribeAsync(redis.Channel(CancelChannel), (_, message) => OnCancel(message)).WaitAsync(redis.Timeout, stoppingToken);
                    subscribed = true;
                }

                await RenewLeasesAsync(stoppingToken);
                await ReapAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (RedisEventBroker.IsRedisFailure(ex) || ex is DbUpdateException or InvalidOperationException or System.Data.Common.DbException)
            {
                // Redis or the database is briefly unreachable: try again on the next tick.
                _leasesWrittenSince = null;
                LogTickFailed(logger, ex.GetType().Name);
            }

            try
            {
                await timer.WaitForNextTickAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private void OnCancel(RedisValue message)
    {
        var parts = ((string?)message)?.Split('|');
        if (parts is not [var reasonText, var userId, var runId] || !int.TryParse(reasonText, out var reason)
            || !Enum.IsDefined(typeof(CancelReason), reason))
        {
            return;
        }

        // Find checks the owner: a message naming another user's run cancels nothing.
        node.CancelLocal(userId, runId, (CancelReason)reason);
    }

    private async Task RenewLeasesAsync(CancellationToken ct)
    {
        var runs = node.LocalRunIds();
        if (runs.Count > 0)
        {
            var db = redis.Database;
            var writes = runs.Select(id => db.StringSetAsync(LeaseKey(id), redis.NodeId, _lease)).ToArray();
            await Task.WhenAll(writes).WaitAsync(redis.Timeout, ct);
        }
        else
        {
            await redis.Database.PingAsync().WaitAsync(redis.Timeout, ct);
        }

        _leasesWrittenSince ??= time.GetUtcNow();
    }

    private async Task ReapAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        // Only judge other nodes' leases after this node has reached Redis for a whole lease period:
        // right after an outage, live nodes have not had the chance to renew theirs yet.
        if (_leasesWrittenSince is not { } since || now - since < _lease)
        {
            return;
        }

        var remote = await node.RemoteActiveRunsAsync(now - _lease, ReapBatch, ct);
        if (remote.Count == 0)
        {
            return;
        }

        var leases = await Task.WhenAll(remote.Select(r => redis.Database.KeyExistsAsync(LeaseKey(r.RunId)))).WaitAsync(redis.Timeout, ct);
        for (var i = 0; i < remote.Count; i++)
        {
            // The run ends through Chat's run journal like every other run: one envelope format over
            // the socket and over REST, one conditional claim so that one node ends it.
            if (!leases[i] && await node.FailOrphanAsync(remote[i], NodeLostCode, OrphanMessage, ct))
            {
                LogOrphanFailed(logger, remote[i].RunId);
            }
        }
    }

    private RedisKey LeaseKey(string runId) => $"{redis.Prefix}run:{runId}:lease";

    [LoggerMessage(EventId = 7030, Level = LogLevel.Warning, Message = "Run lease tick failed ({ErrorType}); retrying")]
    private static partial void LogTickFailed(ILogger logger, string errorType);

    [LoggerMessage(EventId = 7031, Level = LogLevel.Warning, Message = "Run {RunId} lost its node (lease expired); ended as failed")]
    private static partial void LogOrphanFailed(ILogger logger, string runId);
}
