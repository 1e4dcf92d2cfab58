using System.Threading.Tasks.Sources;

namespace Apex.Realtime.Gateway;

/// <summary>
/// A connection's outgoing queue: any thread writes (the broker, the receive loop, the housekeeping
/// tick), one send loop reads, a batch at a time. It never blocks a writer and never bounds the queue
/// (the connection counts its live events and closes a slow client).
/// </summary>
/// <remarks>
/// An unbounded channel costs about 1 KiB per connection even while empty (its queue segments and
/// its reader's wait operations); idle sockets are the common case, so this queue holds one small
/// list between batches and waits through one reusable value-task source.
/// </remarks>
internal sealed class SendQueue : IValueTaskSource<bool>
{
    /// <summary>A drained list is kept for the next batch up to this capacity; a larger one (a replay) is let go.</summary>
    private const int KeptCapacity = 16;

    private readonly Lock _lock = new();
    private ManualResetValueTaskSourceCore<bool> _signal = new() { RunContinuationsAsynchronously = true };
    private List<object>? _pending;
    private List<object>? _spare;
    private bool _waiting;
    private bool _completed;

    /// <summary>Queues an item; false once the queue is completed.</summary>
    public bool TryWrite(object item)
    {
        bool wake;
        lock (_lock)
        {
            if (_completed)
            {
                return false;
            }

            if (_pending is null)
            {
                _pending = _spare ?? new List<object>(4);
                _spare = null;
            }

            _pending.Add(item);
            wake = _waiting;
            _waiting = false;
        }

        if (wake)
        {
            _signal.SetResult(true);
        }

        return true;
    }

    /// <summary>No more writes; what is queued can still be read.</summary>
    public void Complete()
    {
        bool wake;
        lock (_lock)
        {
            if (_completed)
            {
                return;
            }

            _completed = true;
            wake = _waiting;
            _waiting = false;
        }

        if (wake)
        {
            // A waiting reader found the queue empty, and any write since would have woken it
            // already: the queue is completed and empty, so the wait ends with false.
            _signal.SetResult(false);
        }
    }

    /// <summary>True when items are waiting, false when the queue is completed and empty. One waiter at a time.</summary>
    public ValueTask<bool> WaitToReadAsync()
    {
        lock (_lock)
        {
            if (_pending is not null)
            {
                return new(true);
            }

            if (_completed)
            {
                return new(false);
            }

            _signal.Reset();
            _waiting = true;
            return new(this, _signal.Version);
        }
    }

    /// <summary>Takes everything waiting, in order (null when nothing is); hand the list back with <see cref="Return"/>.</summary>
    public List<object>? TakeAll()
    {
        lock (_lock)
        {
            var items = _pending;
            _pending = null;
            return items;
        }
    }

    public void Return(List<object> items)
    {
        items.Clear();
        if (items.Capacity > KeptCapacity)
        {
            return;
        }

        lock (_lock)
        {
            _spare ??= items;
        }
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _signal.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _signal.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _signal.OnCompleted(continuation, state, token, flags);
}
