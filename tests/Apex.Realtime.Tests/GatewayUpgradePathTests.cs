using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Apex.Testing;

namespace Apex.Realtime.Tests;

/// <summary>
/// WebSocket upgrades are served ahead of routing and the authentication chain: the refusals, host
/// filtering and security headers of the full pipeline must still apply to them.
/// </summary>
public sealed class GatewayUpgradePathTests
{
    [Fact(Timeout = 60_000)]
    public async Task A_revoked_token_gets_the_401_problem_with_the_security_headers_before_the_upgrade()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();

        // The token opens a socket (and is cached as verified) until its session is ended.
        await using (var socket = await TestSocket.ConnectAsync(server, user.AccessToken))
        {
            await socket.ExpectAsync("connection_established");
        }

        using (var client = server.CreateClient(user))
        using (var logout = await client.PostAsJsonAsync("/auth/logout", new { refresh_token = user.RefreshToken }))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, await TestSocket.RefusedStatusAsync(server, o => o.AddSubProtocol("jwt." + user.AccessToken)));
        Assert.Equal(HttpStatusCode.Unauthorized, await TestSocket.RefusedStatusAsync(server, o => o.SetRequestHeader("Authorization", "Bearer " + user.AccessToken)));

        using var request = Upgrade("/ws");
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + user.AccessToken);
        using var response = await server.Client.SendAsync(request);
        var raw = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
        Assert.Equal("nosniff", string.Join(",", response.Headers.GetValues("X-Content-Type-Options")));
        using var body = JsonDocument.Parse(raw);
        Assert.Equal(401, body.RootElement.GetProperty("status").GetInt32());
        Assert.DoesNotContain(user.AccessToken.Split('.')[1], raw, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task An_upgrade_to_a_host_off_the_allowed_list_is_refused_before_the_gateway()
    {
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?> { ["AllowedHosts"] = "127.0.0.1;localhost" });
        var user = await server.RegisterUserAsync();

        using var request = Upgrade("/ws");
        request.Headers.Host = "evil.example";
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + user.AccessToken);
        using var response = await server.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);

        // The same upgrade to an allowed host opens.
        await using var socket = await TestSocket.ConnectAsync(server, user.AccessToken);
        await socket.ExpectAsync("connection_established");
    }

    [Theory(Timeout = 60_000)]
    [InlineData("/WS")]
    [InlineData("/ws/")]
    [InlineData("/api/v1/websocket/")]
    public async Task The_paths_match_as_routing_matches_them(string path)
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        await using var socket = await TestSocket.ConnectAsync(server, user.AccessToken, path);
        var established = await socket.ExpectAsync("connection_established");
        Assert.Equal(user.Id, established.GetProperty("payload").GetProperty("user_id").GetString());
    }

    [Fact(Timeout = 60_000)]
    public async Task A_plain_request_with_a_valid_token_still_gets_the_400_problem()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        using var client = server.CreateClient(user);
        using var response = await client.GetAsync(new Uri("/ws", UriKind.Relative));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    private static HttpRequestMessage Upgrade(string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        request.Headers.Connection.Add("Upgrade");
        request.Headers.Upgrade.Add(new ProductHeaderValue("websocket"));
        request.Headers.TryAddWithoutValidation("Sec-WebSocket-Version", "13");
        request.Headers.TryAddWithoutValidation("Sec-WebSocket-Key", Convert.ToBase64String(Guid.NewGuid().ToByteArray()));
        return request;
    }
}
