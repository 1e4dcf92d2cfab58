using System.Collections.Concurrent;
using System.Net.WebSockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Apex.Realtime.Gateway;

/// <summary>
/// The node's open connections. One timer walks them every second for heartbeats and token expiry
/// (cheaper than a timer per socket), and application stopping closes them all with 1001 after
/// their queued frames.
/// </summary>
internal sealed class ConnectionRegistry(IHostApplicationLifetime lifetime, TimeProvider time, ILogger<ConnectionRegistry> logger) : BackgroundService
{
    private static readonly TimeSpan TickInterval = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<GatewayConnection, byte> _connections = new();
    private volatile bool _stopping;

    public bool IsStopping => _stopping;

    public int Count => _connections.Count;

    public bool TryAdd(GatewayConnection connection)
    {
        if (_stopping)
        {
            return false;
        }

        _connections.TryAdd(connection, 0);
        RealtimeMetrics.OpenSockets.Inc();
        if (_stopping)
        {
            // Lost the race with shutdown: close it like the others.
            connection.RequestClose(CloseCodes.GoingAway, "server shutting down");
        }

        return true;
    }

    public void Remove(GatewayConnection connection)
    {
        if (_connections.TryRemove(connection, out _))
        {
            RealtimeMetrics.OpenSockets.Dec();
        }
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStopping.Register(CloseAll);
        return base.StartAsync(cancellationToken);
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
