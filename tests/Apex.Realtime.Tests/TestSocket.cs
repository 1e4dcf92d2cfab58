using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Apex.Testing;

namespace Apex.Realtime.Tests;

/// <summary>A real <see cref="ClientWebSocket"/> with helpers to read protocol frames.</summary>
internal sealed class TestSocket : IAsyncDisposable
{
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(10);

    private TestSocket(ClientWebSocket socket) => Socket = socket;

    public ClientWebSocket Socket { get; }

    public static async Task<TestSocket> ConnectAsync(ApexTestServer server, string? bearer, string path = "/ws", string? query = null, Action<ClientWebSocketOptions>? configure = null)
    {
        var socket = new ClientWebSocket();
        if (bearer is not null)
        {
            socket.Options.SetRequestHeader("Authorization", "Bearer " + bearer);
        }

        configure?.Invoke(socket.Options);
        var uri = new UriBuilder(server.WebSocketBase) { Path = path, Query = query ?? string.Empty }.Uri;
        using var cts = new CancellationTokenSource(DefaultWait);
        await socket.ConnectAsync(uri, cts.Token);
        return new TestSocket(socket);
    }

    /// <summary>Attempts a handshake that the server must refuse; returns the HTTP status it answered.</summary>
    public static async Task<HttpStatusCode> RefusedStatusAsync(ApexTestServer server, Action<ClientWebSocketOptions> configure, string path = "/ws", string? query = null)
    {
        using var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        configure(socket.Options);
        var uri = new UriBuilder(server.WebSocketBase) { Path = path, Query = query ?? string.Empty }.Uri;
        using var cts = new CancellationTokenSource(DefaultWait);
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(uri, cts.Token));
        Assert.NotEqual(WebSocketState.Open, socket.State);
        return socket.HttpStatusCode;
    }

    public Task SendJsonAsync(object message) => SendTextAsync(JsonSerializer.Serialize(message));

    public async Task SendTextAsync(string text)
    {
        using var cts = new CancellationTokenSource(DefaultWait);
        await Socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, cts.Token);
    }

    /// <summary>The next frame as JSON; fails on a close or a timeout.</summary>
    public async Task<JsonElement> ReceiveAsync(TimeSpan? wait = null)
    {
        var (frame, _) = await ReceiveFrameOrCloseAsync(wait ?? DefaultWait);
        Assert.True(frame.HasValue, $"Expected a frame, got a close ({Socket.CloseStatus} {Socket.CloseStatusDescription}).");
        return frame.Value;
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

    /// <summary>Reads (and returns) every frame until the server closes; returns the close status too.</summary>
    public async Task<(List<JsonElement> Frames, int CloseStatus)> ReadUntilCloseAsync(TimeSpan? wait = null)
    {
        var frames = new List<JsonElement>();
        var deadline = DateTime.UtcNow + (wait ?? DefaultWait);
        while (true)
        {
            var remaining = deadline - DateTime.UtcNow;
            Assert.True(remaining > TimeSpan.Zero, $"No close within the wait; got {frames.Count} frames.");
            var (frame, closed) = await ReceiveFrameOrCloseAsync(remaining);
            if (closed)
            {
                return (frames, (int)Socket.CloseStatus!.Value);
            }

            frames.Add(frame!.Value);
        }
    }

    private async Task<(JsonElement? Frame, bool Closed)> ReceiveFrameOrCloseAsync(TimeSpan wait)
    {
        using var cts = new CancellationTokenSource(wait);
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await Socket.ReceiveAsync(buffer, cts.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                return (null, true);
            }

            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                using var doc = JsonDocument.Parse(message.ToArray());
                return (doc.RootElement.Clone(), false);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Socket.State == WebSocketState.Open || Socket.State == WebSocketState.CloseReceived)
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
    }
}
