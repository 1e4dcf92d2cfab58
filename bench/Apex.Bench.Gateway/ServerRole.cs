using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Apex.Contracts;
using Apex.Realtime.Broker;
using Apex.Server;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Apex.Bench.Gateway;

/// <summary>
/// A server process driven over stdin/stdout by the orchestrator: either the real Apex host (auth,
/// broker, gateway, JSON envelopes) or a bare Kestrel WebSocket server that only fans out frames.
/// </summary>
internal static class ServerRole
{
    public static async Task<int> RunAsync(string kind, string dataDir)
    {
        IFanOut fanOut;
        WebApplication app;
        if (kind == "apex")
        {
            app = ApexHost.Build([
                "--urls=http://127.0.0.1:0",
                "--environment=Development",
                $"--Apex:DataDir={dataDir}",
                "--Logging:LogLevel:Default=Warning",
                "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Warning",
                // Thousands of load-test users come from one loopback address through the development login.
                "--Auth:Abuse:PerIpPerMinute=1000000",
            ]);
            await ApexHost.PrepareAsync(app);
            fanOut = new ApexFanOut(app.Services.GetRequiredService<IEventBroker>());
        }
        else
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            app = builder.Build();
            // "bare-seq": the fairer baseline, each connection gets its own JSON envelope with a sequence number.
            var bare = new BareFanOut(perConnectionFrames: kind == "bare-seq");
            app.UseWebSockets();
            app.Map("/ws", bare.AcceptAsync);
            fanOut = bare;
        }

        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Console.WriteLine($"READY {new Uri(address).Port}");

        while (Console.ReadLine() is { } line)
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            switch (parts[0])
            {
                case "users":
                    fanOut.SetUsers(File.ReadAllLines(parts[1]).Select(l => l.Split(' ')[0]).ToArray());
                    Console.WriteLine("OK");
                    break;
                case "mem":
                    Console.WriteLine($"MEM {Memory()} {fanOut.Connections}");
                    break;
                case "burst":
                    {
                        var start = Stopwatch.GetTimestamp();
                        for (var round = 0; round < int.Parse(parts[1], CultureInfo.InvariantCulture); round++)
                        {
                            await fanOut.PublishRoundAsync();
                        }

                        Console.WriteLine($"DONE {start} {Stopwatch.GetTimestamp()}");
                        break;
                    }

                case "paced":
                    {
                        var rounds = int.Parse(parts[1], CultureInfo.InvariantCulture);
                        var interval = TimeSpan.FromMilliseconds(int.Parse(parts[2], CultureInfo.InvariantCulture));
                        var start = Stopwatch.GetTimestamp();
                        using var timer = new PeriodicTimer(interval);
                        for (var round = 0; round < rounds; round++)
                        {
                            await fanOut.PublishRoundAsync();
                            await timer.WaitForNextTickAsync();
                        }

                        Console.WriteLine($"DONE {start} {Stopwatch.GetTimestamp()}");
                        break;
                    }

                case "quit":
                    await app.StopAsync(new CancellationTokenSource(TimeSpan.FromSeconds(5)).Token);
                    return 0;
            }
        }

        return 0;
    }

    private static string Memory()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        using var process = Process.GetCurrentProcess();
        return string.Create(CultureInfo.InvariantCulture, $"{GC.GetTotalMemory(false)} {process.PrivateMemorySize64} {process.WorkingSet64}");
    }

    private interface IFanOut
    {
        int Connections { get; }

        void SetUsers(string[] userIds);

        ValueTask PublishRoundAsync();
    }

    /// <summary>One event per user per round through the real broker, stamped with the round's start.</summary>
    private sealed class ApexFanOut(IEventBroker broker) : IFanOut
    {
        private string[] _users = [];

        public int Connections => (int)Apex.Realtime.RealtimeMetrics.OpenSockets.Value;

        public void SetUsers(string[] userIds) => _users = userIds;

        public async ValueTask PublishRoundAsync()
        {
            var stamp = Stopwatch.GetTimestamp();
            var payload = JsonSerializer.SerializeToElement(new Dictionary<string, long> { ["t"] = stamp });
            var envelope = new EventEnvelope
            {
                Type = EventTypes.AgentThinking,
                RunId = "run_bench",
                ThreadId = "thr_bench",
                AgentName = "apex",
                Timestamp = DateTimeOffset.UtcNow,
                Payload = payload,
            };

            // Events of different users come from different runs, hence different threads.
            await Task.WhenAll(Partitions(_users.Length).Select(range => Task.Run(async () =>
            {
                for (var i = range.Start; i < range.End; i++)
                {
                    await broker.PublishAsync(_users[i], envelope, CancellationToken.None);
                }
            })));
        }
    }

    /// <summary>Both servers publish a round from the same number of threads.</summary>
    private static IEnumerable<(int Start, int End)> Partitions(int count)
    {
        var parts = Environment.ProcessorCount;
        var size = (count + parts - 1) / parts;
        for (var start = 0; start < count; start += size)
        {
            yield return (start, Math.Min(count, start + size));
        }
    }

    /// <summary>
    /// The ceiling: accept, keep a queue per socket, write the same bytes to every socket. With
    /// <paramref name="perConnectionFrames"/> it also does the least the protocol asks of a server:
    /// every connection gets its own JSON envelope (type, seq, ids, timestamp, payload) with its own
    /// strictly increasing sequence number, serialised per connection and event. The difference
    /// between the two is what the protocol costs; the rest of the gap to Apex is what Apex adds.
    /// </summary>
    private sealed class BareFanOut(bool perConnectionFrames) : IFanOut
    {
        private static readonly JsonWriterOptions WriterOptions = new() { SkipValidation = true };
        private readonly Lock _gate = new();
        private Channel<byte[]>[] _queues = [];
        private long[] _seqs = new long[1];

        public int Connections => _queues.Length;

        public void SetUsers(string[] userIds)
        {
        }

        public async ValueTask PublishRoundAsync()
        {
            var stamp = Stopwatch.GetTimestamp();
            var frame = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{{\"t\":{stamp}}}"));
            var queues = Volatile.Read(ref _queues);
            if (_seqs.Length < queues.Length)
            {
                _seqs = new long[queues.Length * 2];
            }

            var seqs = _seqs;
            var now = DateTimeOffset.UtcNow;
            await Task.WhenAll(Partitions(queues.Length).Select(range => Task.Run(() =>
            {
                var buffer = new System.Buffers.ArrayBufferWriter<byte>(512);
                using var writer = new Utf8JsonWriter(buffer, WriterOptions);
                for (var i = range.Start; i < range.End; i++)
                {
                    if (perConnectionFrames)
                    {
                        buffer.ResetWrittenCount();
                        writer.Reset(buffer);
                        writer.WriteStartObject();
                        writer.WriteString("type"u8, "agent_thinking"u8);
                        writer.WriteNumber("seq"u8, ++seqs[i]);
                        writer.WriteString("run_id"u8, "run_bench"u8);
                        writer.WriteString("thread_id"u8, "thr_bench"u8);
                        writer.WriteString("agent_name"u8, "apex"u8);
                        writer.WriteString("timestamp"u8, now);
                        writer.WritePropertyName("payload"u8);
                        writer.WriteStartObject();
                        writer.WriteNumber("t"u8, stamp);
                        writer.WriteEndObject();
                        writer.WriteEndObject();
                        writer.Flush();
                        queues[i].Writer.TryWrite(buffer.WrittenSpan.ToArray());
                    }
                    else
                    {
                        queues[i].Writer.TryWrite(frame);
                    }
                }
            })));
        }

        public async Task AcceptAsync(HttpContext context)
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                context.Response.StatusCode = 400;
                return;
            }

            using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { KeepAliveInterval = TimeSpan.Zero });
            var queue = Channel.CreateUnbounded<byte[]>(new UnboundedChannelOptions { SingleReader = true });
            lock (_gate)
            {
                _queues = [.. _queues, queue];
            }

            var sending = Task.Run(async () =>
            {
                try
                {
                    while (await queue.Reader.WaitToReadAsync())
                    {
                        while (queue.Reader.TryRead(out var frame))
                        {
                            await socket.SendAsync(frame, WebSocketMessageType.Text, true, CancellationToken.None);
                        }
                    }
                }
                catch (WebSocketException)
                {
                }
            });
            try
            {
                while (true)
                {
                    await socket.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None);
                    var buffer = ArrayPool<byte>.Shared.Rent(256);
                    var result = await socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
                    ArrayPool<byte>.Shared.Return(buffer);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        break;
                    }
                }
            }
            catch (WebSocketException)
            {
            }
            finally
            {
                lock (_gate)
                {
                    _queues = _queues.Where(q => q != queue).ToArray();
                }

                queue.Writer.TryComplete();
                await sending;
            }
        }
    }
}
