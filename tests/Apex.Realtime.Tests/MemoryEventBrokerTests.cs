using Apex.Contracts;
using Apex.Realtime.Broker;
using Apex.Testing.Brokers;
using Microsoft.Extensions.Options;

namespace Apex.Realtime.Tests;

/// <summary>
/// What only the in-memory broker does; the behaviour every broker shares is in
/// <see cref="MemoryEventBrokerContractTests"/>.
/// </summary>
public sealed class MemoryEventBrokerTests
{
    [Fact(Timeout = 30_000)]
    public async Task One_serialisation_is_shared_by_every_subscriber_and_the_replay()
    {
        using var broker = CreateBroker();
        var first = new RecordingSubscriber();
        var second = new RecordingSubscriber();
        await using var s1 = await broker.SubscribeAsync("usr_a", null, first, CancellationToken.None);
        await using var s2 = await broker.SubscribeAsync("usr_a", null, second, CancellationToken.None);
        for (var i = 0; i < 3; i++)
        {
            await broker.PublishAsync("usr_a", Event("x"), CancellationToken.None);
        }

        var resumed = new RecordingSubscriber();
        await using var s3 = await broker.SubscribeAsync("usr_a", new StreamPosition(first.Start!.Epoch, 0), resumed, CancellationToken.None);
        Assert.Same(first.Events[1].Utf8, second.Events[1].Utf8);
        Assert.Same(first.Events[1].Utf8, resumed.Start!.Replay[1].Utf8);
    }

    [Fact(Timeout = 30_000)]
    public async Task Idle_streams_without_subscribers_are_evicted_and_come_back_with_a_new_epoch()
    {
        var time = new ManualTime();
        using var broker = CreateBroker(ttlSeconds: 60, time: time);
        await broker.PublishAsync("usr_a", Event("x"), CancellationToken.None);
        var before = await broker.GetPositionAsync("usr_a", CancellationToken.None);
        var listener = new RecordingSubscriber();
        var kept = await broker.SubscribeAsync("usr_b", null, listener, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(61));
        broker.EvictIdleStreams();
        Assert.Equal(1, broker.StreamCount);

        var after = await broker.GetPositionAsync("usr_a", CancellationToken.None);
        Assert.NotEqual(before.Epoch, after.Epoch);
        Assert.Equal(0, after.Seq);
        await kept.DisposeAsync();
    }

    private static MemoryEventBroker CreateBroker(int historySize = 1000, int ttlSeconds = 600, TimeProvider? time = null) =>
        new(Options.Create(new BrokerOptions { HistorySize = historySize, HistoryTtlSeconds = ttlSeconds }), time ?? TimeProvider.System);

    private static EventEnvelope Event(string runId) => new()
    {
        Type = EventTypes.AgentThinking,
        RunId = runId,
        ThreadId = "thr_1",
        AgentName = "apex",
        Timestamp = DateTimeOffset.UtcNow,
        Payload = ApexJson.ToElement(new { reasoning = "step", step = 1 }),
    };
}
