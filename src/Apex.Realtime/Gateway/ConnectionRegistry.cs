using System.Collections.Concurrent;
using System.Net.WebSockets;
using Apex.Auth.Revocation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Apex.Realtime.Gateway;

/// <summary>
/// The node's open connections. One timer walks them every second for heartbeats and token expiry
/// (cheaper than a timer per socket), and application stopping closes them all with 1001 after
/// their queued frames.
/// </summary>
internal sealed class ConnectionRegistry(
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    IOptions<GatewayOptions> options,
    IServiceProvider services,
    ILogger<ConnectionRegistry> logger) : BackgroundService
{
    private static readonly TimeSpan TickInterval = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<GatewayConnection, byte> _connections = new();
    private readonly Dictionary<string, int> _perUser = new(StringComparer.Ordinal);
    private readonly int _maxPerUser = options.Value.MaxConnectionsPerUser;
    private IRevocationFeed? _revocations;
    private int _revocationCheckQueued;
    private volatile bool _stopping;

    public bool IsStopping => _stopping;

    public int Count => _connections.Count;

    /// <summary>
    /// Registers an accepted connection. Stopping refuses it; a user already at
    /// <see cref="GatewayOptions.MaxConnectionsPerUser"/> gets it registered but closed with 1008,
    /// so that it is removed like any other.
    /// </summary>
    public bool TryAdd(GatewayConnection connection)
    {
        if (_stopping)
        {
            return false;
        }

        bool overLimit;
        lock (_perUser)
        {
            var count = _perUser.GetValueOrDefault(connection.UserId) + 1;
            _perUser[connection.UserId] = count;
            overLimit = count > _maxPerUser;
        }

        _connections.TryAdd(connection, 0);
        RealtimeMetrics.OpenSockets.Inc();
        if (_stopping)
        {
            // Lost the race with shutdown: close it like the others.
            connection.RequestClose(CloseCodes.GoingAway, "server shutting down");
        }
        else if (overLimit)
        {
            connection.Send(Frames.Error(ErrorCodes.TooManyConnections, $"At most {_maxPerUser} open connections per user; close another one first."));
            connection.RequestClose(CloseCodes.PolicyViolation, "too many connections");
            GatewayLog.PolicyClose(logger, connection.Id, "too many connections");
        }
        else if (_revocations is { } revocations)
        {
            // A revocation that landed between the handshake's check and now.
            connection.CheckRevoked(revocations);
        }

        return true;
    }

    public void Remove(GatewayConnection connection)
    {
        if (_connections.TryRemove(connection, out _))
        {
            RealtimeMetrics.OpenSockets.Dec();
            lock (_perUser)
            {
                var count = _perUser.GetValueOrDefault(connection.UserId) - 1;
                if (count <= 0)
                {
                    _perUser.Remove(connection.UserId);
                }
                else
                {
                    _perUser[connection.UserId] = count;
                }
            }
        }
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStopping.Register(CloseAll);
        // Compositions without the auth module (benchmarks) have no revocations to follow.
        _revocations = services.GetService<IRevocationFeed>();
        if (_revocations is not null)
        {
            _revocations.Revoked += OnRevoked;
        }

        return base.StartAsync(cancellationToken);
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        if (_revocations is not null)
        {
            _revocations.Revoked -= OnRevoked;
        }

        return base.StopAsync(cancellationToken);
    }

    /// <summary>A revocation arrived: check every connection now, once even for a burst of revocations.</summary>
    private void OnRevoked()
    {
        if (Interlocked.Exchange(ref _revocationCheckQueued, 1) != 0)
        {
            return;
        }

        ThreadPool.UnsafeQueueUserWorkItem(static registry =>
        {
            Volatile.Write(ref registry._revocationCheckQueued, 0);
            registry.CheckRevocations();
        }, this, preferLocal: false);
    }

    private void CheckRevocations()
    {
        if (_revocations is not { } revocations)
        {
            return;
        }

        foreach (var connection in _connections.Keys)
        {
            connection.CheckRevoked(revocations);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TickInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var nowUnixMs = time.GetUtcNow().ToUnixTimeMilliseconds();
                var nowTickMs = Environment.TickCount64;
                foreach (var connection in _connections.Keys)
                {
                    connection.Tick(nowUnixMs, nowTickMs);
                }

                // The events are the fast path; this catches anything raised while a check ran.
                CheckRevocations();
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private void CloseAll()
    {
        _stopping = true;
        GatewayLog.ShuttingDown(logger, _connections.Count);
        foreach (var connection in _connections.Keys)
        {
            connection.RequestClose(CloseCodes.GoingAway, "server shutting down");
        }
    }
}
