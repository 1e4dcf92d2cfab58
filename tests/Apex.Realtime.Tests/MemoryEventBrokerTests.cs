using System.Collections.Concurrent;
using System.Text.Json;
using Apex.Contracts;
using Apex.Realtime.Broker;
using Microsoft.Extensions.Options;

namespace Apex.Realtime.Tests;

public sealed class MemoryEventBrokerTests
{
    [Fact(Timeout = 30_000)]
    public async Task Concurrent_publishers_get_strictly_increasing_seq_and_every_subscriber_sees_one_order()
    {
        using var broker = CreateBroker(historySize: 10_000);
        var first = new RecordingSubscriber();
        var second = new RecordingSubscriber();
        await using var s1 = await broker.SubscribeAsync("usr_a", null, first, CancellationToken.None);
        await using var s2 = await broker.SubscribeAsync("usr_a", null, second, CancellationToken.None);

        const int publishers = 8;
        const int perPublisher = 500;
        var assigned = new ConcurrentBag<long>();
        await Task.WhenAll(Enumerable.Range(0, publishers).Select(p => Task.Run(async () =>
        {
            for (var i = 0; i < perPublisher; i++)
            {
                var published = await broker.PublishAsync("usr_a", Event($"p{p}-{i}"), CancellationToken.None);
                assigned.Add(published.Seq!.Value);
            }
        })));

        Assert.Equal(Enumerable.Range(1, publishers * perPublisher).Select(i => (long)i), assigned.Order());
        Assert.Equal(Enumerable.Range(1, publishers * perPublisher).Select(i => (long)i), first.Seqs);
        Assert.Equal(first.Seqs, second.Seqs);
        // One serialisation shared by both subscribers.
        Assert.Same(first.Events[42].Utf8, second.Events[42].Utf8);
        Assert.Equal(first.Start!.Epoch, (await broker.GetPositionAsync("usr_a", CancellationToken.None)).Epoch);
    }

    [Fact(Timeout = 30_000)]
    public async Task Users_have_separate_numbering_and_separate_subscribers()
    {
        using var broker = CreateBroker();
        var a = new RecordingSubscriber();
        var b = new RecordingSubscriber();
        await using var sa = await broker.SubscribeAsync("usr_a", null, a, CancellationToken.None);
        await using var sb = await broker.SubscribeAsync("usr_b", null, b, CancellationToken.None);
        for (var i = 0; i < 5; i++)
        {
            await broker.PublishAsync("usr_a", Event("a"), CancellationToken.None);
        }

        await broker.PublishAsync("usr_b", Event("b"), CancellationToken.None);
        Assert.Equal([1, 2, 3, 4, 5], a.Seqs);
        Assert.Equal([1], b.Seqs);
        Assert.All(b.Events, e => Assert.Equal("b", JsonDocument.Parse(e.Utf8).RootElement.GetProperty("run_id").GetString()));
        Assert.NotEqual(a.Start!.Epoch, b.Start!.Epoch);
    }

    [Fact(Timeout = 30_000)]
    public async Task Frame_is_the_protocol_envelope_in_utf8_json()
    {
        using var broker = CreateBroker();
        var sub = new RecordingSubscriber();
        await using var s = await broker.SubscribeAsync("usr_a", null, sub, CancellationToken.None);
        var envelope = new EventEnvelope
        {
            Type = EventTypes.ToolCompleted,
            RunId = "run_1",
            ThreadId = "thr_1",
            AgentName = "cost_analyst",
            Timestamp = new DateTimeOffset(2026, 11, 26, 10, 0, 1, 234, TimeSpan.Zero),
            Payload = ApexJson.ToElement(new { tool_call_id = "c1", ok = true, note = "é <b>" }),
        };
        await broker.PublishAsync("usr_a", envelope, CancellationToken.None);

        using var doc = JsonDocument.Parse(sub.Events.Single().Utf8);
        var root = doc.RootElement;
        Assert.Equal("tool_completed", root.GetProperty("type").GetString());
        Assert.Equal(1, root.GetProperty("seq").GetInt64());
        Assert.Equal("run_1", root.GetProperty("run_id").GetString());
        Assert.Equal("thr_1", root.GetProperty("thread_id").GetString());
        Assert.Equal("cost_analyst", root.GetProperty("agent_name").GetString());
        Assert.Equal("2026-11-26T10:00:01.234Z", root.GetProperty("timestamp").GetString());
        Assert.Equal("c1", root.GetProperty("payload").GetProperty("tool_call_id").GetString());
        Assert.Equal("é <b>", root.GetProperty("payload").GetProperty("note").GetString());
    }

    [Fact(Timeout = 30_000)]
    public async Task Resume_replays_exactly_the_missed_events_then_live_ones_while_publishing_continues()
    {
        using var broker = CreateBroker(historySize: 100_000);
        var position = await broker.GetPositionAsync("usr_a", CancellationToken.None);
        using var stop = new CancellationTokenSource();
        var publishing = Task.Run(async () =>
        {
            // Bounded so the whole run stays inside the replay window.
            for (var i = 0; i < 90_000 && !stop.IsCancellationRequested; i++)
            {
                await broker.PublishAsync("usr_a", Event("x"), CancellationToken.None);
                if (i % 64 == 0)
                {
                    await Task.Yield();
                }
            }
        });

        // Resume from many positions while the publisher keeps going: each subscription must see
        // last_seq+1, last_seq+2, ... with no gap and no duplicate across replay and live.
        var lastSeq = 0L;
        for (var round = 0; round < 20; round++)
        {
            var sub = new RecordingSubscriber();
            await using (await broker.SubscribeAsync("usr_a", new StreamPosition(position.Epoch, lastSeq), sub, CancellationToken.None))
            {
                await Task.Delay(5);
            }

            Assert.True(sub.Start!.Resume!.Recovered);
            Assert.Equal(sub.Start.Replay.Count, sub.Start.Resume.Replayed);
            var seen = sub.Start.Replay.Select(e => e.Seq).Concat(sub.Seqs).ToList();
            Assert.Equal(Enumerable.Range(0, seen.Count).Select(i => lastSeq + 1 + i), seen);
            lastSeq = seen.Count > 0 ? seen[seen.Count / 2] : lastSeq;
        }

        await stop.CancelAsync();
        await publishing;
    }

    [Fact(Timeout = 30_000)]
    public async Task Resume_outside_the_window_or_from_another_epoch_is_not_recovered()
    {
        using var broker = CreateBroker(historySize: 10);
        for (var i = 0; i < 25; i++)
        {
            await broker.PublishAsync("usr_a", Event("x"), CancellationToken.None);
        }

        var position = await broker.GetPositionAsync("usr_a", CancellationToken.None);
        Assert.Equal(25, position.Seq);

        var tooOld = new RecordingSubscriber();
        await using (await broker.SubscribeAsync("usr_a", new StreamPosition(position.Epoch, 14), tooOld, CancellationToken.None))
        {
            Assert.False(tooOld.Start!.Resume!.Recovered);
            Assert.Equal(ResumeOutcome.OutOfWindow, tooOld.Start.Resume.Reason);
            Assert.Empty(tooOld.Start.Replay);
        }

        var edge = new RecordingSubscriber();
        await using (await broker.SubscribeAsync("usr_a", new StreamPosition(position.Epoch, 15), edge, CancellationToken.None))
        {
            Assert.True(edge.Start!.Resume!.Recovered);
            Assert.Equal(Enumerable.Range(16, 10).Select(i => (long)i), edge.Start.Replay.Select(e => e.Seq));
        }

        var otherEpoch = new RecordingSubscriber();
        await using (await broker.SubscribeAsync("usr_a", new StreamPosition("not-" + position.Epoch, 24), otherEpoch, CancellationToken.None))
        {
            Assert.False(otherEpoch.Start!.Resume!.Recovered);
            Assert.Equal(ResumeOutcome.EpochChanged, otherEpoch.Start.Resume.Reason);
        }

        var ahead = new RecordingSubscriber();
        await using (await broker.SubscribeAsync("usr_a", new StreamPosition(position.Epoch, 26), ahead, CancellationToken.None))
        {
            Assert.False(ahead.Start!.Resume!.Recovered);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Events_older_than_the_ttl_leave_the_window_and_a_new_broker_has_a_new_epoch()
    {
        var time = new ManualTime();
        using var broker = CreateBroker(historySize: 1000, ttlSeconds: 60, time: time);
        await broker.PublishAsync("usr_a", Event("old"), CancellationToken.None);
        var position = await broker.GetPositionAsync("usr_a", CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(30));
        await broker.PublishAsync("usr_a", Event("newer"), CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(31));

        var fromZero = new RecordingSubscriber();
        await using (await broker.SubscribeAsync("usr_a", new StreamPosition(position.Epoch, 0), fromZero, CancellationToken.None))
        {
            Assert.False(fromZero.Start!.Resume!.Recovered);
        }

        var fromOne = new RecordingSubscriber();
        await using (await broker.SubscribeAsync("usr_a", new StreamPosition(position.Epoch, 1), fromOne, CancellationToken.None))
        {
            Assert.True(fromOne.Start!.Resume!.Recovered);
            Assert.Equal([2L], fromOne.Start.Replay.Select(e => e.Seq));
        }

        using var restarted = CreateBroker();
        var afterRestart = new RecordingSubscriber();
        await using (await restarted.SubscribeAsync("usr_a", new StreamPosition(position.Epoch, 2), afterRestart, CancellationToken.None))
        {
            Assert.False(afterRestart.Start!.Resume!.Recovered);
            Assert.Equal(ResumeOutcome.EpochChanged, afterRestart.Start.Resume.Reason);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task A_subscriber_that_refuses_an_event_is_dropped_and_others_keep_receiving()
    {
        using var broker = CreateBroker();
        var refusing = new RecordingSubscriber { AcceptUpTo = 2 };
        var healthy = new RecordingSubscriber();
        await using var s1 = await broker.SubscribeAsync("usr_a", null, refusing, CancellationToken.None);
        await using var s2 = await broker.SubscribeAsync("usr_a", null, healthy, CancellationToken.None);
        for (var i = 0; i < 5; i++)
        {
            await broker.PublishAsync("usr_a", Event("x"), CancellationToken.None);
        }

        Assert.Equal(3, refusing.Offered);
        Assert.Equal([1, 2, 3, 4, 5], healthy.Seqs);
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

    private sealed class RecordingSubscriber : IStreamSubscriber
    {
        private readonly Lock _gate = new();

        public SubscriptionStart? Start { get; private set; }
        public List<StreamEvent> Events { get; } = [];
        public int AcceptUpTo { get; init; } = int.MaxValue;
        public int Offered { get; private set; }

        public List<long> Seqs
        {
            get
            {
                lock (_gate)
                {
                    return Events.Select(e => e.Seq).ToList();
                }
            }
        }

        public void OnSubscribed(SubscriptionStart start) => Start = start;

        public bool OnEvent(StreamEvent streamEvent)
        {
            lock (_gate)
            {
                Offered++;
                if (Events.Count >= AcceptUpTo)
                {
                    return false;
                }

                Events.Add(streamEvent);
                return true;
            }
        }
    }

    /// <summary>A clock the test moves by hand; timers never fire on their own.</summary>
    private sealed class ManualTime : TimeProvider
    {
        private long _ticks = 1_000_000_000;

        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);

        public override long GetTimestamp() => Interlocked.Read(ref _ticks);

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;
    }
}
