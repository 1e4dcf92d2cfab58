using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace Apex.Bench.Gateway;

/// <summary>
/// A client process of the socket soak: opens its share of the sockets from its own loopback source
/// address at a bounded rate, answers every <c>heartbeat</c> with <c>heartbeat_ack</c>, and keeps per
/// socket what the soak checks: heartbeats received and expected, silences longer than the
/// heartbeat interval plus slack, closes with their code, and the trickle's <c>seq</c> numbering.
/// </summary>
internal static class SoakClientRole
{
    private static readonly Histogram Latency = new();
    private static volatile bool s_quitting;

    public static async Task<int> RunAsync(Uri url, string bind, string tokensFile, int count, double perSecond, int heartbeatSeconds, int slackSeconds)
    {
        var lines = File.ReadAllLines(tokensFile);
        var local = IPAddress.Parse(bind);
        using var handler = BoundHandler.From(local);
        using var invoker = new HttpMessageInvoker(handler);

        var heartbeatMs = heartbeatSeconds * 1000L;
        var states = new SocketState[count];
        var failed = 0;
        var ramp = Stopwatch.StartNew();
        using var gate = new SemaphoreSlim(64);
        var opening = new List<Task>(count);
        for (var i = 0; i < count; i++)
        {
            // The ramp: socket i starts no earlier than i / rate seconds after the first.
            var due = TimeSpan.FromSeconds(i / perSecond);
            if (due > ramp.Elapsed)
            {
                await Task.Delay(due - ramp.Elapsed);
            }

            await gate.WaitAsync();
            var index = i;
            var parts = lines[index].Split(' ');
            opening.Add(Task.Run(async () =>
            {
                try
                {
                    var ws = new ClientWebSocket();
                    ws.Options.KeepAliveInterval = TimeSpan.Zero;
                    // What the web app does: browsers cannot set headers on a WebSocket.
                    ws.Options.AddSubProtocol("jwt." + parts[1]);
                    ws.Options.AddSubProtocol("jwt-auth");
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                    await ws.ConnectAsync(url, invoker, cts.Token);
                    var state = new SocketState(ws, parts[0], heartbeatMs, slackSeconds * 1000L);
                    states[index] = state;
                    _ = ReceiveLoopAsync(state);
                }
                catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or HttpRequestException or SocketException)
                {
                    Interlocked.Increment(ref failed);
                    await Console.Error.WriteLineAsync($"connect failed: {ex.Message}");
                }
                finally
                {
                    gate.Release();
                }
            }));
        }

        await Task.WhenAll(opening);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"CONNECTED {count - failed} {failed} {ramp.Elapsed.TotalSeconds:F1}"));

        while (Console.ReadLine() is { } line)
        {
            var command = line.Split(' ');
            switch (command[0])
            {
                case "report":
                    Console.WriteLine(Report(states, null));
                    break;
                case "final":
                    {
                        var published = File.ReadAllLines(command[1]).Select(l => l.Split(' '))
                            .ToDictionary(p => p[0], p => long.Parse(p[1], CultureInfo.InvariantCulture), StringComparer.Ordinal);
                        Console.WriteLine(Report(states, published));
                        break;
                    }

                case "quit":
                    s_quitting = true;
                    await Task.WhenAll(states.Where(s => s is not null).Select(async s =>
                    {
                        try
                        {
                            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
                            await s.Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
                        }
                        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
                        {
                        }
                    }));
                    return 0;
            }
        }

        return 0;
    }

    /// <summary>
    /// One line of totals: open sockets, heartbeats received / expected, acks sent, missed
    /// heartbeats, longest silence, closes by code, events received, duplicated, out of order, gaps,
    /// and with the published counts per user also the events expected and lost.
    /// </summary>
    private static string Report(SocketState[] states, Dictionary<string, long>? published)
    {
        var now = Environment.TickCount64;
        long open = 0, heartbeats = 0, expected = 0, acks = 0, missed = 0, maxSilence = 0, received = 0, duplicated = 0, gaps = 0, expectedEvents = 0, lost = 0;
        var closes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var s in states)
        {
            if (s is null)
            {
                continue;
            }

            lock (s)
            {
                heartbeats += s.Heartbeats;
                acks += s.Acks;
                received += s.Received;
                duplicated += s.Duplicated;
                gaps += s.Gaps;
                var silence = s.Closed is null ? now - s.LastFrameMs : 0;
                maxSilence = Math.Max(maxSilence, Math.Max(s.LongestSilenceMs, silence));
                // A silence still running counts as missed once it is past the interval plus slack.
                missed += s.Missed + (silence > s.HeartbeatMs + s.SlackMs ? 1 : 0);
                expected += s.ExpectedHeartbeats + (s.Closed is null ? s.ExpectedIn(now - s.LastServerSilenceStartMs) : 0);
                if (s.Closed is { } code)
                {
                    closes[code] = closes.GetValueOrDefault(code) + 1;
                }
                else
                {
                    open++;
                }

                if (published is not null)
                {
                    var due = published.GetValueOrDefault(s.UserId);
                    expectedEvents += due;
                    lost += Math.Max(0, due - s.Received + s.Duplicated);
                }
            }
        }

        var closeText = closes.Count == 0 ? "-" : string.Join(',', closes.Select(c => $"{c.Key}={c.Value}"));
        return string.Create(CultureInfo.InvariantCulture,
            $"REPORT {open} {heartbeats} {expected} {acks} {missed} {maxSilence} {closeText} {received} {duplicated} {gaps} {expectedEvents} {lost} {Latency.Serialize()}");
    }

    private static async Task ReceiveLoopAsync(SocketState s)
    {
        var buffer = new byte[4 * 1024];
        var message = new MemoryStream();
        try
        {
            while (true)
            {
                var result = await s.Socket.ReceiveAsync(buffer.AsMemory(), CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    s.Close(((int?)s.Socket.CloseStatus)?.ToString(CultureInfo.InvariantCulture) ?? "close", s_quitting);
                    return;
                }

                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage)
                {
                    continue;
                }

                var isHeartbeat = OnFrame(s, message.GetBuffer().AsSpan(0, (int)message.Length));
                message.SetLength(0);
                if (isHeartbeat)
                {
                    // The protocol's answer; the only frame a soak client sends.
                    var frame = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
                        $"{{\"type\":\"heartbeat_ack\",\"payload\":{{\"timestamp\":\"{DateTimeOffset.UtcNow:O}\"}}}}"));
                    await s.Socket.SendAsync(frame, WebSocketMessageType.Text, true, CancellationToken.None);
                    lock (s)
                    {
                        s.Acks++;
                    }
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or ObjectDisposedException)
        {
            s.Close("abort", s_quitting);
        }
    }

    /// <summary>Records one frame; true when it is a <c>heartbeat</c> to be answered.</summary>
    private static bool OnFrame(SocketState s, ReadOnlySpan<byte> frame)
    {
        var now = Environment.TickCount64;
        string? type = null;
        long? seq = null;
        long? lastSeq = null;
        long? stamp = null;
        var reader = new Utf8JsonReader(frame);
        var depth = 0;
        string? property = null;
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject or JsonTokenType.StartArray:
                    depth++;
                    break;
                case JsonTokenType.EndObject or JsonTokenType.EndArray:
                    depth--;
                    break;
                case JsonTokenType.PropertyName:
                    property = reader.GetString();
                    break;
                case JsonTokenType.String when depth == 1 && property == "type":
                    type = reader.GetString();
                    break;
                case JsonTokenType.Number when depth == 1 && property == "seq":
                    seq = reader.GetInt64();
                    break;
                case JsonTokenType.Number when depth == 2 && property == "last_seq":
                    lastSeq = reader.GetInt64();
                    break;
                case JsonTokenType.Number when depth == 2 && property == "t":
                    stamp = reader.GetInt64();
                    break;
            }
        }

        lock (s)
        {
            var silence = now - s.LastFrameMs;
            s.LongestSilenceMs = Math.Max(s.LongestSilenceMs, silence);
            if (silence > s.HeartbeatMs + s.SlackMs)
            {
                s.Missed++;
            }

            s.LastFrameMs = now;
            if (type == "heartbeat")
            {
                s.Heartbeats++;
                return true;
            }

            // Any other frame resets the server's silence: the heartbeats owed start counting again.
            s.ExpectedHeartbeats += s.ExpectedIn(now - s.LastServerSilenceStartMs);
            s.LastServerSilenceStartMs = now;
            if (type == "connection_established" && lastSeq is { } baseline)
            {
                s.LastSeq = baseline;
            }
            else if (seq is { } n)
            {
                s.Received++;
                if (n <= s.LastSeq)
                {
                    s.Duplicated++;
                }
                else
                {
                    s.Gaps += n - s.LastSeq - 1;
                    s.LastSeq = n;
                }

                if (stamp is { } t)
                {
                    Latency.RecordMicroseconds((Stopwatch.GetTimestamp() - t) * 1_000_000 / Stopwatch.Frequency);
                }
            }
        }

        return false;
    }

    private sealed class SocketState(ClientWebSocket socket, string userId, long heartbeatMs, long slackMs)
    {
        public ClientWebSocket Socket { get; } = socket;

        public string UserId { get; } = userId;

        public long HeartbeatMs { get; } = heartbeatMs;

        public long SlackMs { get; } = slackMs;

        public long LastFrameMs { get; set; } = Environment.TickCount64;

        public long LastServerSilenceStartMs { get; set; } = Environment.TickCount64;

        public long LongestSilenceMs { get; set; }

        public long Heartbeats { get; set; }

        public long ExpectedHeartbeats { get; set; }

        public long Acks { get; set; }

        public long Missed { get; set; }

        public long LastSeq { get; set; }

        public long Received { get; set; }

        public long Duplicated { get; set; }

        public long Gaps { get; set; }

        public string? Closed { get; private set; }

        /// <summary>
        /// Heartbeats the server owes for a silence of its own (no event, no reply) this long: one per
        /// interval, counted with the server's one-second housekeeping tick so that this is the least
        /// it must have sent.
        /// </summary>
        public long ExpectedIn(long silenceMs) => silenceMs / (HeartbeatMs + 1000);

        public void Close(string code, bool quitting)
        {
            if (quitting)
            {
                return;
            }

            lock (this)
            {
                Closed ??= code;
            }
        }
    }
}
