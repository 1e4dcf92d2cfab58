using System.Buffers.Text;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;

namespace Apex.Bench.Gateway;

/// <summary>
/// A client process: opens its share of the connections from its own loopback source address and
/// counts frames; latency is receive time minus the publish stamp in the frame (Stopwatch ticks,
/// one monotonic clock for every process on the machine).
/// </summary>
internal static class ClientRole
{
    private static readonly Histogram Latency = new();
    private static long s_received;
    private static long s_lastReceive;
    private static int s_closed;

    public static async Task<int> RunAsync(Uri url, string bind, string? tokensFile, string auth, int count)
    {
        var tokens = tokensFile is null ? null : File.ReadAllLines(tokensFile).Select(l => l.Split(' ')[1]).ToArray();
        var local = IPAddress.Parse(bind);
        using var handler = BoundHandler.From(local);
        using var invoker = new HttpMessageInvoker(handler);

        var sockets = new ClientWebSocket[count];
        var failed = 0;
        using var gate = new SemaphoreSlim(32);
        await Task.WhenAll(Enumerable.Range(0, count).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                var ws = new ClientWebSocket();
                ws.Options.KeepAliveInterval = TimeSpan.Zero;
                if (tokens is not null && auth == "header")
                {
                    ws.Options.SetRequestHeader("Authorization", "Bearer " + tokens[i]);
                }
                else if (tokens is not null)
                {
                    // What the web app does: browsers cannot set headers on a WebSocket.
                    ws.Options.AddSubProtocol("jwt." + tokens[i]);
                    ws.Options.AddSubProtocol("jwt-auth");
                }

                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await ws.ConnectAsync(url, invoker, cts.Token);
                sockets[i] = ws;
                _ = ReceiveLoopAsync(ws);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or HttpRequestException)
            {
                Interlocked.Increment(ref failed);
                Console.Error.WriteLine($"connect failed: {ex.Message}");
            }
            finally
            {
                gate.Release();
            }
        }));
        Console.WriteLine($"CONNECTED {count - failed} {failed}");

        while (Console.ReadLine() is { } line)
        {
            switch (line)
            {
                case "reset":
                    Interlocked.Exchange(ref s_received, 0);
                    Interlocked.Exchange(ref s_lastReceive, 0);
                    Latency.Reset();
                    Console.WriteLine("OK");
                    break;
                case "report":
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"REPORT {Interlocked.Read(ref s_received)} {Interlocked.Read(ref s_lastReceive)} {Volatile.Read(ref s_closed)} {Latency.Serialize()}"));
                    break;
                case "quit":
                    await Task.WhenAll(sockets.Where(s => s is not null).Select(async s =>
                    {
                        try
                        {
                            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
                            await s.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
                        }
                        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
                        {
                        }
                    }));
                    return 0;
            }
        }

        return 0;
    }

    private static async Task ReceiveLoopAsync(ClientWebSocket ws)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var result = await ws.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                if (!result.EndOfMessage || !TryReadStamp(buffer.AsSpan(0, result.Count), out var stamp))
                {
                    continue;
                }

                var now = Stopwatch.GetTimestamp();
                Latency.RecordMicroseconds((now - stamp) * 1_000_000 / Stopwatch.Frequency);
                Interlocked.Increment(ref s_received);
                InterlockedMax(ref s_lastReceive, now);
            }
        }
        catch (WebSocketException)
        {
        }

        Interlocked.Increment(ref s_closed);
    }

    /// <summary>Finds <c>"t":&lt;digits&gt;</c>, present in both servers' frames.</summary>
    private static bool TryReadStamp(ReadOnlySpan<byte> frame, out long stamp)
    {
        stamp = 0;
        var at = frame.IndexOf("\"t\":"u8);
        return at >= 0 && Utf8Parser.TryParse(frame[(at + 4)..], out stamp, out _);
    }

    private static void InterlockedMax(ref long location, long value)
    {
        var current = Interlocked.Read(ref location);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref location, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
