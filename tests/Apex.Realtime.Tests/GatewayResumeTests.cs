using System.Text.Json;
using Apex.Testing;

namespace Apex.Realtime.Tests;

public sealed class GatewayResumeTests
{
    [Fact(Timeout = 60_000)]
    public async Task Reconnecting_with_epoch_and_last_seq_replays_the_missed_events_then_live_with_no_gap_or_duplicate()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var other = await server.RegisterUserAsync();
        for (var i = 0; i < 3; i++)
        {
            await server.PublishAsync(user.Id);
        }

        string epoch;
        long lastSeq;
        await using var otherSocket = await TestSocket.ConnectAsync(server, other.AccessToken);
        await otherSocket.ExpectAsync("connection_established");
        await using (var first = await TestSocket.ConnectAsync(server, user.AccessToken))
        await using (var second = await TestSocket.ConnectAsync(server, user.AccessToken))
        {
            var established = (await first.ExpectAsync("connection_established")).GetProperty("payload");
            epoch = established.GetProperty("epoch").GetString()!;
            Assert.Equal(3, established.GetProperty("last_seq").GetInt64());
            Assert.Equal(epoch, (await second.ExpectAsync("connection_established")).GetProperty("payload").GetProperty("epoch").GetString());

            await server.PublishAsync(user.Id);
            await server.PublishAsync(user.Id);
            foreach (var socket in new[] { first, second })
            {
                Assert.Equal(4, (await socket.ExpectAsync("agent_thinking")).GetProperty("seq").GetInt64());
                Assert.Equal(5, (await socket.ExpectAsync("agent_thinking")).GetProperty("seq").GetInt64());
            }

            lastSeq = 5;
            first.Socket.Abort();
            second.Socket.Abort();
        }

        // Events keep coming while the client is away and while it reconnects: the first third is
        // published before the reconnect starts, the rest while it is under way.
        const int total = 300;
        var reconnecting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var awayPublished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var publisher = Task.Run(async () =>
        {
            for (var i = 0; i < total; i++)
            {
                if (i == total / 3)
                {
                    awayPublished.SetResult();
                    await reconnecting.Task;
                }

                await server.PublishAsync(user.Id);
            }
        });
        await awayPublished.Task;
        reconnecting.SetResult();

        await using var resumed = await TestSocket.ConnectAsync(server, user.AccessToken, query: $"epoch={Uri.EscapeDataString(epoch)}&last_seq={lastSeq}");
        var again = (await resumed.ExpectAsync("connection_established")).GetProperty("payload");
        Assert.Equal(epoch, again.GetProperty("epoch").GetString());
        var outcome = (await resumed.ExpectAsync("resumed")).GetProperty("payload");
        Assert.True(outcome.GetProperty("recovered").GetBoolean());
        Assert.Equal(lastSeq + 1, outcome.GetProperty("from_seq").GetInt64());
        Assert.Equal(again.GetProperty("last_seq").GetInt64(), outcome.GetProperty("to_seq").GetInt64());
        Assert.Equal(outcome.GetProperty("to_seq").GetInt64() - lastSeq, outcome.GetProperty("replayed").GetInt64());
        Assert.False(outcome.TryGetProperty("reason", out _));

        await publisher;
        var finalSeq = 5 + total;
        var expected = lastSeq + 1;
        while (expected <= finalSeq)
        {
            var frame = await resumed.ExpectAsync("agent_thinking");
            Assert.Equal(expected++, frame.GetProperty("seq").GetInt64());
        }

        // Nothing of this user's reached the other user.
        await otherSocket.SendJsonAsync(new { type = "ping", payload = new { timestamp = 1 } });
        await otherSocket.ExpectAsync("pong");
    }

    [Fact(Timeout = 60_000)]
    public async Task A_resume_older_than_the_window_or_from_another_epoch_is_not_recovered()
    {
        await using var server = await ApexTestServer.StartAsync(settings: new Dictionary<string, string?> { ["Broker:HistorySize"] = "10" });
        var user = await server.RegisterUserAsync();
        for (var i = 0; i < 30; i++)
        {
            await server.PublishAsync(user.Id);
        }

        var epoch = (await server.Broker().GetPositionAsync(user.Id, CancellationToken.None)).Epoch;
        await using (var tooOld = await TestSocket.ConnectAsync(server, user.AccessToken, query: $"epoch={epoch}&last_seq=5"))
        {
            await tooOld.ExpectAsync("connection_established");
            var outcome = (await tooOld.ExpectAsync("resumed")).GetProperty("payload");
            Assert.False(outcome.GetProperty("recovered").GetBoolean());
            Assert.Equal("out_of_window", outcome.GetProperty("reason").GetString());
            Assert.Equal(0, outcome.GetProperty("replayed").GetInt32());

            // Live events follow the current position.
            await server.PublishAsync(user.Id);
            Assert.Equal(31, (await tooOld.ExpectAsync("agent_thinking")).GetProperty("seq").GetInt64());
        }

        await using (var otherEpoch = await TestSocket.ConnectAsync(server, user.AccessToken, query: "epoch=from-a-previous-life&last_seq=29"))
        {
            await otherEpoch.ExpectAsync("connection_established");
            var outcome = (await otherEpoch.ExpectAsync("resumed")).GetProperty("payload");
            Assert.False(outcome.GetProperty("recovered").GetBoolean());
            Assert.Equal("epoch_changed", outcome.GetProperty("reason").GetString());
        }

        await using (var inWindow = await TestSocket.ConnectAsync(server, user.AccessToken, query: $"epoch={epoch}&last_seq=25"))
        {
            await inWindow.ExpectAsync("connection_established");
            var outcome = (await inWindow.ExpectAsync("resumed")).GetProperty("payload");
            Assert.True(outcome.GetProperty("recovered").GetBoolean());
            Assert.Equal(6, outcome.GetProperty("replayed").GetInt32());
            for (var seq = 26; seq <= 31; seq++)
            {
                Assert.Equal(seq, (await inWindow.ExpectAsync("agent_thinking")).GetProperty("seq").GetInt64());
            }
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Every_connection_of_a_user_sees_the_same_numbering_and_other_users_see_nothing()
    {
        await using var server = await ApexTestServer.StartAsync();
        var alice = await server.RegisterUserAsync();
        var bob = await server.RegisterUserAsync();
        await using var a1 = await TestSocket.ConnectAsync(server, alice.AccessToken);
        await using var a2 = await TestSocket.ConnectAsync(server, alice.AccessToken, path: "/websocket");
        await using var b1 = await TestSocket.ConnectAsync(server, bob.AccessToken);
        foreach (var s in new[] { a1, a2, b1 })
        {
            await s.ExpectAsync("connection_established");
        }

        await Task.WhenAll(Enumerable.Range(0, 4).Select(p => Task.Run(async () =>
        {
            for (var i = 0; i < 25; i++)
            {
                await server.PublishAsync(p % 2 == 0 ? alice.Id : bob.Id, runId: p % 2 == 0 ? "run_alice" : "run_bob");
            }
        })));

        foreach (var (socket, runId) in new[] { (a1, "run_alice"), (a2, "run_alice"), (b1, "run_bob") })
        {
            for (var seq = 1; seq <= 50; seq++)
            {
                var frame = await socket.ExpectAsync("agent_thinking");
                Assert.Equal(seq, frame.GetProperty("seq").GetInt64());
                Assert.Equal(runId, frame.GetProperty("run_id").GetString());
            }

            await socket.SendJsonAsync(new { type = "ping", payload = new { timestamp = 0 } });
            Assert.Equal(JsonValueKind.Object, (await socket.ExpectAsync("pong")).ValueKind);
        }
    }
}
