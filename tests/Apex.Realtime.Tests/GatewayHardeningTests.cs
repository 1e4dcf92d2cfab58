using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using Apex.Testing;

namespace Apex.Realtime.Tests;

/// <summary>Revocation, per-user caps, empty frames and closes during a replay (issue 14).</summary>
public sealed class GatewayHardeningTests
{
    [Fact(Timeout = 60_000)]
    public async Task Logout_closes_the_sessions_open_sockets_with_token_revoked_and_4401()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var other = await server.RegisterUserAsync();
        await using var socket = await TestSocket.ConnectAsync(server, user.AccessToken);
        await using var bystander = await TestSocket.ConnectAsync(server, other.AccessToken);
        await socket.ExpectAsync("connection_established");
        await bystander.ExpectAsync("connection_established");

        using var client = server.CreateClient(user);
        using (var logout = await client.PostAsJsonAsync("/auth/logout", new { refresh_token = user.RefreshToken }))
        {
            Assert.Equal(204, (int)logout.StatusCode);
        }

        var (frames, status) = await socket.ReadUntilCloseAsync();
        Assert.Equal(4401, status);
        var error = Assert.Single(frames, f => f.GetProperty("type").GetString() == "error");
        Assert.Equal("token_revoked", error.GetProperty("payload").GetProperty("code").GetString());

        // Another user's socket is untouched.
        await bystander.SendJsonAsync(new { type = "ping" });
        await bystander.ExpectAsync("pong");
    }

    [Fact(Timeout = 60_000)]
    public async Task Disabling_a_user_closes_every_socket_of_that_user_with_4401()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var second = await server.LoginAsync(user.Email, user.Password);
        await using var first = await TestSocket.ConnectAsync(server, user.AccessToken);
        await using var other = await TestSocket.ConnectAsync(server, second.AccessToken);
        await first.ExpectAsync("connection_established");
        await other.ExpectAsync("connection_established");

        Assert.Equal(2, await server.DisableUserAsync(user.Email));

        foreach (var socket in new[] { first, other })
        {
            var (frames, status) = await socket.ReadUntilCloseAsync();
            Assert.Equal(4401, status);
            Assert.Contains(frames, f => f.GetProperty("type").GetString() == "error"
                && f.GetProperty("payload").GetProperty("code").GetString() == "token_revoked");
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task An_empty_text_frame_gets_invalid_json_and_the_socket_stays_open()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        await using var socket = await TestSocket.ConnectAsync(server, user.AccessToken);
        await socket.ExpectAsync("connection_established");

        await socket.SendTextAsync(string.Empty);
        var error = await socket.ExpectAsync("error");
        Assert.Equal("invalid_json", error.GetProperty("payload").GetProperty("code").GetString());

        await socket.SendJsonAsync(new { type = "ping", payload = new { timestamp = 1 } });
        await socket.ExpectAsync("pong");
    }

    [Fact(Timeout = 60_000)]
    public async Task Sockets_over_the_per_user_cap_are_closed_with_1008()
    {
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?> { ["Realtime:MaxConnectionsPerUser"] = "3" });
        var user = await server.RegisterUserAsync();
        var other = await server.RegisterUserAsync();
        var open = new List<TestSocket>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var socket = await TestSocket.ConnectAsync(server, user.AccessToken);
                open.Add(socket);
                await socket.ExpectAsync("connection_established");
            }

            await using var fourth = await TestSocket.ConnectAsync(server, user.AccessToken);
            var (frames, status) = await fourth.ReadUntilCloseAsync();
            Assert.Equal(1008, status);
            Assert.Contains(frames, f => f.GetProperty("type").GetString() == "error"
                && f.GetProperty("payload").GetProperty("code").GetString() == "too_many_connections");

            // The cap is per user.
            await using var others = await TestSocket.ConnectAsync(server, other.AccessToken);
            await others.ExpectAsync("connection_established");
        }
        finally
        {
            foreach (var socket in open)
            {
                await socket.DisposeAsync();
            }
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task A_client_close_during_a_resume_replay_is_answered_without_sending_the_rest_of_the_replay()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        const int events = 1000;
        for (var i = 0; i < events; i++)
        {
            await server.PublishAsync(user.Id, padding: 16 * 1024);
        }

        var position = await server.Broker().GetPositionAsync(user.Id, CancellationToken.None);
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + user.AccessToken);
        // A small receive window: the replay (16 MB) cannot all sit in socket buffers.
        socket.Options.SetBuffer(4096, 4096);
        var uri = new UriBuilder(server.WebSocketBase) { Path = "/ws", Query = $"epoch={Uri.EscapeDataString(position.Epoch)}&last_seq=0" }.Uri;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(uri, cts.Token);
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token);

        var replayed = 0;
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, cts.Token);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                break;
            }

            if (result.EndOfMessage)
            {
                replayed++;
            }
        }

        Assert.Equal(WebSocketCloseStatus.NormalClosure, socket.CloseStatus);
        // The server stopped the replay when the close arrived instead of sending all of it first.
        Assert.True(replayed < events, $"{replayed} frames were sent after the client's close.");
    }
}
