using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using Apex.Testing;

namespace Apex.Scale.Tests;

/// <summary>Security state shared across nodes: revocations, refresh rotation, lock-out.</summary>
public sealed class SecurityStateTests
{
    [ClusterFact]
    public async Task Logout_on_A_closes_the_sessions_open_sockets_on_B_with_token_revoked_and_4401()
    {
        // Nodes poll the revocation table only every 30 s here: the close must come from the broadcast.
        await using var cluster = await TestCluster.StartAsync(2);
        var user = await cluster[0].RegisterUserAsync();
        var socket = await TestSocket.OpenAsync(cluster[1], user.AccessToken);
        await using var _s = socket;

        using var onA = cluster[0].CreateClient(user);
        using var logout = await onA.PostAsJsonAsync("/auth/logout", new { refresh_token = user.RefreshToken });
        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);

        var (frames, close) = await socket.ReadUntilCloseAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(4401, close);
        Assert.Contains(frames, f => f.GetProperty("type").GetString() == "error"
            && f.GetProperty("payload").GetProperty("code").GetString() == "token_revoked");
    }

    [ClusterFact]
    public async Task Logout_on_A_refuses_the_token_on_B_within_one_second()
    {
        // Nodes poll the revocation table only every 30 s here: the second must come from the broadcast.
        await using var cluster = await TestCluster.StartAsync(2);
        var user = await cluster[0].RegisterUserAsync();
        using var onB = cluster[1].CreateClient(user);
        using (var before = await onB.GetAsync("/auth/me"))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        using var onA = cluster[0].CreateClient(user);
        using var logout = await onA.PostAsJsonAsync("/auth/logout", new { refresh_token = user.RefreshToken });
        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        var clock = Stopwatch.StartNew();
        var refused = await Rest.EventuallyAsync(async () =>
        {
            using var me = await onB.GetAsync("/auth/me");
            return me.StatusCode == HttpStatusCode.Unauthorized;
        }, TimeSpan.FromSeconds(3), stepMs: 20);
        clock.Stop();
        Assert.True(refused, "node B still accepts the token");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"node B refused the token after {clock.ElapsedMilliseconds} ms");

        // The WebSocket gateway of a third node refuses it before the upgrade too.
        var third = await cluster.AddNodeAsync();
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", "Bearer " + user.AccessToken);
        socket.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(new UriBuilder(third.WebSocketBase) { Path = "/ws" }.Uri, CancellationToken.None));
        Assert.Equal(HttpStatusCode.Unauthorized, socket.HttpStatusCode);
    }

    [ClusterFact]
    public async Task Fifty_parallel_refreshes_of_one_token_across_two_nodes_let_exactly_one_succeed()
    {
        await using var cluster = await TestCluster.StartAsync(2, settings: new Dictionary<string, string?>
        {
            // The per-IP credential limit would answer 429 before the race this test is about.
            ["Auth:Abuse:PerIpPerMinute"] = "1000",
        });
        var user = await cluster[0].RegisterUserAsync();
        using var start = new ManualResetEventSlim();
        var clients = Enumerable.Range(0, 50).Select(i => cluster[i % 2].CreateClient()).ToList();
        try
        {
            var statuses = await Task.WhenAll(clients.Select(async client =>
            {
                using var response = await client.PostAsJsonAsync("/auth/refresh", new { refresh_token = user.RefreshToken });
                return response.StatusCode;
            }));
            Assert.Equal(1, statuses.Count(s => s == HttpStatusCode.OK));
            Assert.Equal(49, statuses.Count(s => s == HttpStatusCode.Unauthorized));
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    [ClusterFact]
    public async Task Failed_logins_count_towards_the_lock_out_on_every_node()
    {
        await using var cluster = await TestCluster.StartAsync(2, settings: new Dictionary<string, string?>
        {
            ["Auth:Abuse:FailuresBeforeLockout"] = "4",
            ["Auth:Abuse:PerIpPerMinute"] = "1000",
        });
        var user = await cluster[0].RegisterUserAsync();
        for (var i = 0; i < 4; i++)
        {
            using var failed = await cluster[i % 2].Client.PostAsJsonAsync("/auth/login", new { email = user.Email, password = "not the password 123" });
            Assert.True(failed.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.TooManyRequests, failed.StatusCode.ToString());
        }

        // Locked on both nodes, even with the right password.
        foreach (var node in cluster.Nodes)
        {
            using var locked = await node.Client.PostAsJsonAsync("/auth/login", new { email = user.Email, password = user.Password });
            Assert.Equal(HttpStatusCode.TooManyRequests, locked.StatusCode);
        }
    }
}
