using System.Text.Json;
using Apex.Agents.Runtime;
using Apex.Chat.Data;
using Apex.Chat.Runs;
using Apex.Contracts;
using Apex.Realtime.Broker;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
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
    IServiceProvider services,
    IServiceScopeFactory scopes,
    IOptions<RedisOptions> options,
    TimeProvider time,
    ILogger<RedisRunCluster> logger) : BackgroundService, IRunCluster
{
    public const string NodeLostCode = "node_lost";
    private const string CancelChannel = "runs:cancel";
    private const int ReapBatch = 100;

    private readonly TimeSpan _lease = TimeSpan.FromSeconds(options.Value.RunLeaseSeconds);
    private DateTimeOffset? _leasesWrittenSince;

    private RunRegistry Registry => services.GetRequiredService<RunRegistry>();

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
        Registry.Find(userId, runId)?.Cancel((CancelReason)reason);
    }

    private async Task RenewLeasesAsync(CancellationToken ct)
    {
        var runs = Registry.Snapshot();
        if (runs.Count > 0)
        {
            var db = redis.Database;
            var writes = runs.Select(r => db.StringSetAsync(LeaseKey(r.RunId), redis.NodeId, _lease)).ToArray();
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

        var startedBefore = now - _lease;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ChatDbContext>();
        var candidates = await db.Runs.AsNoTracking()
            .Where(r => (r.Status == RunStatus.Queued || r.Status == RunStatus.Running) && r.CreatedAt < startedBefore)
            .OrderBy(r => r.CreatedAt)
            .Take(ReapBatch)
            .Select(r => new { r.Id, r.UserId, r.ThreadId })
            .ToListAsync(ct);
        if (candidates.Count == 0)
        {
            return;
        }

        var registry = Registry;
        var remote = candidates.Where(c => registry.Find(c.UserId, c.Id) is null).ToList();
        var leases = await Task.WhenAll(remote.Select(c => redis.Database.KeyExistsAsync(LeaseKey(c.Id)))).WaitAsync(redis.Timeout, ct);
        for (var i = 0; i < remote.Count; i++)
        {
            if (!leases[i])
            {
                await FailOrphanAsync(db, remote[i].Id, remote[i].UserId, remote[i].ThreadId, ct);
            }
        }
    }

    private async Task FailOrphanAsync(ChatDbContext db, string runId, string userId, string threadId, CancellationToken ct)
    {
        const string message = "The server running this run stopped; send the message again to retry.";
        // The run ends through the same finaliser as every other run: one envelope format over the
        // socket and over REST, one conditional claim so that one node ends it.
        if (await services.GetRequiredService<RunFinaliser>().FailOrphanAsync(db, new RunRef(runId, userId, threadId), NodeLostCode, message, ct))
        {
            LogOrphanFailed(logger, runId);
        }
    }

    private RedisKey LeaseKey(string runId) => $"{redis.Prefix}run:{runId}:lease";

    [LoggerMessage(EventId = 7030, Level = LogLevel.Warning, Message = "Run lease tick failed ({ErrorType}); retrying")]
    private static partial void LogTickFailed(ILogger logger, string errorType);

    [LoggerMessage(EventId = 7031, Level = LogLevel.Warning, Message = "Run {RunId} lost its node (lease expired); ended as failed")]
    private static partial void LogOrphanFailed(ILogger logger, string runId);
}
