using System.Net.WebSockets;
using Apex.Testing;

namespace Apex.Realtime.Tests;

public sealed class GatewayLimitTests
{
    [Fact(Timeout = 60_000)]
    public async Task A_frame_over_64_KiB_closes_with_1009()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        await using var socket = await TestSocket.ConnectAsync(server, user.AccessToken);
        await socket.ExpectAsync("connection_established");

        // Exactly 64 KiB passes.
        var exact = "{\"type\":\"ping\",\"pad\":\"" + new string('a', (64 * 1024) - 24) + "\"}";
        Assert.Equal(64 * 1024, exact.Length);
        await socket.SendTextAsync(exact);
        await socket.ExpectAsync("pong");

        var big = "{\"type\":\"ping\",\"pad\":\"" + new string('a', 65 * 1024) + "\"}";
        await socket.SendTextAsync(big);
        var (_, status) = await socket.ReadUntilCloseAsync();
        Assert.Equal(1009, status);
    }

    [Fact(Timeout = 60_000)]
    public async Task Flooding_gets_rate_limited_then_closed_with_1008()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        await using var socket = await TestSocket.ConnectAsync(server, user.AccessToken);
        await socket.ExpectAsync("connection_established");

        var reading = socket.ReadUntilCloseAsync(TimeSpan.FromSeconds(20));
        try
        {
            for (var i = 0; i < 500; i++)
            {
                await socket.SendJsonAsync(new { type = "ping", payload = new { timestamp = i } });
            }
        }
        catch (WebSocketException)
        {
            // The server closed the socket while the flood was still going.
        }
        catch (OperationCanceledException)
        {
        }

        var (frames, status) = await reading;
        Assert.Equal(1008, status);
        var types = frames.Select(f => f.GetProperty("type").GetString()).ToList();
        var firstLimited = types.IndexOf("error");
        Assert.True(firstLimited > 0, string.Join(",", types));
        Assert.Equal("rate_limited", frames[firstLimited].GetProperty("payload").GetProperty("code").GetString());
        // The burst was served before the limit applied.
        Assert.True(types.Take(firstLimited).Count(t => t == "pong") >= 20);
        Assert.True(types.Count(t => t == "pong") < 500);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_client_that_never_reads_is_closed_with_1013_without_stalling_another_user()
    {
        await using var server = await ApexTestServer.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Realtime:SendQueueLimit"] = "32",
            ["Realtime:CloseTimeoutSeconds"] = "20",
        });
        var slow = await server.RegisterUserAsync();
        var healthy = await server.RegisterUserAsync();
        await using var slowSocket = await TestSocket.ConnectAsync(server, slow.AccessToken);
        await using var healthySocket = await TestSocket.ConnectAsync(server, healthy.AccessToken);
        await healthySocket.ExpectAsync("connection_established");

        // The slow client reads nothing while big events pile up for it; the other user's events
        // keep arriving in order meanwhile.
        const int healthyEvents = 40;
        var nextHealthy = 1L;
        for (var i = 0; i < 400; i++)
        {
            await server.PublishAsync(slow.Id, padding: 32 * 1024);
            if (i % 10 == 0)
            {
                await server.PublishAsync(healthy.Id);
                var frame = await healthySocket.ExpectAsync("agent_thinking", TimeSpan.FromSeconds(2));
                Assert.Equal(nextHealthy++, frame.GetProperty("seq").GetInt64());
            }
        }

        Assert.Equal(healthyEvents + 1, nextHealthy);
        var (frames, status) = await slowSocket.ReadUntilCloseAsync(TimeSpan.FromSeconds(15));
        Assert.Equal(1013, status);
        Assert.True(frames.Count < 400, $"{frames.Count} frames reached the slow client");
    }

    [Fact(Timeout = 60_000)]
    public async Task Token_expiry_mid_connection_sends_token_expired_and_closes_with_4401()
    {
        var clock = new ShiftableTime();
        await using var server = await ApexTestServer.StartAsync(
            settings: new Dictionary<string, string?> { ["Auth:AccessTokenMinutes"] = "1" },
            configure: clock.Install);
        var user = await server.RegisterUserAsync();
        await using var socket = await TestSocket.ConnectAsync(server, user.AccessToken);
        await socket.ExpectAsync("connection_established");

        clock.Shift(TimeSpan.FromSeconds(61));
        var (frames, status) = await socket.ReadUntilCloseAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(4401, status);
        var error = frames.Last(f => f.GetProperty("type").GetString() == "error");
        Assert.Equal("token_expired", error.GetProperty("payload").GetProperty("code").GetString());
    }

    [Fact(Timeout = 60_000)]
    public async Task Auth_renewal_moves_the_expiry()
    {
        var clock = new ShiftableTime();
        // A heartbeat every second: each one comes from a housekeeping tick, which checks the expiry first.
        await using var server = await ApexTestServer.StartAsync(
            settings: new Dictionary<string, string?> { ["Auth:AccessTokenMinutes"] = "1", ["Realtime:HeartbeatIntervalSeconds"] = "1" },
            configure: clock.Install);
        var user = await server.RegisterUserAsync();
        await using var socket = await TestSocket.ConnectAsync(server, user.AccessToken);
        await socket.ExpectAsync("connection_established");

        // A token minted 25 s later lives until T+85 s.
        clock.Shift(TimeSpan.FromSeconds(25));
        var fresh = (await server.LoginAsync(user.Email, user.Password)).AccessToken;
        await socket.SendJsonAsync(new { type = "auth", id = "a1", payload = new { token = fresh } });
        var ack = (await socket.ExpectAsync("ack")).GetProperty("payload");
        Assert.Equal("auth", ack.GetProperty("received_type").GetString());
        Assert.Equal("a1", ack.GetProperty("client_id").GetString());

        // Past the first token's expiry the connection lives on.
        clock.Shift(TimeSpan.FromSeconds(40));
        // Two heartbeats after the shift: the tick that sent the second ran after the shift, found the
        // renewed expiry ahead and left the connection open (the old one would have closed it with 4401).
        await socket.ExpectAsync("heartbeat");
        await socket.ExpectAsync("heartbeat");
        await socket.SendJsonAsync(new { type = "ping", payload = new { timestamp = 1 } });
        await socket.ExpectAsync("pong");

        // A bad token does not move it.
        await socket.SendJsonAsync(new { type = "auth", id = "a2", payload = new { token = "garbage.token.value" } });
        var refused = (await socket.ExpectAsync("error")).GetProperty("payload");
        Assert.Equal("invalid_token", refused.GetProperty("code").GetString());

        clock.Shift(TimeSpan.FromSeconds(25));
        var (frames, status) = await socket.ReadUntilCloseAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(4401, status);
        Assert.Contains(frames, f => f.GetProperty("type").GetString() == "error" && f.GetProperty("payload").GetProperty("code").GetString() == "token_expired");
    }

    [Fact(Timeout = 60_000)]
    public async Task Shutdown_sends_what_is_queued_then_closes_with_1001()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        await using var socket = await TestSocket.ConnectAsync(server, user.AccessToken);
        await socket.ExpectAsync("connection_established");

        for (var i = 0; i < 20; i++)
        {
            await server.PublishAsync(user.Id);
        }

        var stopping = server.App.StopAsync();
        var (frames, status) = await socket.ReadUntilCloseAsync();
        Assert.Equal(1001, status);
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), frames.Where(f => f.TryGetProperty("seq", out _)).Select(f => f.GetProperty("seq").GetInt64()));
        await socket.Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        await stopping.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
