using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Apex.Contracts;
using Apex.Realtime.Broker;
using Apex.Server;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Apex.Bench.Gateway;

/// <summary>
/// The server of the socket soak: the real Apex host with a short heartbeat interval, driven over
/// stdin/stdout by <see cref="SoakOrchestrator"/>. It publishes the trickle of events through the
/// real broker (as the gateway benchmark does) and counts what it published per user.
/// </summary>
internal static class SoakServerRole
{
    public static async Task<int> RunAsync(string dataDir, int heartbeatSeconds, int maxPerUser, int tokenMinutes)
    {
        var app = ApexHost.Build([
            "--urls=http://127.0.0.1:0",
            "--environment=Development",
            $"--Apex:DataDir={dataDir}",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Warning",
            // Thousands of soak users come from one loopback address through the development login.
            "--Auth:Abuse:PerIpPerMinute=1000000",
            // Short enough that the soak holds many heartbeats per socket.
            $"--Realtime:HeartbeatIntervalSeconds={heartbeatSeconds}",
            $"--Realtime:MaxConnectionsPerUser={maxPerUser}",
            // The users are created before the ramp: their tokens must outlive creation, ramp and soak,
            // or the gateway closes every socket with 4401 at the token's expiry.
            $"--Auth:AccessTokenMinutes={tokenMinutes}",
        ]);
        await ApexHost.PrepareAsync(app);
        var broker = app.Services.GetRequiredService<IEventBroker>();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Console.WriteLine($"READY {new Uri(address).Port}");

        var users = Array.Empty<string>();
        long[] published = [];
        long failures = 0;
        CancellationTokenSource? trickleStop = null;
        Task? trickle = null;
        while (Console.ReadLine() is { } line)
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            switch (parts[0])
            {
                case "users":
                    users = [.. File.ReadAllLines(parts[1]).Select(l => l.Split(' ')[0]).Distinct(StringComparer.Ordinal)];
                    published = new long[users.Length];
                    Console.WriteLine($"OK {users.Length}");
                    break;
                case "stats":
                    Console.WriteLine(Stats());
                    break;
                case "trickle":
                    {
                        trickleStop = new CancellationTokenSource();
                        var rate = double.Parse(parts[1], CultureInfo.InvariantCulture);
                        var (u, p, token) = (users, published, trickleStop.Token);
                        trickle = Task.Run(() => TrickleAsync(broker, u, p, rate, () => Interlocked.Increment(ref failures), token));
                        Console.WriteLine("OK");
                        break;
                    }

                case "stop":
                    // Stops the trickle and writes "user count" per user for the clients' delivery check.
                    if (trickleStop is not null && trickle is not null)
                    {
                        await trickleStop.CancelAsync();
                        await trickle;
                        trickleStop.Dispose();
                    }

                    await File.WriteAllLinesAsync(parts[1], users.Select((u, i) => string.Create(CultureInfo.InvariantCulture, $"{u} {Volatile.Read(ref published[i])}")));
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"STOPPED {published.Sum()} {Interlocked.Read(ref failures)}"));
                    break;
                case "quit":
                    {
                        using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                        await app.StopAsync(stopping.Token);
                        return 0;
                    }
            }
        }

        return 0;
    }

    /// <summary>
    /// A steady stream at <paramref name="perSecond"/> events per second in total, each to a user
    /// drawn at random; the schedule is by elapsed time, so a slow publish is caught up, not dropped.
    /// </summary>
    private static async Task TrickleAsync(IEventBroker broker, string[] users, long[] published, double perSecond, Action failed, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        long sent = 0;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                var due = (long)(clock.Elapsed.TotalSeconds * perSecond);
                for (; sent < due; sent++)
                {
                    var i = Random.Shared.Next(users.Length);
                    var envelope = new EventEnvelope
                    {
                        Type = EventTypes.AgentThinking,
                        RunId = "run_soak",
                        ThreadId = "thr_soak",
                        AgentName = "apex",
                        Timestamp = DateTimeOffset.UtcNow,
                        Payload = JsonSerializer.SerializeToElement(new Dictionary<string, object>
                        {
                            ["reasoning"] = "soak trickle",
                            ["step"] = sent,
                            ["t"] = Stopwatch.GetTimestamp(),
                        }),
                    };
                    try
                    {
                        await broker.PublishAsync(users[i], envelope, CancellationToken.None);
                        Interlocked.Increment(ref published[i]);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        // Counted and reported: a failed publish is a finding of the soak, not a crash of it.
                        failed();
                        await Console.Error.WriteLineAsync($"publish failed: {ex.GetType().Name}: {ex.Message}");
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped by the orchestrator.
        }
    }

    /// <summary>
    /// Managed heap after one full blocking collection (the live data, not the garbage the GC has
    /// not yet reclaimed), the total GC pause so far, open sockets, and close frames sent by code.
    /// </summary>
    private static string Stats()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        var heap = GC.GetTotalMemory(false);
        var sockets = (long)Apex.Realtime.RealtimeMetrics.OpenSockets.Value;
        var closes = Apex.Realtime.RealtimeMetrics.ConnectionsClosed;
        var byCode = string.Join(',', closes.GetAllLabelValues()
            .Select(labels => (Code: labels[0], Count: (long)closes.WithLabels(labels).Value))
            .Where(c => c.Count > 0)
            .Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Code}={c.Count}")));
        return string.Create(CultureInfo.InvariantCulture,
            $"STATS {heap} {sockets} {GC.GetTotalPauseDuration().TotalMilliseconds:F0} {GC.CollectionCount(2)} {(byCode.Length == 0 ? "-" : byCode)}");
    }
}
