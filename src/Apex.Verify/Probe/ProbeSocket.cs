using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace Apex.Verify.Probe;

/// <summary>One server-to-client frame as received, with the envelope fields of docs/spec/realtime-protocol.md 2.</summary>
internal sealed record Frame(string Raw, JsonElement? Root, TimeSpan ReceivedAt)
{
    public string? Type => Root.Str("type");
    public long? Seq => Root.Long("seq");
    public string? RunId => Root.Str("run_id");
    public string? ThreadId => Root.Str("thread_id");
    public string? AgentName => Root.Str("agent_name");
    public string? Timestamp => Root.Str("timestamp");
    public JsonElement? Payload => Root.Prop("payload");

    public override string ToString() => Seq is { } seq ? $"{Type}#{seq}" : Type ?? "(not JSON)";
}

/// <summary>How a WebSocket handshake went.</summary>
internal sealed record SocketHandshake(ProbeSocket? Socket, HttpStatusCode? RefusedStatus, string? Error)
{
    public bool Connected => Socket is not null;
}

/// <summary>
/// A client WebSocket that reads frames in the background into a queue, answers server heartbeats,
/// and keeps every frame it saw so that checks can reason about the whole stream afterwards.
/// </summary>
internal sealed class ProbeSocket : IAsyncDisposable
{
    private const int ReceiveBufferBytes = 64 * 1024;

    private readonly ClientWebSocket _ws;
    private readonly Channel<Frame> _inbox = Channel.CreateUnbounded<Frame>(new UnboundedChannelOptions { SingleReader = true });
    private readonly List<Frame> _all = [];
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _clock;
    private readonly Task _receiveLoop;

    private ProbeSocket(ClientWebSocket ws, Stopwatch clock)
    {
        _ws = ws;
        _clock = clock;
        _receiveLoop = Task.Run(ReceiveLoopAsync);
    }

    /// <summary>The subprotocol the server selected, or null.</summary>
    public string? SubProtocol => _ws.SubProtocol;

    public WebSocketState State => _ws.State;
    public WebSocketCloseStatus? CloseStatus { get; private set; }
    public string? CloseReason { get; private set; }

    /// <summary>Time since the handshake started.</summary>
    public TimeSpan Now => _clock.Elapsed;

    public IReadOnlyList<Frame> All
    {
        get
        {
            lock (_all)
            {
                return [.. _all];
            }
        }
    }

    public static async Task<SocketHandshake> ConnectAsync(
        Uri uri, string? bearer, IReadOnlyList<string> subprotocols, string? origin, TimeSpan timeout, CancellationToken ct)
    {
        var ws = new ClientWebSocket();
        ws.Options.CollectHttpResponseDetails = true;
        ws.Options.KeepAliveInterval = TimeSpan.Zero;
        if (bearer is not null)
        {
            ws.Options.SetRequestHeader("Authorization", "Bearer " + bearer);
        }

        if (origin is not null)
        {
            ws.Options.SetRequestHeader("Origin", origin);
        }

        foreach (var protocol in subprotocols)
        {
            ws.Options.AddSubProtocol(protocol);
        }

        var clock = Stopwatch.StartNew();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await ws.ConnectAsync(uri, cts.Token);
            return new SocketHandshake(new ProbeSocket(ws, clock), null, null);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or HttpRequestException && !ct.IsCancellationRequested)
        {
            var status = ws.HttpStatusCode == 0 ? (HttpStatusCode?)null : ws.HttpStatusCode;
            var error = ex is OperationCanceledException
                ? $"no handshake answer within {timeout.TotalSeconds:0.#} s"
                : status is { } s ? $"upgrade refused with HTTP {(int)s}" : Describe(ex);
            ws.Dispose();
            return new SocketHandshake(null, status, error);
        }
    }

    private static string Describe(Exception ex)
    {
        var inner = ex;
        while (inner.InnerException is not null)
        {
            inner = inner.InnerException;
        }

        return inner == ex ? ex.Message : $"{ex.Message} ({inner.Message})";
    }

    public Task SendJsonAsync(object message, CancellationToken ct) => SendTextAsync(Json.Serialize(message), ct);

    public async Task SendTextAsync(string text, CancellationToken ct)
    {
        await _sendLock.WaitAsync(ct);
        try
        {
            await _ws.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, ct);
        }
        catch (WebSocketException ex)
        {
            throw new CheckFailedException($"sending a frame failed: {ex.Message} (socket {_ws.State}{CloseText()})");
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>The next frame, or null when none arrives in time or the socket closed.</summary>
    public async Task<Frame?> NextAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            return await _inbox.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return null;
        }
        catch (ChannelClosedException)
        {
            return null;
        }
    }

    /// <summary>
    /// Reads frames until one matches; fails the check with what was seen instead when none does in
    /// time. Frames read past are still in <see cref="All"/>.
    /// </summary>
    public async Task<Frame> WaitForAsync(Func<Frame, bool> match, TimeSpan timeout, string what, CancellationToken ct)
    {
        var deadline = _clock.Elapsed + timeout;
        var skipped = new List<Frame>();
        while (true)
        {
            var left = deadline - _clock.Elapsed;
            var frame = left > TimeSpan.Zero ? await NextAsync(left, ct) : null;
            if (frame is null)
            {
                var seen = skipped.Count == 0 ? "nothing" : string.Join(", ", skipped.TakeLast(8));
                var state = IsClosed ? $"; socket closed{CloseText()}" : string.Empty;
                throw new CheckFailedException($"no {what} within {timeout.TotalSeconds:0.#} s (received {seen}{state})");
            }

            if (match(frame))
            {
                return frame;
            }

            skipped.Add(frame);
        }
    }

    public bool IsClosed => _receiveLoop.IsCompleted;

    public string CloseText() =>
        CloseStatus is { } status ? $", close {(int)status}" + (string.IsNullOrEmpty(CloseReason) ? string.Empty : $" '{CloseReason}'") : string.Empty;

    /// <summary>Cuts the connection without a close handshake, as a network failure would.</summary>
    public void Abort()
    {
        _ws.Abort();
        _stop.Cancel();
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[ReceiveBufferBytes];
        using var message = new MemoryStream();
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var result = await _ws.ReceiveAsync(buffer.AsMemory(), _stop.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    CloseStatus = _ws.CloseStatus;
                    CloseReason = _ws.CloseStatusDescription;
                    break;
                }

                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage)
                {
                    continue;
                }

                var text = Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length);
                message.SetLength(0);
                var frame = new Frame(text, Json.TryParse(text), _clock.Elapsed);
                lock (_all)
                {
                    _all.Add(frame);
                }

                if (frame.Type == "heartbeat")
                {
                    // A silent client is dropped by the server; the probe answers like any client would.
                    _ = SendJsonAsync(new { type = "heartbeat_ack", payload = new { timestamp = DateTimeOffset.UtcNow } }, _stop.Token)
                        .ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
                }

                _inbox.Writer.TryWrite(frame);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            CloseStatus ??= _ws.CloseStatus;
            CloseReason ??= _ws.CloseStatusDescription;
        }
        finally
        {
            _inbox.Writer.TryComplete();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_ws.State == WebSocketState.Open)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await _ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "verify done", cts.Token);
                await _receiveLoop.WaitAsync(cts.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or TimeoutException)
            {
                // The server went away first; nothing left to close.
            }
        }

        await _stop.CancelAsync();
        _ws.Abort();
        try
        {
            await _receiveLoop;
        }
        catch (OperationCanceledException)
        {
        }

        _ws.Dispose();
        _stop.Dispose();
        _sendLock.Dispose();
    }
}
