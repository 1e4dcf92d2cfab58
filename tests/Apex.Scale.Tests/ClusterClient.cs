using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Apex.Testing;

namespace Apex.Scale.Tests;

/// <summary>A real WebSocket client of one node, reading protocol frames.</summary>
internal sealed class NodeSocket : IAsyncDisposable
{
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(15);

    private NodeSocket(ClientWebSocket socket) => Socket = socket;

    public ClientWebSocket Socket { get; }

    public string Epoch { get; private set; } = string.Empty;

    public long LastSeq { get; private set; }

    /// <summary>Connects and reads <c>connection_established</c> (and <c>resumed</c> when resuming).</summary>
    public static async Task<(NodeSocket Socket, JsonElement Established)> ConnectAsync(ApexTestServer node, string token, string? epoch = null, long? lastSeq = null)
    {
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + token);
        var query = epoch is null ? string.Empty : $"epoch={Uri.EscapeDataString(epoch)}&last_seq={lastSeq}";
        using var cts = new CancellationTokenSource(DefaultWait);
        await socket.ConnectAsync(new UriBuilder(node.WebSocketBase) { Path = "/ws", Query = query }.Uri, cts.Token);
        var client = new NodeSocket(socket);
        var established = await client.ExpectAsync("connection_established");
        client.Epoch = established.GetProperty("payload").GetProperty("epoch").GetString()!;
        client.LastSeq = established.GetProperty("payload").GetProperty("last_seq").GetInt64();
        return (client, established);
    }

    public async Task SendJsonAsync(object message)
    {
        using var cts = new CancellationTokenSource(DefaultWait);
        await Socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(message), WebSocketMessageType.Text, true, cts.Token);
    }

    /// <summary>The next frame other than a heartbeat; null when the server closed the socket.</summary>
    public async Task<JsonElement?> ReceiveAsync(TimeSpan? wait = null)
    {
        using var cts = new CancellationTokenSource(wait ?? DefaultWait);
        var buffer = new byte[64 * 1024];
        while (true)
        {
            using var message = new MemoryStream();
            while (true)
            {
                var result = await Socket.ReceiveAsync(buffer, cts.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return null;
                }

                message.Write(buffer, 0, result.Count);
                if (result.EndOfMessage)
                {
                    break;
                }
            }

            using var doc = JsonDocument.Parse(message.ToArray());
            var frame = doc.RootElement.Clone();
            if (frame.GetProperty("type").GetString() == "heartbeat")
            {
                continue;
            }

            if (frame.TryGetProperty("seq", out var seq))
            {
                LastSeq = seq.GetInt64();
            }

            return frame;
        }
    }

    public async Task<JsonElement> ExpectAsync(string type, TimeSpan? wait = null)
    {
        var frame = await ReceiveAsync(wait);
        Assert.True(frame.HasValue, $"Expected '{type}', the server closed with {Socket.CloseStatus} {Socket.CloseStatusDescription}.");
        Assert.True(frame.Value.GetProperty("type").GetString() == type, $"Expected '{type}', got {frame.Value.GetRawText()}");
        return frame.Value;
    }

    /// <summary>Reads stream events until the run's terminal event (agent_completed final, or agent_error final).</summary>
    public async Task<List<JsonElement>> ReadRunAsync(string? runId = null, TimeSpan? wait = null)
    {
        var events = new List<JsonElement>();
        var deadline = DateTime.UtcNow + (wait ?? DefaultWait);
        while (true)
        {
            var remaining = deadline - DateTime.UtcNow;
            Assert.True(remaining > TimeSpan.Zero, $"No terminal event within the wait; got {events.Count} events.");
            var frame = await ReceiveAsync(remaining);
            Assert.True(frame.HasValue, $"The server closed with {Socket.CloseStatus} before the run ended.");
            var f = frame.Value;
            if (!f.TryGetProperty("seq", out _))
            {
                continue;
            }

            events.Add(f);
            if ((runId is null || (f.TryGetProperty("run_id", out var r) && r.GetString() == runId)) && IsTerminal(f))
            {
                return events;
            }
        }
    }

    public static bool IsTerminal(JsonElement frame)
    {
        var type = frame.GetProperty("type").GetString();
        if (type is not ("agent_completed" or "agent_error") || !frame.TryGetProperty("payload", out var payload))
        {
            return false;
        }

        return payload.TryGetProperty("final", out var final) && final.ValueKind == JsonValueKind.True;
    }

    /// <summary>Reads until the server closes; returns the close code.</summary>
    public async Task<(List<JsonElement> Frames, int? Close)> ReadUntilCloseAsync(TimeSpan? wait = null)
    {
        var frames = new List<JsonElement>();
        var deadline = DateTime.UtcNow + (wait ?? DefaultWait);
        while (DateTime.UtcNow < deadline)
        {
            JsonElement? frame;
            try
            {
                frame = await ReceiveAsync(deadline - DateTime.UtcNow);
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

        Assert.Fail($"The server did not close within the wait; got {frames.Count} frames.");
        return default;
    }

    public async ValueTask DisposeAsync()
    {
        if (Socket.State == WebSocketState.Open)
        {
            try
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
            {
                // The server is gone already.
            }
        }

        Socket.Dispose();
    }
}

internal static class Rest
{
    /// <summary>Creates a thread and posts a message to it: the run starts on <paramref name="node"/>.</summary>
    public static async Task<(string ThreadId, string RunId)> StartRunAsync(ApexTestServer node, TestUser user, string text = "How can I cut my AI costs?", string title = "scale")
    {
        using var client = node.CreateClient(user);
        using var created = await client.PostAsJsonAsync("/api/threads", new { title });
        Assert.Equal(201, (int)created.StatusCode);
        var threadId = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
        using var posted = await client.PostAsJsonAsync($"/api/threads/{threadId}/messages", new { content = text });
        var body = await posted.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(202 == (int)posted.StatusCode, body.GetRawText());
        return (threadId, body.GetProperty("run").GetProperty("id").GetString()!);
    }

    public static async Task<JsonElement> GetRunAsync(ApexTestServer node, TestUser user, string runId)
    {
        using var client = node.CreateClient(user);
        using var response = await client.GetAsync($"/api/runs/{runId}");
        Assert.Equal(200, (int)response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>Polls until <paramref name="condition"/> holds or the wait ends; returns whether it held.</summary>
    public static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan wait, int stepMs = 100)
    {
        var deadline = DateTime.UtcNow + wait;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(stepMs);
        }

        return await condition();
    }

    public static string Types(IEnumerable<JsonElement> frames) =>
        string.Join(",", frames.Select(f => f.GetProperty("type").GetString()));
}

internal static class NodeSocketExtensions
{
    /// <summary>Skips frames until one of <paramref name="type"/> arrives.</summary>
    public static async Task<JsonElement> ExpectAsyncSkipping(this NodeSocket socket, string type)
    {
        while (true)
        {
            var frame = await socket.ReceiveAsync();
            Assert.True(frame.HasValue, $"Closed before '{type}'.");
            if (frame.Value.GetProperty("type").GetString() == type)
            {
                return frame.Value;
            }
        }
    }
}
