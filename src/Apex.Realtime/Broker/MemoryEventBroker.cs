using System.Collections.Concurrent;
using Apex.Contracts;
using Microsoft.Extensions.Options;

namespace Apex.Realtime.Broker;

/// <summary>
/// The single-node broker: each user's stream lives in this process. A stream's epoch is random and
/// is born with the stream, so a restart (or the eviction of an idle stream whose history is gone)
/// gives a new epoch and resumes against the old one answer <c>recovered: false</c>.
/// </summary>
internal sealed class MemoryEventBroker : IEventBroker, IDisposable
{
    private readonly ConcurrentDictionary<string, UserStream> _streams = new(StringComparer.Ordinal);
    private readonly int _historySize;
    private readonly long _historyTtlMs;
    private readonly TimeProvider _time;
    private readonly ITimer _evictionTimer;

    public MemoryEventBroker(IOptions<BrokerOptions> options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _historySize = options.Value.HistorySize;
        _historyTtlMs = options.Value.HistoryTtlSeconds * 1000L;
        _time = time;
        var period = TimeSpan.FromMilliseconds(Math.Clamp(_historyTtlMs / 4, 1_000, 60_000));
        _evictionTimer = time.CreateTimer(static s => ((MemoryEventBroker)s!).EvictIdleStreams(), this, period, period);
    }

    public int StreamCount => _streams.Count;

    public ValueTask<EventEnvelope> PublishAsync(string userId, EventEnvelope envelope, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        ArgumentNullException.ThrowIfNull(envelope);
        ct.ThrowIfCancellationRequested();
        long seq;
        while (true)
        {
            var stream = GetStream(userId);
            lock (stream.Gate)
            {
                if (stream.Evicted)
                {
                    continue;
                }

                // Numbering, serialisation, history and fan-out happen under the stream's lock so
                // that every subscriber sees one order even with concurrent publishers, and a
                // subscribe (which takes the same lock) never falls between history and live.
                seq = stream.LastSeq + 1;
                var streamEvent = new StreamEvent(seq, EnvelopeSerializer.Serialize(envelope, seq));
                var now = NowMs();
                stream.LastSeq = seq;
                stream.LastActivityMs = now;
                stream.Append(streamEvent, now, _historySize);
                stream.TrimOlderThan(now - _historyTtlMs);
                stream.Deliver(streamEvent);
                break;
            }
        }

        RealtimeMetrics.Published();
        return ValueTask.FromResult(envelope with { Seq = seq });
    }

    public ValueTask<IAsyncDisposable> SubscribeAsync(string userId, StreamPosition? resumeFrom, IStreamSubscriber subscriber, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        ArgumentNullException.ThrowIfNull(subscriber);
        ct.ThrowIfCancellationRequested();
        while (true)
        {
            var stream = GetStream(userId);
            lock (stream.Gate)
            {
                if (stream.Evicted)
                {
                    continue;
                }

                var now = NowMs();
                stream.LastActivityMs = now;
                stream.TrimOlderThan(now - _historyTtlMs);
                var (outcome, replay) = resumeFrom is null ? (null, []) : stream.Resume(resumeFrom);
                if (outcome is not null)
                {
                    (outcome.Recovered ? RealtimeMetrics.ReplayHits : RealtimeMetrics.ReplayMisses).Inc();
                }

                subscriber.OnSubscribed(new SubscriptionStart(stream.Epoch, stream.LastSeq, outcome, replay));
                stream.AddSubscriber(subscriber);
                return ValueTask.FromResult<IAsyncDisposable>(new Subscription(stream, subscriber));
            }
        }
    }

    public ValueTask<StreamPosition> GetPositionAsync(string userId, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        var stream = GetStream(userId);
        lock (stream.Gate)
        {
            return ValueTask.FromResult(new StreamPosition(stream.Epoch, stream.LastSeq));
        }
    }

    public void Dispose() => _evictionTimer.Dispose();

    /// <summary>
    /// Drops streams nobody listens to whose history has expired, so memory follows active users.
    /// A later event starts a new stream with a new epoch, which is honest: its history is gone.
    /// </summary>
    internal void EvictIdleStreams()
    {
        var cutoff = NowMs() - _historyTtlMs;
        foreach (var (userId, stream) in _streams)
        {
            lock (stream.Gate)
            {
                stream.TrimOlderThan(cutoff);
                if (stream.SubscriberCount == 0 && stream.HistoryCount == 0 && stream.LastActivityMs <= cutoff)
                {
                    stream.Evicted = true;
                    _streams.TryRemove(new KeyValuePair<string, UserStream>(userId, stream));
                }
            }
        }
    }

    private UserStream GetStream(string userId) =>
        _streams.TryGetValue(userId, out var stream) ? stream : _streams.GetOrAdd(userId, static _ => new UserStream(StreamRecovery.NewEpoch()));

    private long NowMs() => _time.GetTimestamp() * 1000 / _time.TimestampFrequency;

    private sealed class Subscription(UserStream stream, IStreamSubscriber subscriber) : IAsyncDisposable
    {
        public ValueTask DisposeAsync()
        {
            lock (stream.Gate)
            {
                stream.RemoveSubscriber(subscriber);
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>One user's stream. Every member is used under <see cref="Gate"/>.</summary>
    private sealed class UserStream(string epoch)
    {
        private static readonly IStreamSubscriber[] NoSubscribers = [];

        // A ring that grows on demand up to the history size, so a user with few events costs little.
        private StreamEvent[] _ring = [];
        private long[] _ringTimes = [];
        private int _head;
        private int _count;
        private IStreamSubscriber[] _subscribers = NoSubscribers;

        public Lock Gate { get; } = new();
        public string Epoch { get; } = epoch;
        public long LastSeq { get; set; }
        public long LastActivityMs { get; set; }
        public bool Evicted { get; set; }
        public int SubscriberCount => _subscribers.Length;
        public int HistoryCount => _count;

        public void Append(StreamEvent streamEvent, long nowMs, int capacity)
        {
            if (_count == _ring.Length && _ring.Length < capacity)
            {
                Grow(Math.Min(capacity, Math.Max(16, _ring.Length * 2)));
            }

            if (_count == _ring.Length)
            {
                // Full at capacity: overwrite the oldest.
                _ring[_head] = streamEvent;
                _ringTimes[_head] = nowMs;
                _head = (_head + 1) % _ring.Length;
                return;
            }

            var index = (_head + _count) % _ring.Length;
            _ring[index] = streamEvent;
            _ringTimes[index] = nowMs;
            _count++;
        }

        public void TrimOlderThan(long cutoffMs)
        {
            while (_count > 0 && _ringTimes[_head] <= cutoffMs)
            {
                _ring[_head] = null!;
                _head = (_head + 1) % _ring.Length;
                _count--;
            }

            if (_count == 0 && _ring.Length > 0)
            {
                _ring = [];
                _ringTimes = [];
                _head = 0;
            }
        }

        public (ResumeOutcome, IReadOnlyList<StreamEvent>) Resume(StreamPosition from)
        {
            var plan = StreamRecovery.Plan(Epoch, LastSeq, from);
            return StreamRecovery.Complete(plan, plan.NeedsHistory ? Tail(plan.Missed) : null);
        }

        /// <summary>The newest <paramref name="n"/> events in order, or null when the window holds fewer.</summary>
        private StreamEvent[]? Tail(long n)
        {
            if (n > _count)
            {
                return null;
            }

            var tail = new StreamEvent[n];
            var skip = _count - (int)n;
            for (var i = 0; i < tail.Length; i++)
            {
                tail[i] = _ring[(_head + skip + i) % _ring.Length];
            }

            return tail;
        }

        public void Deliver(StreamEvent streamEvent)
        {
            var subscribers = _subscribers;
            List<IStreamSubscriber>? dropped = null;
            foreach (var subscriber in subscribers)
            {
                if (!subscriber.OnEvent(streamEvent))
                {
                    (dropped ??= []).Add(subscriber);
                }
            }

            if (dropped is not null)
            {
                foreach (var subscriber in dropped)
                {
                    RemoveSubscriber(subscriber);
                }
            }
        }

        public void AddSubscriber(IStreamSubscriber subscriber) => _subscribers = [.. _subscribers, subscriber];

        public void RemoveSubscriber(IStreamSubscriber subscriber)
        {
            var index = Array.IndexOf(_subscribers, subscriber);
            if (index < 0)
            {
                return;
            }

            if (_subscribers.Length == 1)
            {
                _subscribers = NoSubscribers;
                return;
            }

            var next = new IStreamSubscriber[_subscribers.Length - 1];
            Array.Copy(_subscribers, 0, next, 0, index);
            Array.Copy(_subscribers, index + 1, next, index, _subscribers.Length - index - 1);
            _subscribers = next;
        }

        private void Grow(int size)
        {
            var ring = new StreamEvent[size];
            var times = new long[size];
            for (var i = 0; i < _count; i++)
            {
                ring[i] = _ring[(_head + i) % _ring.Length];
                times[i] = _ringTimes[(_head + i) % _ring.Length];
            }

            _ring = ring;
            _ringTimes = times;
            _head = 0;
        }
    }
}
