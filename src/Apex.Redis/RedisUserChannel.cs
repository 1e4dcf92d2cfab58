using Apex.Realtime;
using Apex.Realtime.Broker;
using StreamPosition = Apex.Realtime.Broker.StreamPosition;

namespace Apex.Redis;

/// <summary>
/// This node's view of one user's stream. Every change (a message, a join, a catch-up, a leave)
/// runs under <see cref="_work"/>, so local subscribers receive events one at a time in seq order
/// and a join never falls between the replay and the live events. Live events come from the
/// broker's shard subscription (<see cref="RedisEventBroker.EnsureShardAsync"/>), which hands this
/// user's events to <see cref="OnEventsAsync"/> in the order Redis published them.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable", Justification = "A forgotten channel may still have callers inside its gate; SemaphoreSlim holds nothing to release unless AvailableWaitHandle is used, which it never is here.")]
internal sealed class RedisUserChannel(RedisEventBroker broker, string userId)
{
    private readonly SemaphoreSlim _work = new(1, 1);
    private readonly List<Member> _members = [];
    private bool _live;
    private string? _epoch;
    private long _last;
    private bool _closed;

    public string? Epoch => Volatile.Read(ref _epoch);

    public sealed class Member(IStreamSubscriber subscriber)
    {
        public IStreamSubscriber Subscriber { get; } = subscriber;
    }

    public async Task<Member?> JoinAsync(IStreamSubscriber subscriber, StreamPosition? resumeFrom, CancellationToken ct)
    {
        await _work.WaitAsync(ct);
        try
        {
            if (_closed)
            {
                return null;
            }

            if (!_live)
            {
                try
                {
                    // Subscribe first: whatever is published from now on reaches this channel (it is
                    // already in the broker's map) and waits for _work, so the read below and the live
                    // messages overlap, never gap. A message handled before this join took _work was
                    // published before the read, which therefore includes it.
                    await broker.EnsureShardAsync(userId).WaitAsync(ct);
                    var start = await broker.ReadAsync(userId, long.MaxValue, ct);
                    _epoch = start.Epoch;
                    _last = start.Seq;
                    _live = true;
                }
                catch
                {
                    CloseCore();
                    throw;
                }
            }
            else
            {
                // Messages may still be in flight to this node: bring the channel up to Redis's
                // position so a resume from a seq another node already delivered is not "ahead".
                await CatchUpCoreAsync(ct);
            }

            ResumeOutcome? outcome = null;
            IReadOnlyList<StreamEvent> replay = [];
            if (resumeFrom is not null)
            {
                (outcome, replay) = await ResumeAsync(resumeFrom, ct);
                (outcome.Recovered ? RealtimeMetrics.ReplayHits : RealtimeMetrics.ReplayMisses).Inc();
            }

            var member = new Member(subscriber);
            subscriber.OnSubscribed(new SubscriptionStart(_epoch!, _last, outcome, replay));
            lock (_members)
            {
                _members.Add(member);
            }

            return member;
        }
        finally
        {
            _work.Release();
        }
    }

    public async ValueTask LeaveAsync(Member member)
    {
        await _work.WaitAsync();
        try
        {
            bool empty;
            lock (_members)
            {
                _members.Remove(member);
                empty = _members.Count == 0;
            }

            if (empty && !_closed)
            {
                broker.Forget(userId, this);
                CloseCore();
            }
        }
        finally
        {
            _work.Release();
        }
    }

    public async Task CloseAsync()
    {
        await _work.WaitAsync();
        try
        {
            CloseCore();
        }
        finally
        {
            _work.Release();
        }
    }

    public async Task LoseAllAsync(string reason)
    {
        await _work.WaitAsync();
        try
        {
            LoseAll(reason);
        }
        finally
        {
            _work.Release();
        }
    }

    public async Task CatchUpSafeAsync()
    {
        try
        {
            await _work.WaitAsync();
            try
            {
                if (!_closed && _live)
                {
                    await CatchUpCoreAsync(CancellationToken.None);
                }
            }
            finally
            {
                _work.Release();
            }
        }
        catch (Exception ex) when (RedisEventBroker.IsRedisFailure(ex))
        {
            LoseAll("event broker unavailable");
        }
    }

    private async Task<(ResumeOutcome, IReadOnlyList<StreamEvent>)> ResumeAsync(StreamPosition from, CancellationToken ct)
    {
        var plan = StreamRecovery.Plan(_epoch!, _last, from);
        if (!plan.NeedsHistory)
        {
            return StreamRecovery.Complete(plan, null);
        }

        var read = await broker.ReadAsync(userId, from.Seq, ct);
        return StreamRecovery.Complete(plan, string.Equals(read.Epoch, _epoch, StringComparison.Ordinal) ? read.Events : null);
    }

    /// <summary>
    /// Handles this user's part of a shard message: events <paramref name="first"/>,
    /// <paramref name="first"/> + 1, ... of history <paramref name="epoch"/>, bodies without their seq.
    /// </summary>
    public async Task OnEventsAsync(string epoch, long first, ReadOnlyMemory<byte>[] bodies)
    {
        await _work.WaitAsync();
        try
        {
            if (_closed || !_live)
            {
                // Not started yet: the join's read, which comes after, covers these events.
                return;
            }

            if (!string.Equals(epoch, _epoch, StringComparison.Ordinal) || first > _last + 1)
            {
                // A new history, or messages this node missed: Redis has the truth. The read comes
                // after these events were published, so it covers all of them.
                await CatchUpCoreAsync(CancellationToken.None);
                return;
            }

            for (var i = 0; i < bodies.Length; i++)
            {
                var seq = first + i;
                if (seq <= _last)
                {
                    continue;
                }

                Deliver(RedisEventBroker.ToStreamEvent(seq, bodies[i].Span));
                _last = seq;
            }
        }
        catch (Exception ex) when (RedisEventBroker.IsRedisFailure(ex))
        {
            LoseAll("event broker unavailable");
        }
        finally
        {
            _work.Release();
        }
    }

    /// <summary>Delivers what this node missed, or ends the subscriptions if it cannot.</summary>
    private async Task CatchUpCoreAsync(CancellationToken ct)
    {
        var read = await broker.ReadAsync(userId, _last, ct);
        if (!string.Equals(read.Epoch, _epoch, StringComparison.Ordinal))
        {
            LoseAll(ResumeOutcome.EpochChanged);
            _epoch = read.Epoch;
            _last = read.Seq;
            return;
        }

        if (read.Seq <= _last)
        {
            return;
        }

        var missed = StreamRecovery.Slice(read.Events, _last, read.Seq);
        if (missed is null)
        {
            LoseAll(ResumeOutcome.OutOfWindow);
        }
        else
        {
            foreach (var e in missed)
            {
                Deliver(e);
            }
        }

        _last = read.Seq;
    }

    private void Deliver(StreamEvent streamEvent)
    {
        Member[] members;
        lock (_members)
        {
            members = [.. _members];
        }

        foreach (var member in members)
        {
            if (!member.Subscriber.OnEvent(streamEvent))
            {
                lock (_members)
                {
                    _members.Remove(member);
                }
            }
        }
    }

    private void LoseAll(string reason)
    {
        Member[] members;
        lock (_members)
        {
            members = [.. _members];
            _members.Clear();
        }

        foreach (var member in members)
        {
            member.Subscriber.OnStreamLost(reason);
        }

        if (members.Length > 0)
        {
            RedisEventBroker.LogSubscriptionsLost(broker.Logger, members.Length, reason);
        }
    }

    // The shard subscription is the broker's and stays; a closed channel only stops delivering.
    private void CloseCore() => _closed = true;
}
