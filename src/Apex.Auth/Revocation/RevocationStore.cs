using System.Collections.Concurrent;
using Apex.Auth.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Apex.Auth.Revocation;

/// <summary>
/// Revoked access-token ids and sessions. Checks are answered from memory on the request path;
/// revocations are written to the shared database and picked up by other nodes. A broadcast (e.g.
/// Redis pub/sub) can be added behind this interface for faster multi-node propagation.
/// </summary>
internal interface IRevocationStore : IRevocationFeed
{
    /// <summary>Loads the current revocations before the first check.</summary>
    ValueTask EnsureLoadedAsync(CancellationToken ct);

    Task RevokeTokenAsync(string tokenId, DateTimeOffset expiresAt, CancellationToken ct);

    Task RevokeSessionAsync(string sessionId, DateTimeOffset expiresAt, CancellationToken ct);

    /// <summary>Reads revocations written by other nodes since the last read.</summary>
    Task SyncAsync(CancellationToken ct);
}

internal sealed partial class DatabaseRevocationStore(
    IServiceScopeFactory scopes,
    TimeProvider time,
    ILogger<DatabaseRevocationStore> logger) : IRevocationStore, IDisposable
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> _tokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _sessions = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _syncGate = new(1, 1);
    private long _watermark;
    private Task? _initialLoad;

    public event Action? Revoked;

    public ValueTask EnsureLoadedAsync(CancellationToken ct)
    {
        var load = Volatile.Read(ref _initialLoad);
        if (load is { IsCompletedSuccessfully: true })
        {
            return ValueTask.CompletedTask;
        }

        if (load is null || load.IsFaulted || load.IsCanceled)
        {
            load = SyncAsync(CancellationToken.None);
            Volatile.Write(ref _initialLoad, load);
        }

        return new ValueTask(load.WaitAsync(ct));
    }

    public bool IsRevoked(string tokenId, string? sessionId) =>
        _tokens.ContainsKey(tokenId) || (sessionId is not null && _sessions.ContainsKey(sessionId));

    public Task RevokeTokenAsync(string tokenId, DateTimeOffset expiresAt, CancellationToken ct) =>
        AddAsync(RevocationKind.Token, tokenId, expiresAt, ct);

    public Task RevokeSessionAsync(string sessionId, DateTimeOffset expiresAt, CancellationToken ct) =>
        AddAsync(RevocationKind.Session, sessionId, expiresAt, ct);

    private async Task AddAsync(RevocationKind kind, string id, DateTimeOffset expiresAt, CancellationToken ct)
    {
        // Memory first: this node refuses the token from now on even if the write is slow.
        (kind == RevocationKind.Token ? _tokens : _sessions)[id] = expiresAt;
        Revoked?.Invoke();
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AuthDbContext>();
        db.Revocations.Add(new RevocationRecord { Kind = kind, TokenId = id, ExpiresAt = expiresAt, RevokedAt = time.GetUtcNow() });
        await db.SaveChangesAsync(ct);
        LogRevoked(logger, kind, id);
    }

    public void Dispose() => _syncGate.Dispose();

    public async Task SyncAsync(CancellationToken ct)
    {
        await _syncGate.WaitAsync(ct);
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<AuthDbContext>();
            var now = time.GetUtcNow();
            // Ids of concurrent transactions can become visible out of order (PostgreSQL), so the
            // last few seconds are read again; adding a revocation twice is harmless.
            var lookback = now - TimeSpan.FromSeconds(10);
            var added = false;
            while (true)
            {
                var watermark = _watermark;
                var batch = await db.Revocations.AsNoTracking()
                    .Where(r => (r.Id > watermark || r.RevokedAt > lookback) && r.ExpiresAt > now)
                    .OrderBy(r => r.Id)
                    .Take(1000)
                    .ToListAsync(ct);
                foreach (var r in batch)
                {
                    added |= (r.Kind == RevocationKind.Token ? _tokens : _sessions).TryAdd(r.TokenId, r.ExpiresAt);
                }

                if (batch.Count > 0)
                {
                    _watermark = Math.Max(_watermark, batch[^1].Id);
                }

                if (batch.Count < 1000)
                {
                    break;
                }

                lookback = DateTimeOffset.MaxValue;
            }

            Prune(_tokens, now);
            Prune(_sessions, now);
            if (added)
            {
                Revoked?.Invoke();
            }
        }
        finally
        {
            _syncGate.Release();
        }
    }

    private static void Prune(ConcurrentDictionary<string, DateTimeOffset> entries, DateTimeOffset now)
    {
        foreach (var (id, expiresAt) in entries)
        {
            if (expiresAt < now)
            {
                entries.TryRemove(id, out _);
            }
        }
    }

    [LoggerMessage(EventId = 1121, Level = LogLevel.Information, Message = "Revoked {Kind} {RevokedId}")]
    private static partial void LogRevoked(ILogger logger, RevocationKind kind, string revokedId);
}

/// <summary>
/// Revocations as other modules see them: the WebSocket gateway checks its open connections against
/// them when <see cref="Revoked"/> fires, so a logout or a disabled account ends live sockets too.
/// </summary>
public interface IRevocationFeed
{
    /// <summary>Whether the access token <paramref name="tokenId"/> or its session was revoked.</summary>
    bool IsRevoked(string tokenId, string? sessionId);

    /// <summary>
    /// Raised after a revocation became known to this node (made here, or read from the shared
    /// store after another node or <c>apex user disable</c> wrote it). Handlers must not block.
    /// </summary>
    event Action? Revoked;
}

/// <summary>Follows the revocation log of other nodes and deletes rows nobody needs any more.</summary>
internal sealed partial class RevocationSyncService(
    IRevocationStore store,
    IServiceScopeFactory scopes,
    IOptions<AuthOptions> options,
    TimeProvider time,
    ILogger<RevocationSyncService> logger) : BackgroundService
{
    private static readonly TimeSpan CleanupInterval = TimeSpan.FromMinutes(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var nextCleanup = time.GetUtcNow() + CleanupInterval;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(options.Value.RevocationPollMilliseconds), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await store.SyncAsync(stoppingToken);
                if (time.GetUtcNow() >= nextCleanup)
                {
                    nextCleanup = time.GetUtcNow() + CleanupInterval;
                    await using var scope = scopes.CreateAsyncScope();
                    var db = scope.ServiceProvider.GetRequiredService<AuthDbContext>();
                    var cutoff = time.GetUtcNow() - TimeSpan.FromMinutes(1);
                    await db.Revocations.Where(r => r.ExpiresAt < cutoff).ExecuteDeleteAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is DbUpdateException or InvalidOperationException or System.Data.Common.DbException)
            {
                // A busy or briefly unreachable database delays propagation; it must not stop it.
                LogSyncFailed(logger, ex.GetType().Name);
            }
        }
    }

    [LoggerMessage(EventId = 1122, Level = LogLevel.Warning, Message = "Reading revocations failed ({ErrorType}); retrying on the next tick")]
    private static partial void LogSyncFailed(ILogger logger, string errorType);
}
