using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Xunit;

namespace Apex.Testing;

/// <summary>
/// The test suites' client of <c>/ws</c>: a real <see cref="ClientWebSocket"/> with helpers to read
/// protocol frames. It reads only when the test asks for a frame, so a test can play a client that
/// does not read (the server's send queue then fills up); a wait that times out leaves the pending
/// read in place instead of aborting the socket, so the next wait picks up where it left off.
/// </summary>
public sealed class TestSocket : IAsyncDisposable
{
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(15);

    private readonly List<JsonElement> _received = [];
    private Task<JsonElement?>? _pending;

    private TestSocket(ClientWebSocket socket) => Socket = socket;

    public ClientWebSocket Socket { get; }

    /// <summary>The stream epoch of the <c>connection_established</c> frame read by <see cref="OpenAsync"/>.</summary>
    public string Epoch { get; private set; } = string.Empty;

    /// <summary>The <c>connection_established</c> frame read by <see cref="OpenAsync"/>.</summary>
    public JsonElement Established { get; private set; }

    /// <summary>The highest <c>seq</c> read so far (of the frames handed to the test), for a resume.</summary>
    public long LastSeq { get; private set; }

    /// <summary>Every frame handed to the test so far, in order.</summary>
    public IReadOnlyList<JsonElement> Received
    {
        get
        {
            lock (_received)
            {
                return [.. _received];
            }
        }
    }

    /// <summary>Opens the socket; reads nothing.</summary>
    public static async Task<TestSocket> ConnectAsync(ApexTestServer server, string? bearer, string path = "/ws", string? query = null, Action<ClientWebSocketOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        var socket = new ClientWebSocket();
        if (bearer is not null)
        {
            socket.Options.SetRequestHeader("Authorization", "Bearer " + bearer);
        }

        configure?.Invoke(socket.Options);
        var uri = new UriBuilder(server.WebSocketBase) { Path = path, Query = query ?? string.Empty }.Uri;
        using var cts = new CancellationTokenSource(DefaultWait);
        try
        {
            await socket.ConnectAsync(uri, cts.Token);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new TestSocket(socket);
    }

    /// <summary>
    /// Opens the socket (resuming from <paramref name="epoch"/>/<paramref name="lastSeq"/> when given) and
    /// reads <c>connection_established</c>, whose epoch and last seq it keeps.
    /// </summary>
    public static async Task<TestSocket> OpenAsync(ApexTestServer server, string accessToken, string? epoch = null, long? lastSeq = null)
    {
        var query = epoch is null ? null : $"epoch={Uri.EscapeDataString(epoch)}&last_seq={lastSeq}";
        var socket = await ConnectAsync(server, accessToken, query: query);
        socket.Established = await socket.ExpectAsync("connection_established");
        var established = socket.Established.GetProperty("payload");
        socket.Epoch = established.GetProperty("epoch").GetString()!;
        socket.LastSeq = established.GetProperty("last_seq").GetInt64();
        return socket;
    }

    /// <summary>Attempts a handshake that the server must refuse; returns the HTTP status it answered.</summary>
    public static async Task<HttpStatusCode> RefusedStatusAsync(ApexTestServer server, Action<ClientWebSocketOptions> configure, string path = "/ws", string? query = null)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(configure);
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        configure(socket.Options);
        var uri = new UriBuilder(server.WebSocketBase) { Path = path, Query = query ?? string.Empty }.Uri;
        using var cts = new CancellationTokenSource(DefaultWait);
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(uri, cts.Token));
        Assert.NotEqual(WebSocketState.Open, socket.State);
        return socket.HttpStatusCode;
    }

    public Task SendJsonAsync(object message) => SendBytesAsync(JsonSerializer.SerializeToUtf8Bytes(message));

    public Task SendTextAsync(string text) => SendBytesAsync(Encoding.UTF8.GetBytes(text));

    private async Task SendBytesAsync(byte[] bytes)
    {
        using var cts = new CancellationTokenSource(DefaultWait);
        await Socket.SendAsync(bytes, WebSocketMessageType.Text, true, cts.Token);
    }

    /// <summary>The next frame, heartbeats included; null when the server closed the socket.</summary>
    public async Task<JsonElement?> TryReceiveAsync(TimeSpan? wait = null)
    {
        var pending = _pending ??= ReadFrameAsync();
        var frame = await pending.WaitAsync(wait ?? DefaultWait);
        _pending = null;
        if (frame is { } f)
        {
            lock (_received)
            {
                _received.Add(f);
            }

            if (f.TryGetProperty("seq", out var seq) && seq.ValueKind == JsonValueKind.Number)
            {
                LastSeq = seq.GetInt64();
            }
        }

        return frame;
    }

    /// <summary>The next frame, heartbeats included; fails on a close or a timeout.</summary>
    public async Task<JsonElement> ReceiveAsync(TimeSpan? wait = null)
    {
        var frame = await TryReceiveAsync(wait);
        Assert.True(frame.HasValue, $"Expected a frame, got a close ({Socket.CloseStatus} {Socket.CloseStatusDescription}).");
        return frame.Value;
    }

    /// <summary>The next frame other than a heartbeat; fails on a close or a timeout.</summary>
    public async Task<JsonElement> NextEventAsync(TimeSpan? wait = null)
    {
        while (true)
        {
            var frame = await ReceiveAsync(wait);
            if (frame.GetProperty("type").GetString() != "heartbeat")
            {
                return frame;
            }
        }
    }

    /// <summary>Skips heartbeats and returns the next frame of <paramref name="type"/>, failing on any other type.</summary>
    public async Task<JsonElement> ExpectAsync(string type, TimeSpan? wait = null)
    {
        while (true)
        {
            var frame = await ReceiveAsync(wait);
            var actual = frame.GetProperty("type").GetString();
            if (actual == "heartbeat" && type != "heartbeat")
            {
                continue;
            }

            Assert.True(actual == type, $"Expected '{type}', got {frame.GetRawText()}");
            return frame;
        }
    }

    /// <summary>Skips every frame until one of <paramref name="type"/> arrives.</summary>
    public async Task<JsonElement> ExpectSkippingAsync(string type, TimeSpan? wait = null) =>
        (await ReadUntilAsync(f => f.GetProperty("type").GetString() == type, wait))[^1];

    /// <summary>Reads frames until one matches; returns the frames read, the match last. Fails on a close.</summary>
    public async Task<List<JsonElement>> ReadUntilAsync(Func<JsonElement, bool> match, TimeSpan? wait = null)
    {
        ArgumentNullException.ThrowIfNull(match);
        var frames = new List<JsonElement>();
        var deadline = DateTime.UtcNow + (wait ?? DefaultWait);
        while (true)
        {
            var frame = await ReceiveAsync(Remaining(deadline, frames.Count));
            frames.Add(frame);
            if (match(frame))
            {
                return frames;
            }
        }
    }

    /// <summary>Reads stream events (frames with a seq) until the run's terminal event (agent_completed or agent_error, final).</summary>
    public async Task<List<JsonElement>> ReadRunAsync(string? runId = null, TimeSpan? wait = null)
    {
        var frames = await ReadUntilAsync(f => IsTerminal(f) && (runId is null || (f.TryGetProperty("run_id", out var r) && r.GetString() == runId)), wait);
        return [.. frames.Where(f => f.TryGetProperty("seq", out _))];
    }

    /// <summary>Frames that arrive within <paramref name="window"/> (to show that nothing else comes).</summary>
    public async Task<List<JsonElement>> DrainAsync(TimeSpan window)
    {
        var frames = new List<JsonElement>();
        var deadline = DateTime.UtcNow + window;
        try
        {
            while (DateTime.UtcNow < deadline && await TryReceiveAsync(deadline - DateTime.UtcNow) is { } frame)
            {
                frames.Add(frame);
            }
        }
        catch (TimeoutException)
        {
            // The window ended; the pending read stays for the next wait.
        }

        return frames;
    }

    /// <summary>
    /// Reads every frame until the server closes; returns them and the close status (null when the
    /// connection was lost without a close frame).
    /// </summary>
    public async Task<(List<JsonElement> Frames, int? CloseStatus)> ReadUntilCloseAsync(TimeSpan? wait = null)
    {
        var frames = new List<JsonElement>();
        var deadline = DateTime.UtcNow + (wait ?? DefaultWait);
        while (true)
        {
            JsonElement? frame;
            try
            {
                frame = await TryReceiveAsync(Remaining(deadline, frames.Count));
            }
            catch (WebSocketException)
            {
                return (frames, null);
            }

            if (frame is null)
            {
                return (frames, (int?)Socket.CloseStatus);
            }

            frames.Add(frame.Value);
        }
    }

    /// <summary>Sends a normal close (the server answers with its own).</summary>
    public async Task CloseAsync()
    {
        if (Socket.State == WebSocketState.Open)
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token);
        }
    }

    public static bool IsTerminal(JsonElement frame) =>
        frame.GetProperty("type").GetString() is "agent_completed" or "agent_error"
        && frame.TryGetProperty("payload", out var payload)
        && payload.TryGetProperty("final", out var final) && final.ValueKind == JsonValueKind.True;

    private static TimeSpan Remaining(DateTime deadline, int framesSoFar)
    {
        var remaining = deadline - DateTime.UtcNow;
        Assert.True(remaining > TimeSpan.Zero, $"Nothing matching within the wait; got {framesSoFar} frames.");
        return remaining;
    }

    /// <summary>One whole message; null on the server's close.</summary>
    private async Task<JsonElement?> ReadFrameAsync()
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await Socket.ReceiveAsync(buffer, CancellationToken.None);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return null;
            }

            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                using var doc = JsonDocument.Parse(message.ToArray());
                return doc.RootElement.Clone();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
                // The server already went away.
            }
        }

        Socket.Dispose();
        if (_pending is { } pending)
        {
            // The read in flight ends with the socket; its outcome no longer matters.
            await ((Task)pending).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }
}
