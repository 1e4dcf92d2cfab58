using System.Text.Json;
using Apex.Contracts;
using Apex.Realtime.Broker;
using Apex.Redis;
using Apex.Testing.Brokers;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Apex.Scale.Tests;

/// <summary>
/// The Redis broker's shard fan-out with two brokers on one Redis (two nodes): a user with
/// subscribers on both nodes, many users sharing one shard channel, a join on a node while another
/// publishes, and the bound on a node's Redis subscriptions. Keys and channels live under a prefix of
/// this test alone.
/// </summary>
public sealed class RedisFanOutTests : IAsyncLifetime
{
    private readonly string _prefix = $"apex-test-{Guid.NewGuid():N}:";
    private readonly List<RedisConnection> _connections = [];
    private readonly List<IAsyncDisposable> _owned = [];

    public static string? SkipReason => RedisEventBrokerContractTests.SkipReason;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            await owned.DisposeAsync();
        }

        await using (var admin = await ConnectionMultiplexer.ConnectAsync(TestCluster.RedisConfiguration! + ",allowAdmin=true"))
        {
            var keys = new List<RedisKey>();
            await foreach (var key in admin.GetServers()[0].KeysAsync(pattern: _prefix + "*"))
            {
                keys.Add(key);
            }

            if (keys.Count > 0)
            {
                await admin.GetDatabase().KeyDeleteAsync([.. keys]);
            }
        }

        foreach (var connection in _connections)
        {
            connection.Dispose();
        }
    }

    [BrokerFact]
    public async Task A_user_with_subscribers_on_two_nodes_sees_one_order_on_both_while_both_nodes_publish()
    {
        var (a, b) = (Node(), Node());
        var user = NewUser();
        var onA = await SubscribeAsync(a, user);
        var onB = await SubscribeAsync(b, user);

        const int perNode = 300;
        await Task.WhenAll(PublishAsync(a, user, perNode, "a"), PublishAsync(b, user, perNode, "b"));

        await onA.WaitForSeqAsync(2 * perNode);
        await onB.WaitForSeqAsync(2 * perNode);
        Assert.Equal(Enumerable.Range(1, 2 * perNode).Select(i => (long)i), onA.Seqs);
        Assert.Equal(onA.Seqs, onB.Seqs);
        Assert.Equal(onA.Events.Select(e => Convert.ToBase64String(e.Utf8)), onB.Events.Select(e => Convert.ToBase64String(e.Utf8)));
        Assert.Equal(perNode, onA.Events.Count(e => RunId(e) == "a"));
        Assert.Null(onA.LostReason);
        Assert.Null(onB.LostReason);
    }

    [BrokerFact]
    public async Task Many_users_of_one_shard_each_get_exactly_their_own_events_in_order()
    {
        var (a, b) = (Node(), Node());
        var users = UsersOfOneShard(41);
        var subscribed = users[..40];
        var onB = new Dictionary<string, RecordingSubscriber>();
        var onA = new Dictionary<string, RecordingSubscriber>();
        foreach (var user in subscribed)
        {
            onB[user] = await SubscribeAsync(b, user);
        }

        foreach (var user in subscribed[..20])
        {
            onA[user] = await SubscribeAsync(a, user);
        }

        // Every user's events from node A at once (the last user has no subscriber anywhere), each
        // user's in series, as a run publishes them.
        const int perUser = 50;
        await Task.WhenAll(users.Select(u => PublishAsync(a, u, perUser, u)));

        foreach (var (user, subscriber) in onB.Concat(onA))
        {
            await subscriber.WaitForSeqAsync(perUser);
            Assert.Equal(Enumerable.Range(1, perUser).Select(i => (long)i), subscriber.Seqs);
            Assert.All(subscriber.Events, e => Assert.Equal(user, RunId(e)));
            Assert.Null(subscriber.LostReason);
        }

        Assert.Equal(perUser, (await b.GetPositionAsync(users[^1], CancellationToken.None)).Seq);
    }

    [BrokerFact]
    public async Task A_join_on_one_node_while_another_publishes_continues_from_its_start_without_gap_or_duplicate()
    {
        var publisher = Node();
        var user = NewUser();
        const int total = 400;
        var publishing = PublishAsync(publisher, user, total, "x");

        // A fresh node: its shard subscription is made by this join, while events keep coming.
        var joiner = Node();
        var position = await publisher.GetPositionAsync(user, CancellationToken.None);
        while (position.Seq < 20)
        {
            position = await publisher.GetPositionAsync(user, CancellationToken.None);
        }

        var subscriber = await SubscribeAsync(joiner, user);
        await publishing;
        await subscriber.WaitForSeqAsync(total);

        var start = subscriber.Start!.LastSeq;
        Assert.True(start >= 20, $"joined at {start}");
        Assert.Equal(Enumerable.Range((int)start + 1, total - (int)start).Select(i => (long)i), subscriber.Seqs);
    }

    [BrokerFact]
    public async Task A_node_holds_one_redis_subscription_per_shard_whatever_its_number_of_users()
    {
        var node = Node();
        for (var i = 0; i < 200; i++)
        {
            await SubscribeAsync(node, NewUser());
        }

        await using var admin = await ConnectionMultiplexer.ConnectAsync(TestCluster.RedisConfiguration!);
        var channels = await admin.GetServers()[0].SubscriptionChannelsAsync(RedisChannel.Pattern(_prefix + "*"));
        Assert.InRange(channels.Length, 1, RedisEventBroker.ShardCount);
        Assert.All(channels, c => Assert.StartsWith(_prefix + "b:", c.ToString(), StringComparison.Ordinal));
    }

    [BrokerFact]
    public async Task Foreign_messages_on_a_shard_channel_are_dropped_and_the_shard_keeps_delivering()
    {
        var node = Node();
        var user = NewUser();
        var subscriber = await SubscribeAsync(node, user);
        await using (var admin = await ConnectionMultiplexer.ConnectAsync(TestCluster.RedisConfiguration!))
        {
            // The stream's real epoch and next seq: only the envelope is wrong.
            var epoch = subscriber.Start!.Epoch;
            var shard = RedisChannel.Literal($"{_prefix}b:{RedisEventBroker.ShardOf(user)}");
            var head = $"{user.Length}:{user}{epoch}|1|1|";
            foreach (var junk in new[]
            {
                "no user", "999:" + user, $"{user.Length}:{user}", $"{user.Length}:{user}{epoch}|1|not an envelope",
                head, head + "16:not an envelope", head + "10:{\"type\":\"x", head + "99:{\"type\":\"x\"}",
                $"{user.Length}:{user}{epoch}|x|1|2:{{}}", $"{user.Length}:{user}{epoch}|1|0|", $"{user.Length}:{user}{epoch}|0|1|12:{{\"type\":\"x\"}}",
            })
            {
                await admin.GetSubscriber().PublishAsync(shard, junk);
            }
        }

        await PublishAsync(node, user, 2, "x");
        await subscriber.WaitForSeqAsync(2);
        Assert.Equal([1L, 2L], subscriber.Seqs);
        Assert.Null(subscriber.LostReason);
    }

    [BrokerFact]
    public async Task Every_key_of_a_stream_expires_after_publishes_and_after_its_history_was_lost()
    {
        var node = Node();
        var user = NewUser();
        await PublishAsync(node, user, 3, "x");
        await using var admin = await ConnectionMultiplexer.ConnectAsync(TestCluster.RedisConfiguration!);
        var db = admin.GetDatabase();
        RedisKey[] keys = [$"{_prefix}s:{{{user}}}:e", $"{_prefix}s:{{{user}}}:q", $"{_prefix}s:{{{user}}}:x"];
        foreach (var key in keys)
        {
            Assert.True(await db.KeyTimeToLiveAsync(key) is { TotalSeconds: > 86_400 }, $"{key} has no expiry");
        }

        // The stream's keys gone (as after a Redis restart): the next publish starts a new history
        // whose keys expire too.
        await db.KeyDeleteAsync(keys);
        await PublishAsync(node, user, 1, "x");
        foreach (var key in keys)
        {
            Assert.True(await db.KeyTimeToLiveAsync(key) is { TotalSeconds: > 86_400 }, $"{key} has no expiry");
        }
    }

    private RedisEventBroker Node()
    {
        var connection = new RedisConnection(
            Options.Create(new RedisOptions { Configuration = TestCluster.RedisConfiguration, KeyPrefix = _prefix, OperationTimeoutMs = 10_000 }),
            NullLogger<RedisConnection>.Instance);
        _connections.Add(connection);
        var broker = new RedisEventBroker(connection,
            Options.Create(new BrokerOptions { HistorySize = 1_000, HistoryTtlSeconds = BrokerOptions.DefaultHistoryTtlSeconds }),
            NullLogger<RedisEventBroker>.Instance);
        _owned.Add(broker);
        return broker;
    }

    private async Task<RecordingSubscriber> SubscribeAsync(RedisEventBroker broker, string user)
    {
        var subscriber = new RecordingSubscriber();
        _owned.Add(await broker.SubscribeAsync(user, null, subscriber, CancellationToken.None));
        return subscriber;
    }

    private static async Task PublishAsync(RedisEventBroker broker, string user, int count, string runId)
    {
        for (var i = 0; i < count; i++)
        {
            await broker.PublishAsync(user, new EventEnvelope
            {
                Type = EventTypes.AgentThinking,
                RunId = runId,
                ThreadId = "thr_1",
                AgentName = "apex",
                Timestamp = DateTimeOffset.UtcNow,
                Payload = ApexJson.ToElement(new { reasoning = "step", step = i }),
            }, CancellationToken.None);
        }
    }

    private static string NewUser() => "usr_" + Guid.NewGuid().ToString("N")[..12];

    private static string[] UsersOfOneShard(int count)
    {
        var first = NewUser();
        var shard = RedisEventBroker.ShardOf(first);
        var users = new List<string> { first };
        while (users.Count < count)
        {
            var user = NewUser();
            if (RedisEventBroker.ShardOf(user) == shard)
            {
                users.Add(user);
            }
        }

        return [.. users];
    }

    private static string? RunId(StreamEvent e)
    {
        using var doc = JsonDocument.Parse(e.Utf8);
        return doc.RootElement.GetProperty("run_id").GetString();
    }
}
