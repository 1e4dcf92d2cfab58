using System.Diagnostics;
using System.Text.Json;
using Apex.Contracts;
using Apex.Realtime.Broker;
using Apex.Server;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Apex.Bench.Scale;

/// <summary>
/// One Apex node (the real host: auth, broker, gateway) driven over stdin/stdout with the gateway
/// benchmark's commands. A publishing node sends one event per user per round, every user's event
/// of a round in flight at once, stamped for latency.
/// </summary>
internal static class NodeRole
{
    public static async Task<int> RunAsync(string[] settings)
    {
        var app = ApexHost.Build([
            "--urls=http://127.0.0.1:0",
            "--environment=Development",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Warning",
            .. settings.Where(s => s.Length > 0).Select(s => "--" + s),
        ]);
        await ApexHost.PrepareAsync(app);
        await app.StartAsync();
        var broker = app.Services.GetRequiredService<IEventBroker>();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Console.WriteLine($"READY {new Uri(address).Port}");

        var users = Array.Empty<string>();
        while (Console.ReadLine() is { } line)
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            switch (parts[0])
            {
                case "users":
                    users = File.ReadAllLines(parts[1]).Select(l => l.Split(' ')[0]).ToArray();
                    Console.WriteLine("OK");
                    break;
                case "conns":
                    Console.WriteLine($"CONNS {(int)Apex.Realtime.RealtimeMetrics.OpenSockets.Value}");
                    break;
                case "burst":
                    {
                        var start = Stopwatch.GetTimestamp();
                        for (var round = 0; round < int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture); round++)
                        {
                            await PublishRoundAsync(broker, users);
                        }

                        Console.WriteLine($"DONE {start} {Stopwatch.GetTimestamp()}");
                        break;
                    }

                case "paced":
                    {
                        var rounds = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
                        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture)));
                        for (var round = 0; round < rounds; round++)
                        {
                            await PublishRoundAsync(broker, users);
                            await timer.WaitForNextTickAsync();
                        }

                        Console.WriteLine("DONE");
                        break;
                    }

                case "quit":
                    using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5)))
                    {
                        await app.StopAsync(cts.Token);
                    }

                    return 0;
            }
        }

        return 0;
    }

    private static async Task PublishRoundAsync(IEventBroker broker, string[] users)
    {
        var envelope = new EventEnvelope
        {
            Type = EventTypes.AgentThinking,
            RunId = "run_bench",
            ThreadId = "thr_bench",
            AgentName = "apex",
            Timestamp = DateTimeOffset.UtcNow,
            Payload = JsonSerializer.SerializeToElement(new Dictionary<string, long> { ["t"] = Stopwatch.GetTimestamp() }),
        };
        var pending = new Task[users.Length];
        for (var i = 0; i < users.Length; i++)
        {
            pending[i] = broker.PublishAsync(users[i], envelope, CancellationToken.None).AsTask();
        }

        await Task.WhenAll(pending);
    }
}
