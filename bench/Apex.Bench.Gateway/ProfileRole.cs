using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text.Json;
using Apex.Contracts;
using Apex.Realtime.Broker;
using Apex.Realtime.Gateway;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Apex.Bench.Gateway;

/// <summary>
/// The per-event path inside one process, without sockets or a load generator competing for the
/// cores: the envelope's serialisation alone, a publish into the broker with nobody listening (the
/// user-stream work: numbering, serialising, keeping the replay window), and a publish fanned out
/// to real gateway connections whose WebSockets write into a sink (the queue, the wake of the send
/// loop and the WebSocket framing). Reports time and managed allocation per event.
/// <c>dotnet run -c Release --project bench/Apex.Bench.Gateway -- --role profile</c>.
/// </summary>
internal static class ProfileRole
{
    public static async Task<int> RunAsync(int users, int rounds)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"per-event path, {users} users x {rounds} events, {Environment.ProcessorCount} cores"));
        Console.WriteLine("| step | events | µs/event (wall) | allocated B/event |");
        Console.WriteLine("|---|---:|---:|---:|");
        var envelope = Envelope();

        // Warm-up of every step, then the measured runs.
        for (var pass = 0; pass < 2; pass++)
        {
            var report = pass == 1;
            Measure("serialise the envelope", rounds * users, report, () =>
            {
                for (var i = 0; i < rounds * users; i++)
                {
                    _ = EnvelopeSerializer.Serialize(envelope with { Seq = i });
                }
            });

            using (var broker = NewBroker())
            {
                var ids = Enumerable.Range(0, users).Select(i => $"usr_{i}").ToArray();
                Measure("publish, no subscriber (1 thread)", rounds * users, report, () =>
                {
                    for (var r = 0; r < rounds; r++)
                    {
                        foreach (var id in ids)
                        {
                            _ = Wait(broker.PublishAsync(id, envelope, CancellationToken.None));
                        }
                    }
                });
            }

            await FanOutAsync(users, rounds, envelope, report);
        }

        return 0;
    }

    private static async Task FanOutAsync(int users, int rounds, EventEnvelope envelope, bool report)
    {
        using var broker = NewBroker();
        var services = new GatewayServices(
            Options.Create(new GatewayOptions { SendQueueLimit = rounds + 16 }),
            new Microsoft.Extensions.DependencyInjection.ServiceCollection().BuildServiceProvider(),
            null!,
            NullLogger<GatewayConnection>.Instance);
        var sinks = new SinkStream[users];
        var runs = new Task[users];
        var subscriptions = new IAsyncDisposable[users];
        for (var i = 0; i < users; i++)
        {
            sinks[i] = new SinkStream();
            // As the gateway opens a socket: over a stream the send loop corks for each batch.
            var stream = new CoalescingStream(sinks[i]);
            var socket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, KeepAliveInterval = TimeSpan.Zero });
            var connection = new GatewayConnection(socket, $"usr_{i}", null, services, stream: stream);
            subscriptions[i] = await broker.SubscribeAsync(connection.UserId, null, connection, CancellationToken.None);
            runs[i] = connection.RunAsync();
        }

        // Let every connection send its connection_established frame first.
        while (sinks.Any(s => s.Frames == 0))
        {
            await Task.Delay(10);
        }

        var expected = sinks.Select(s => s.Frames + rounds).ToArray();
        var ids = Enumerable.Range(0, users).Select(i => $"usr_{i}").ToArray();
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        var start = Stopwatch.GetTimestamp();
        var parts = Environment.ProcessorCount;
        var size = (users + parts - 1) / parts;
        await Task.WhenAll(Enumerable.Range(0, parts).Select(p => Task.Run(() =>
        {
            for (var r = 0; r < rounds; r++)
            {
                for (var i = p * size; i < Math.Min(users, (p + 1) * size); i++)
                {
                    _ = Wait(broker.PublishAsync(ids[i], envelope, CancellationToken.None));
                }
            }
        })));
        var published = Stopwatch.GetElapsedTime(start);
        for (var i = 0; i < users; i++)
        {
            await sinks[i].WaitForFramesAsync(expected[i]);
        }

        var delivered = Stopwatch.GetElapsedTime(start);
        var bytes = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        var events = (double)users * rounds;
        if (report)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| publish to {users} connections ({parts} threads), publisher done | {events:N0} | {published.TotalMicroseconds / events:F2} | |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| publish to {users} connections, every frame written | {events:N0} | {delivered.TotalMicroseconds / events:F2} | {bytes / events:F0} |"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| socket writes per delivered frame | | {sinks.Sum(s => (double)s.Writes) / sinks.Sum(s => (double)s.Frames):F2} | |"));
        }

        foreach (var s in sinks)
        {
            s.End();
        }

        foreach (var subscription in subscriptions)
        {
            await subscription.DisposeAsync();
        }

        await Task.WhenAll(runs);
    }

    private static void Measure(string name, int events, bool report, Action action)
    {
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var start = Stopwatch.GetTimestamp();
        action();
        var elapsed = Stopwatch.GetElapsedTime(start);
        var bytes = GC.GetAllocatedBytesForCurrentThread() - allocated;
        if (report)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {events:N0} | {elapsed.TotalMicroseconds / events:F2} | {(double)bytes / events:F0} |"));
        }
    }

    /// <summary>The memory broker's publish completes synchronously; should one not, it is waited for rather than read early.</summary>
    private static EventEnvelope Wait(ValueTask<EventEnvelope> publish) =>
        publish.IsCompleted ? publish.Result : publish.AsTask().GetAwaiter().GetResult();

    private static MemoryEventBroker NewBroker() =>
        new(Options.Create(new BrokerOptions()), TimeProvider.System);

    private static EventEnvelope Envelope() => new()
    {
        Type = EventTypes.AgentThinking,
        RunId = "run_01JBENCHBENCHBENCHBENCHBENC",
        ThreadId = "thr_01JBENCHBENCHBENCHBENCHBENC",
        AgentName = "apex",
        Timestamp = DateTimeOffset.UtcNow,
        Payload = JsonSerializer.SerializeToElement(new Dictionary<string, long> { ["t"] = Stopwatch.GetTimestamp() }),
    };

    /// <summary>A connection's byte stream: reads wait until the end, writes are counted and dropped.</summary>
    private sealed class SinkStream : Stream
    {
        private readonly TaskCompletionSource<int> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Lock _gate = new();
        private TaskCompletionSource? _progress;
        private long _frames;
        private long _writes;

        public long Frames => Interlocked.Read(ref _frames);

        public long Writes => Interlocked.Read(ref _writes);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public void End() => _ended.TrySetResult(0);

        public async Task WaitForFramesAsync(long count)
        {
            while (true)
            {
                Task wait;
                lock (_gate)
                {
                    if (_frames >= count)
                    {
                        return;
                    }

                    wait = (_progress ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
                }

                await wait;
            }
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            new(_ended.Task.WaitAsync(cancellationToken));

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            // Server frames are unmasked: count the frames in the written bytes by walking their headers.
            var span = buffer.Span;
            var frames = 0;
            var at = 0;
            while (at + 2 <= span.Length)
            {
                long length = span[at + 1] & 0x7F;
                var header = 2;
                if (length == 126)
                {
                    length = (span[at + 2] << 8) | span[at + 3];
                    header = 4;
                }
                else if (length == 127)
                {
                    length = (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(span[(at + 2)..]);
                    header = 10;
                }

                at += header + (int)length;
                frames++;
            }

            TaskCompletionSource? progress;
            lock (_gate)
            {
                _frames += frames;
                _writes++;
                progress = _progress;
                _progress = null;
            }

            progress?.TrySetResult();
            return ValueTask.CompletedTask;
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    }
}
