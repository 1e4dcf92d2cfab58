using System.Text;
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
/// The Redis broker's publish batches (the events of a shard that wait together go out in one script
/// call and one shard message): many users' events published at once keep each user's order and stay
/// with their user on every node, a message with several users' parts reaches each user, a stream
/// Redis refuses fails only its own publishes, and a batch Redis cannot take fails every caller with
/// the broker's error. Keys and channels live under a prefix of this test alone.
/// </summary>
public sealed class RedisPublishBatchTests : IAsyncLifetime
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
    public async Task Events_of_many_users_published_at_once_keep_each_users_order_and_stay_with_their_user_on_both_nodes()
    {
        var (a, b) = (Node(), Node());
        // One shard: all of them share its queue and its batches.
        var users = UsersOfOneShard(30);
        var onB = new Dictionary<string, RecordingSubscriber>();
        var onA = new Dictionary<string, RecordingSubscriber>();
        foreach (var user in users)
        {
            onB[user] = await SubscribeAsync(b, user);
        }

        foreach (var user in users[..10])
        {
            onA[user] = await SubscribeAsync(a, user);
        }

        // Every publish started before any is awaited, step by step across the users: each user's
        // events are spread over the queue between the others'.
        const int perUser = 20;
        var published = users.ToDictionary(u => u, _ => new List<Task<EventEnvelope>>());
        for (var step = 0; step < perUser; step++)
        {
            foreach (var user in users)
            {
                published[user].Add(a.PublishAsync(user, Event(user, step), CancellationToken.None).AsTask());
            }
        }

        await Task.WhenAll(published.Values.SelectMany(t => t));
        foreach (var user in users)
        {
            // The seq follows the order the publishes were made in.
            Assert.Equal(Enumerable.Range(1, perUser).Select(i => (long?)i), published[user].Select(t => t.Result.Seq));
        }

        foreach (var (user, subscriber) in onB.Concat(onA))
        {
            await subscriber.WaitForSeqAsync(perUser);
            Assert.Equal(Enumerable.Range(1, perUser).Select(i => (long)i), subscriber.Seqs);
            Assert.All(subscriber.Events, e => Assert.Equal(user, RunId(e)));
            Assert.Equal(Enumerable.Range(0, perUser), subscriber.Events.Select(Step));
            Assert.Null(subscriber.LostReason);
        }
    }

    [BrokerFact]
    public async Task A_shard_message_with_several_users_parts_gives_each_part_to_its_own_user_only()
    {
        var node = Node();
        var users = UsersOfOneShard(3);
        var (x, y, elsewhere) = (users[0], users[1], users[2]);
        var onX = await SubscribeAsync(node, x);
        var onY = await SubscribeAsync(node, y);

        // One message as a batch of x (two events), a user with no subscriber here, and y (one event).
        static string Part(string user, string epoch, params string[] bodies) =>
            $"{Encoding.UTF8.GetByteCount(user)}:{user}{epoch}|1|{bodies.Length}|" + string.Concat(bodies.Select(b => $"{Encoding.UTF8.GetByteCount(b)}:{b}"));
        var message = Part(x, onX.Start!.Epoch, Body("x0"), Body("x1"))
            + Part(elsewhere, "someepoch", Body("e0"))
            + Part(y, onY.Start!.Epoch, Body("y0"));
        await using (var admin = await ConnectionMultiplexer.ConnectAsync(TestCluster.RedisConfiguration!))
        {
            await admin.GetSubscriber().PublishAsync(RedisChannel.Literal($"{_prefix}b:{RedisEventBroker.ShardOf(x)}"), message);
        }

        await onX.WaitForSeqAsync(2);
        await onY.WaitForSeqAsync(1);
        Assert.Equal([1L, 2L], onX.Seqs);
        Assert.Equal(["x0", "x1"], onX.Events.Select(RunId));
        Assert.Equal([1L], onY.Seqs);
        Assert.Equal(["y0"], onY.Events.Select(RunId));

        // The frames are the envelope with its seq, as for events the broker published itself.
        using var frame = JsonDocument.Parse(onX.Events[1].Utf8);
        Assert.Equal(2, frame.RootElement.GetProperty("seq").GetInt64());
    }

    [BrokerFact]
    public async Task A_stream_redis_refuses_fails_only_its_own_publishes_and_then_restarts_with_a_new_epoch()
    {
        var node = Node();
        var users = UsersOfOneShard(2);
        var (bad, good) = (users[0], users[1]);
        var onGood = await SubscribeAsync(node, good);
        await using (var admin = await ConnectionMultiplexer.ConnectAsync(TestCluster.RedisConfiguration!))
        {
            // A seq key that is not a number: Redis refuses to count on it.
            await admin.GetDatabase().StringSetAsync($"{_prefix}s:{{{bad}}}:e", "oldepoch");
            await admin.GetDatabase().StringSetAsync($"{_prefix}s:{{{bad}}}:q", "not a number");
        }

        var badPublishes = new List<Task<EventEnvelope>>();
        var goodPublishes = new List<Task<EventEnvelope>>();
        for (var step = 0; step < 5; step++)
        {
            badPublishes.Add(node.PublishAsync(bad, Event(bad, step), CancellationToken.None).AsTask());
            goodPublishes.Add(node.PublishAsync(good, Event(good, step), CancellationToken.None).AsTask());
        }

        foreach (var publish in badPublishes)
        {
            var error = await Assert.ThrowsAsync<BrokerUnavailableException>(() => publish);
            Assert.Equal("The event broker (Redis) did not answer.", error.Message);
        }

        Assert.Equal([1L, 2L, 3L, 4L, 5L], (await Task.WhenAll(goodPublishes)).Select(e => e.Seq!.Value));
        await onGood.WaitForSeqAsync(5);
        Assert.Equal([1L, 2L, 3L, 4L, 5L], onGood.Seqs);
        Assert.All(onGood.Events, e => Assert.Equal(good, RunId(e)));
        Assert.Null(onGood.LostReason);

        // The failed stream starts over: a new epoch, numbered from 1.
        var next = await node.PublishAsync(bad, Event(bad, 5), CancellationToken.None);
        Assert.Equal(1, next.Seq);
        var position = await node.GetPositionAsync(bad, CancellationToken.None);
        Assert.NotEqual("oldepoch", position.Epoch);
        Assert.Equal(1, position.Seq);
    }

    [BrokerFact]
    public async Task When_redis_cannot_be_reached_every_publish_of_a_batch_fails_with_the_broker_error()
    {
        // Nothing listens on port 1: the connection never comes up, and commands fail at once.
        var node = Node("127.0.0.1:1,connectTimeout=500");
        var users = UsersOfOneShard(10);
        var publishes = users.SelectMany(u => Enumerable.Range(0, 3).Select(step => node.PublishAsync(u, Event(u, step), CancellationToken.None).AsTask())).ToList();
        foreach (var publish in publishes)
        {
            await Assert.ThrowsAsync<BrokerUnavailableException>(() => publish);
        }
    }

    private RedisEventBroker Node(string? configuration = null)
    {
        var connection = new RedisConnection(
            Options.Create(new RedisOptions { Configuration = configuration ?? TestCluster.RedisConfiguration, KeyPrefix = _prefix, OperationTimeoutMs = 10_000 }),
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

    private static EventEnvelope Event(string runId, int step) => new()
    {
        Type = EventTypes.AgentThinking,
        RunId = runId,
        ThreadId = "thr_1",
        AgentName = "apex",
        Timestamp = DateTimeOffset.UtcNow,
        Payload = ApexJson.ToElement(new { reasoning = "step", step }),
    };

    /// <summary>A stored body (the envelope without its seq), as the publish script receives it.</summary>
    private static string Body(string runId) => Encoding.UTF8.GetString(EnvelopeSerializer.Serialize(Event(runId, 0), seq: null));

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

    private static int Step(StreamEvent e)
    {
        using var doc = JsonDocument.Parse(e.Utf8);
        return doc.RootElement.GetProperty("payload").GetProperty("step").GetInt32();
    }
}
