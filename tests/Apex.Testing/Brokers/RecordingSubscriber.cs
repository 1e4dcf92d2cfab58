using Apex.Realtime.Broker;

namespace Apex.Testing.Brokers;

/// <summary>
/// A broker subscriber that records what it is given, and lets a test await a condition on it
/// (every delivery wakes the waiters) instead of sleeping.
/// </summary>
public sealed class RecordingSubscriber : IStreamSubscriber
{
    private readonly Lock _gate = new();
    private readonly List<StreamEvent> _events = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private SubscriptionStart? _start;
    private string? _lost;

    /// <summary>Live events accepted after this many; the next one is refused (as a full send queue refuses).</summary>
    public int AcceptUpTo { get; init; } = int.MaxValue;

    public SubscriptionStart? Start
    {
        get
        {
            lock (_gate)
            {
                return _start;
            }
        }
    }

    public int Offered { get; private set; }

    public string? LostReason
    {
        get
        {
            lock (_gate)
            {
                return _lost;
            }
        }
    }

    /// <summary>The live events, in delivery order.</summary>
    public IReadOnlyList<StreamEvent> Events
    {
        get
        {
            lock (_gate)
            {
                return [.. _events];
            }
        }
    }

    public List<long> Seqs => [.. Events.Select(e => e.Seq)];

    /// <summary>The replayed events followed by the live ones: what a client of this subscription sees.</summary>
    public List<long> SeenSeqs
    {
        get
        {
            lock (_gate)
            {
                return [.. (_start?.Replay ?? []).Select(e => e.Seq), .. _events.Select(e => e.Seq)];
            }
        }
    }

    public void OnSubscribed(SubscriptionStart start)
    {
        lock (_gate)
        {
            _start = start;
        }

        Signal();
    }

    public bool OnEvent(StreamEvent streamEvent)
    {
        lock (_gate)
        {
            Offered++;
            if (_events.Count >= AcceptUpTo)
            {
                return false;
            }

            _events.Add(streamEvent);
        }

        Signal();
        return true;
    }

    public void OnStreamLost(string reason)
    {
        lock (_gate)
        {
            _lost = reason;
        }

        Signal();
    }

    /// <summary>Waits until <paramref name="condition"/> holds (checked after every delivery); bounded by the test's timeout.</summary>
    public async Task WaitUntilAsync(Func<RecordingSubscriber, bool> condition)
    {
        ArgumentNullException.ThrowIfNull(condition);
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                changed = _changed.Task;
            }

            if (condition(this))
            {
                return;
            }

            await changed;
        }
    }

    /// <summary>Waits until a live event with <paramref name="seq"/> or later has arrived.</summary>
    public Task WaitForSeqAsync(long seq) => WaitUntilAsync(s => s.SeenSeqs is { Count: > 0 } seen && seen[^1] >= seq);

    private void Signal()
    {
        TaskCompletionSource changed;
        lock (_gate)
        {
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.SetResult();
    }
}
