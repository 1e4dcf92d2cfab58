using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Apex.Testing;

namespace Apex.Realtime.Tests;

public sealed class GatewayHandshakeTests
{
    [Theory(Timeout = 60_000)]
    [InlineData("/ws")]
    [InlineData("/websocket")]
    [InlineData("/api/v1/websocket")]
    public async Task Bearer_header_opens_the_socket_and_connection_established_follows_the_spec(string path)
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        await using var socket = await TestSocket.ConnectAsync(server, user.AccessToken, path);

        Assert.Null(socket.Socket.SubProtocol);
        var established = await socket.ExpectAsync("connection_established");
        Assert.False(established.TryGetProperty("seq", out _));
        var payload = established.GetProperty("payload");
        Assert.StartsWith("conn_", payload.GetProperty("connection_id").GetString(), StringComparison.Ordinal);
        Assert.Equal(user.Id, payload.GetProperty("user_id").GetString());
        Assert.True(DateTimeOffset.TryParse(payload.GetProperty("server_time").GetString(), out _));
        Assert.Equal(25, payload.GetProperty("heartbeat_interval_s").GetInt32());
        Assert.Equal(64 * 1024, payload.GetProperty("max_message_bytes").GetInt32());
        Assert.False(string.IsNullOrEmpty(payload.GetProperty("epoch").GetString()));
        Assert.Equal(0, payload.GetProperty("last_seq").GetInt64());
    }

    [Fact(Timeout = 60_000)]
    public async Task Raw_jwt_subprotocol_authenticates_and_jwt_auth_is_selected_only_when_offered()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();

        await using (var offered = await TestSocket.ConnectAsync(server, bearer: null, configure: o =>
        {
            o.AddSubProtocol("jwt-auth");
            o.AddSubProtocol("jwt." + user.AccessToken);
        }))
        {
            Assert.Equal("jwt-auth", offered.Socket.SubProtocol);
            var established = await offered.ExpectAsync("connection_established");
            Assert.Equal(user.Id, established.GetProperty("payload").GetProperty("user_id").GetString());
        }

        await using (var notOffered = await TestSocket.ConnectAsync(server, bearer: null, configure: o => o.AddSubProtocol("jwt." + user.AccessToken)))
        {
            // The client offered only the token entry: the server selects nothing and never echoes it.
            Assert.Null(notOffered.Socket.SubProtocol);
            await notOffered.ExpectAsync("connection_established");
        }
    }

    [Theory(Timeout = 60_000)]
    [InlineData("jwt.")]
    [InlineData("bearer.")]
    public async Task Base64url_subprotocol_token_authenticates(string prefix)
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var encoded = Convert.ToBase64String(Encoding.UTF8.GetBytes(user.AccessToken)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

        await using var socket = await TestSocket.ConnectAsync(server, bearer: null, configure: o =>
        {
            o.AddSubProtocol(prefix + encoded);
            o.AddSubProtocol("jwt-auth");
        });
        Assert.Equal("jwt-auth", socket.Socket.SubProtocol);
        var established = await socket.ExpectAsync("connection_established");
        Assert.Equal(user.Id, established.GetProperty("payload").GetProperty("user_id").GetString());
    }

    [Fact(Timeout = 60_000)]
    public async Task Missing_tampered_and_query_string_tokens_get_401_before_the_upgrade()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var parts = user.AccessToken.Split('.');
        var tampered = $"{parts[0]}.{parts[1]}.{(parts[2][0] == 'A' ? 'B' : 'A')}{parts[2][1..]}";

        Assert.Equal(HttpStatusCode.Unauthorized, await TestSocket.RefusedStatusAsync(server, _ => { }));
        Assert.Equal(HttpStatusCode.Unauthorized, await TestSocket.RefusedStatusAsync(server, o => o.SetRequestHeader("Authorization", "Bearer " + tampered)));
        Assert.Equal(HttpStatusCode.Unauthorized, await TestSocket.RefusedStatusAsync(server, o => o.AddSubProtocol("jwt." + tampered)));
        Assert.Equal(HttpStatusCode.Unauthorized, await TestSocket.RefusedStatusAsync(server, o => o.AddSubProtocol("jwt.not-a-token")));
        Assert.Equal(HttpStatusCode.Unauthorized, await TestSocket.RefusedStatusAsync(server, _ => { }, query: "token=" + user.AccessToken));
        Assert.Equal(HttpStatusCode.Unauthorized, await TestSocket.RefusedStatusAsync(server, _ => { }, query: "access_token=" + user.AccessToken));

        // The refusal is a problem body, sent instead of the 101.
        var problem = await UpgradeWithHttpClientAsync(server, "Bearer " + tampered, origin: null);
        Assert.Equal(HttpStatusCode.Unauthorized, problem.Status);
        Assert.Equal("application/problem+json", problem.ContentType);
        Assert.Equal(401, problem.Body.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.Body.GetProperty("title").GetString()));
        Assert.False(string.IsNullOrEmpty(problem.Body.GetProperty("type").GetString()));
        Assert.False(string.IsNullOrEmpty(problem.Body.GetProperty("detail").GetString()));
        Assert.DoesNotContain(parts[1], problem.Raw, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Expired_token_gets_401_before_the_upgrade()
    {
        // The server starts 61 s in the past, so the one-minute token it mints is already expired
        // when the clock is set right.
        var clock = new ShiftableTime();
        clock.Shift(TimeSpan.FromSeconds(-61));
        await using var server = await ApexTestServer.StartAsync(
            settings: new Dictionary<string, string?> { ["Auth:AccessTokenMinutes"] = "1", ["Auth:ClockSkewSeconds"] = "0" },
            configure: clock.Install);
        var user = await server.RegisterUserAsync();
        clock.Shift(TimeSpan.FromSeconds(61));

        Assert.Equal(HttpStatusCode.Unauthorized, await TestSocket.RefusedStatusAsync(server, o => o.SetRequestHeader("Authorization", "Bearer " + user.AccessToken)));
        var problem = await UpgradeWithHttpClientAsync(server, "Bearer " + user.AccessToken, origin: null);
        Assert.Equal(HttpStatusCode.Unauthorized, problem.Status);
        Assert.Equal(401, problem.Body.GetProperty("status").GetInt32());
    }

    [Fact(Timeout = 60_000)]
    public async Task Foreign_origin_gets_403_while_own_configured_and_absent_origins_are_allowed()
    {
        await using var server = await ApexTestServer.StartAsync(
            settings: new Dictionary<string, string?> { ["Apex:AllowedOrigins:0"] = "https://app.example.com" });
        var user = await server.RegisterUserAsync();

        Assert.Equal(HttpStatusCode.Forbidden, await TestSocket.RefusedStatusAsync(server, o =>
        {
            o.SetRequestHeader("Authorization", "Bearer " + user.AccessToken);
            o.SetRequestHeader("Origin", "https://evil.example.net");
        }));
        var problem = await UpgradeWithHttpClientAsync(server, "Bearer " + user.AccessToken, origin: "https://evil.example.net");
        Assert.Equal(HttpStatusCode.Forbidden, problem.Status);
        Assert.Equal(403, problem.Body.GetProperty("status").GetInt32());

        foreach (var origin in new[] { "https://app.example.com", server.BaseAddress.GetLeftPart(UriPartial.Authority) })
        {
            await using var socket = await TestSocket.ConnectAsync(server, user.AccessToken, configure: o => o.SetRequestHeader("Origin", origin));
            await socket.ExpectAsync("connection_established");
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Malformed_resume_parameters_get_400_problem()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        Assert.Equal(HttpStatusCode.BadRequest, await TestSocket.RefusedStatusAsync(server, o => o.SetRequestHeader("Authorization", "Bearer " + user.AccessToken), query: "epoch=abc&last_seq=-1"));
        Assert.Equal(HttpStatusCode.BadRequest, await TestSocket.RefusedStatusAsync(server, o => o.SetRequestHeader("Authorization", "Bearer " + user.AccessToken), query: "last_seq=3"));
    }

    private static async Task<(HttpStatusCode Status, string? ContentType, JsonElement Body, string Raw)> UpgradeWithHttpClientAsync(ApexTestServer server, string authorization, string? origin)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/ws", UriKind.Relative));
        request.Headers.TryAddWithoutValidation("Authorization", authorization);
        request.Headers.Connection.Add("Upgrade");
        request.Headers.Upgrade.Add(new ProductHeaderValue("websocket"));
        request.Headers.TryAddWithoutValidation("Sec-WebSocket-Version", "13");
        request.Headers.TryAddWithoutValidation("Sec-WebSocket-Key", Convert.ToBase64String(Guid.NewGuid().ToByteArray()));
        if (origin is not null)
        {
            request.Headers.TryAddWithoutValidation("Origin", origin);
        }

        using var response = await server.Client.SendAsync(request);
        var raw = await response.Content.ReadAsStringAsync();
        using var doc = JsonDocument.Parse(raw);
        return (response.StatusCode, response.Content.Headers.ContentType?.MediaType, doc.RootElement.Clone(), raw);
    }
}
