using System.Collections.Concurrent;
using System.Text.Json;
using Apex.Contracts;
using Apex.Realtime.Broker;
using Xunit;

namespace Apex.Testing.Brokers;

/// <summary>
/// What every <see cref="IEventBroker"/> promises (docs/spec/realtime-protocol.md sections 1, 2 and
/// 4): numbering from 1 per user, one order for every subscriber under concurrent publishers,
/// isolation between users, resume inside and outside the replay window, a new epoch when history
/// is lost, unsubscribe, and the window's size and age limits. One class per broker inherits it and
/// says how to start that broker; a test that holds only for one broker stays in that broker's tests.
/// </summary>
public abstract class EventBrokerContract : IAsyncLifetime
{
    private readonly List<object> _owned = [];

    /// <summary>Starts a broker with this replay window; the contract disposes it at the end of the test.</summary>
    protected abstract Task<IEventBroker> CreateBrokerAsync(int historySize, int historyTtlSeconds);

    /// <summary>
    /// Makes <paramref name="by"/> pass on the clock the broker's window is measured with (a fake
    /// clock the test moves, or the backing store's real one).
    /// </summary>
    protected abstract Task PassTimeAsync(TimeSpan by);

    /// <summary>
    /// Loses every stream's history as a restart of the backing store does, and returns the broker
    /// to continue with (the same one, or a new one when the history lived in the broker's process).
    /// </summary>
    protected abstract Task<IEventBroker> LoseHistoryAsync(IEventBroker broker);

    /// <summary>The shortest replay age the broker is tested with; its clock passes beyond it in the TTL test.</summary>
    protected virtual int ShortTtlSeconds => 60;

    /// <summary>How many events the tests that publish continuously send; kept small where each costs a round trip.</summary>
    protected virtual int ManyEvents => 4_000;

    public Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (var owned in Enumerable.Reverse(_owned))
        {
            switch (owned)
            {
                case IAsyncDisposable a:
                    await a.DisposeAsync();
                    break;
                case IDisposable d:
                    d.Dispose();
                    break;
            }
        }
    }

    /// <summary>Disposes <paramref name="resource"/> when the test ends.</summary>
    protected T Own<T>(T resource)
        where T : class
    {
        _owned.Add(resource);
        return resource;
    }

    protected static string NewUser() => "usr_" + Guid.NewGuid().ToString("N")[..12];

    protected static EventEnvelope Event(string runId) => new()
    {
        Type = EventTypes.AgentThinking,
        RunId = runId,
        ThreadId = "thr_1",
        AgentName = "apex",
        Timestamp = DateTimeOffset.UtcNow,
        Payload = ApexJson.ToElement(new { reasoning = "step", step = 1 }),
    };

    private async Task<IEventBroker> BrokerAsync(int historySize = 1_000, int? ttlSeconds = null) =>
        Own(await CreateBrokerAsync(historySize, ttlSeconds ?? BrokerOptions.DefaultHistoryTtlSeconds));

    private async Task<(RecordingSubscriber Subscriber, IAsyncDisposable Handle)> SubscribeAsync(IEventBroker broker, string user, StreamPosition? from = null, int acceptUpTo = int.MaxValue)
    {
        var subscriber = new RecordingSubscriber { AcceptUpTo = acceptUpTo };
        var handle = Own(await broker.SubscribeAsync(user, from, subscriber, CancellationToken.None));
        return (subscriber, handle);
    }

    private static async Task PublishAsync(IEventBroker broker, string user, int count, string runId = "x")
    {
        for (var i = 0; i < count; i++)
        {
            await broker.PublishAsync(user, Event(runId), CancellationToken.None);
        }
    }

    private static IEnumerable<long> Range(long first, long count) => Enumerable.Range(0, (int)count).Select(i => first + i);

    [BrokerFact]
    public async Task Publishing_numbers_a_users_events_from_one_and_the_position_follows()
    {
        var broker = await BrokerAsync();
        var user = NewUser();
        var start = await broker.GetPositionAsync(user, CancellationToken.None);
        Assert.Equal(0, start.Seq);
        Assert.False(string.IsNullOrEmpty(start.Epoch));

        var seqs = new List<long>();
        for (var i = 0; i < 5; i++)
        {
            seqs.Add((await broker.PublishAsync(user, Event("r"), CancellationToken.None)).Seq!.Value);
        }

        Assert.Equal(Range(1, 5), seqs);
        Assert.Equal(new StreamPosition(start.Epoch, 5), await broker.GetPositionAsync(user, CancellationToken.None));

        var (sub, _) = await SubscribeAsync(broker, user);
        Assert.Equal(start.Epoch, sub.Start!.Epoch);
        Assert.Equal(5, sub.Start.LastSeq);
        Assert.Null(sub.Start.Resume);
        Assert.Empty(sub.Start.Replay);
    }

    [BrokerFact]
    public async Task Concurrent_publishers_get_strictly_increasing_seq_and_every_subscriber_sees_one_order()
    {
        var broker = await BrokerAsync(historySize: 10_000);
        var user = NewUser();
        var (first, _) = await SubscribeAsync(broker, user);
        var (second, _) = await SubscribeAsync(broker, user);

        const int publishers = 8;
        var perPublisher = ManyEvents / publishers;
        var total = publishers * perPublisher;
        var assigned = new ConcurrentBag<long>();
        await Task.WhenAll(Enumerable.Range(0, publishers).Select(p => Task.Run(async () =>
        {
            for (var i = 0; i < perPublisher; i++)
            {
                var published = await broker.PublishAsync(user, Event($"p{p}-{i}"), CancellationToken.None);
                assigned.Add(published.Seq!.Value);
            }
        })));

        await first.WaitForSeqAsync(total);
        await second.WaitForSeqAsync(total);
        Assert.Equal(Range(1, total), assigned.Order());
        Assert.Equal(Range(1, total), first.Seqs);
        Assert.Equal(first.Seqs, second.Seqs);

        // Each frame carries its own seq and the run that published it, in the same bytes for both.
        var frames = first.Events;
        for (var i = 0; i < total; i += 97)
        {
            using var doc = JsonDocument.Parse(frames[i].Utf8);
            Assert.Equal(i + 1, doc.RootElement.GetProperty("seq").GetInt64());
            Assert.Equal(frames[i].Utf8, second.Events[i].Utf8);
        }
    }

    [BrokerFact]
    public async Task Users_have_separate_numbering_subscribers_and_epochs()
    {
        var broker = await BrokerAsync();
        var (userA, userB) = (NewUser(), NewUser());
        var (a, _) = await SubscribeAsync(broker, userA);
        var (b, _) = await SubscribeAsync(broker, userB);
        await PublishAsync(broker, userA, 5, "a");
        await PublishAsync(broker, userB, 1, "b");
        await PublishAsync(broker, userA, 1, "a");

        await a.WaitForSeqAsync(6);
        await b.WaitForSeqAsync(1);
        Assert.Equal(Range(1, 6), a.Seqs);
        Assert.Equal([1L], b.Seqs);
        Assert.All(a.Events, e => Assert.Equal("a", JsonDocument.Parse(e.Utf8).RootElement.GetProperty("run_id").GetString()));
        Assert.All(b.Events, e => Assert.Equal("b", JsonDocument.Parse(e.Utf8).RootElement.GetProperty("run_id").GetString()));
        Assert.NotEqual(a.Start!.Epoch, b.Start!.Epoch);

        // A resume names a user's own stream only: B's position does not recover A's events.
        var (probe, _) = await SubscribeAsync(broker, userA, new StreamPosition(b.Start.Epoch, 0));
        Assert.False(probe.Start!.Resume!.Recovered);
        Assert.Equal(ResumeOutcome.EpochChanged, probe.Start.Resume.Reason);
    }

    [BrokerFact]
    public async Task Frame_is_the_protocol_envelope_in_utf8_json()
    {
        var broker = await BrokerAsync();
        var user = NewUser();
        var (sub, _) = await SubscribeAsync(broker, user);
        var envelope = new EventEnvelope
        {
            Type = EventTypes.ToolCompleted,
            RunId = "run_1",
            ThreadId = "thr_1",
            AgentName = "cost_analyst",
            Timestamp = new DateTimeOffset(2026, 11, 26, 10, 0, 1, 234, TimeSpan.Zero),
            Payload = ApexJson.ToElement(new { tool_call_id = "c1", ok = true, note = "é <b>" }),
        };
        var published = await broker.PublishAsync(user, envelope, CancellationToken.None);
        Assert.Equal(1, published.Seq);
        await sub.WaitForSeqAsync(1);

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

        // A replayed frame is the same bytes as the live one.
        var (resumed, _) = await SubscribeAsync(broker, user, new StreamPosition(sub.Start!.Epoch, 0));
        Assert.Equal(sub.Events[0].Utf8, Assert.Single(resumed.Start!.Replay).Utf8);
    }

    [BrokerFact]
    public async Task Resume_replays_exactly_the_missed_events_then_live_ones_while_publishing_continues()
    {
        var broker = await BrokerAsync(historySize: 100_000);
        var user = NewUser();
        var position = await broker.GetPositionAsync(user, CancellationToken.None);
        var total = ManyEvents;
        var publishing = Task.Run(async () =>
        {
            for (var i = 0; i < total; i++)
            {
                await broker.PublishAsync(user, Event("x"), CancellationToken.None);
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
            await using (await broker.SubscribeAsync(user, new StreamPosition(position.Epoch, lastSeq), sub, CancellationToken.None))
            {
                Assert.True(sub.Start!.Resume!.Recovered, sub.Start.Resume.Reason);
                Assert.Equal(sub.Start.Replay.Count, sub.Start.Resume.Replayed);
                Assert.Equal(lastSeq + 1, sub.Start.Resume.FromSeq);
                Assert.Equal(sub.Start.LastSeq, sub.Start.Resume.ToSeq);
                await sub.WaitForSeqAsync(Math.Min(sub.Start.LastSeq + 5, total));
            }

            var seen = sub.SeenSeqs;
            Assert.Equal(Range(lastSeq + 1, seen.Count), seen);
            lastSeq = seen.Count > 0 ? seen[seen.Count / 2] : lastSeq;
        }

        await publishing;
    }

    [BrokerFact]
    public async Task Resume_from_the_end_recovers_nothing_to_replay_and_goes_live()
    {
        var broker = await BrokerAsync();
        var user = NewUser();
        await PublishAsync(broker, user, 3);
        var position = await broker.GetPositionAsync(user, CancellationToken.None);

        var (sub, _) = await SubscribeAsync(broker, user, position);
        Assert.Equal(new ResumeOutcome(true, 4, 3, 0, null), sub.Start!.Resume);
        Assert.Empty(sub.Start.Replay);

        await PublishAsync(broker, user, 2);
        await sub.WaitForSeqAsync(5);
        Assert.Equal([4L, 5L], sub.Seqs);
    }

    [BrokerFact]
    public async Task Resume_outside_the_window_from_another_epoch_or_ahead_of_the_stream_is_not_recovered()
    {
        var broker = await BrokerAsync(historySize: 10);
        var user = NewUser();
        await PublishAsync(broker, user, 25);
        var position = await broker.GetPositionAsync(user, CancellationToken.None);
        Assert.Equal(25, position.Seq);

        var (tooOld, _) = await SubscribeAsync(broker, user, new StreamPosition(position.Epoch, 14));
        Assert.Equal(new ResumeOutcome(false, 15, 25, 0, ResumeOutcome.OutOfWindow), tooOld.Start!.Resume);
        Assert.Empty(tooOld.Start.Replay);

        var (edge, _) = await SubscribeAsync(broker, user, new StreamPosition(position.Epoch, 15));
        Assert.Equal(new ResumeOutcome(true, 16, 25, 10, null), edge.Start!.Resume);
        Assert.Equal(Range(16, 10), edge.Start.Replay.Select(e => e.Seq));

        var (otherEpoch, _) = await SubscribeAsync(broker, user, new StreamPosition("not-" + position.Epoch, 24));
        Assert.Equal(new ResumeOutcome(false, 25, 25, 0, ResumeOutcome.EpochChanged), otherEpoch.Start!.Resume);

        var (ahead, _) = await SubscribeAsync(broker, user, new StreamPosition(position.Epoch, 26));
        Assert.Equal(new ResumeOutcome(false, 27, 25, 0, ResumeOutcome.AheadOfStream), ahead.Start!.Resume);

        // Refused resumes still subscribe: the client reloads over REST and then receives live events.
        await PublishAsync(broker, user, 1);
        await tooOld.WaitForSeqAsync(26);
        await ahead.WaitForSeqAsync(26);
        Assert.Equal([26L], tooOld.Seqs);
    }

    [BrokerFact]
    public async Task Events_older_than_the_ttl_leave_the_window()
    {
        var broker = await BrokerAsync(historySize: 1_000, ttlSeconds: ShortTtlSeconds);
        var user = NewUser();
        await PublishAsync(broker, user, 1, "old");
        var position = await broker.GetPositionAsync(user, CancellationToken.None);
        await PassTimeAsync(TimeSpan.FromSeconds(ShortTtlSeconds * 1.5));
        await PublishAsync(broker, user, 1, "newer");

        var (fromZero, _) = await SubscribeAsync(broker, user, new StreamPosition(position.Epoch, 0));
        Assert.Equal(new ResumeOutcome(false, 1, 2, 0, ResumeOutcome.OutOfWindow), fromZero.Start!.Resume);

        var (fromOne, _) = await SubscribeAsync(broker, user, new StreamPosition(position.Epoch, 1));
        Assert.True(fromOne.Start!.Resume!.Recovered, fromOne.Start.Resume.Reason);
        Assert.Equal([2L], fromOne.Start.Replay.Select(e => e.Seq));
    }

    [BrokerFact]
    public async Task A_stream_whose_history_is_lost_gets_a_new_epoch_and_old_positions_are_not_recovered()
    {
        var broker = await BrokerAsync();
        var user = NewUser();
        await PublishAsync(broker, user, 3);
        var before = await broker.GetPositionAsync(user, CancellationToken.None);

        broker = await LoseHistoryAsync(broker);
        var (sub, _) = await SubscribeAsync(broker, user, before);
        Assert.NotEqual(before.Epoch, sub.Start!.Epoch);
        Assert.Equal(new ResumeOutcome(false, 4, 0, 0, ResumeOutcome.EpochChanged), sub.Start.Resume);
        Assert.Empty(sub.Start.Replay);

        // Numbering restarts in the new epoch, and the new subscription receives it live.
        var published = await broker.PublishAsync(user, Event("after"), CancellationToken.None);
        Assert.Equal(1, published.Seq);
        await sub.WaitForSeqAsync(1);
        Assert.Equal(new StreamPosition(sub.Start.Epoch, 1), await broker.GetPositionAsync(user, CancellationToken.None));
    }

    [BrokerFact]
    public async Task An_unsubscribed_subscriber_receives_nothing_more_and_the_others_keep_receiving()
    {
        var broker = await BrokerAsync();
        var user = NewUser();
        var (leaving, handle) = await SubscribeAsync(broker, user);
        var (staying, _) = await SubscribeAsync(broker, user);
        await PublishAsync(broker, user, 2);
        await leaving.WaitForSeqAsync(2);

        await handle.DisposeAsync();
        await PublishAsync(broker, user, 3);

        // Both are fed from one ordered delivery: once the staying one has seq 5, the leaving one
        // would have had it too.
        await staying.WaitForSeqAsync(5);
        Assert.Equal(Range(1, 5), staying.Seqs);
        Assert.Equal([1L, 2L], leaving.Seqs);

        // The last subscriber leaving ends nothing that a later one needs.
        var (later, _) = await SubscribeAsync(broker, user, new StreamPosition(staying.Start!.Epoch, 2));
        Assert.Equal(Range(3, 3), later.Start!.Replay.Select(e => e.Seq));
    }

    [BrokerFact]
    public async Task A_subscriber_that_refuses_an_event_is_dropped_and_others_keep_receiving()
    {
        var broker = await BrokerAsync();
        var user = NewUser();
        var (refusing, _) = await SubscribeAsync(broker, user, acceptUpTo: 2);
        var (healthy, _) = await SubscribeAsync(broker, user);
        await PublishAsync(broker, user, 5);

        await healthy.WaitForSeqAsync(5);
        Assert.Equal(Range(1, 5), healthy.Seqs);
        Assert.Equal(3, refusing.Offered);
        Assert.Equal([1L, 2L], refusing.Seqs);
    }
}
