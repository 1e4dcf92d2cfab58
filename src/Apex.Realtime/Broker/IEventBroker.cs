using Apex.Contracts;

namespace Apex.Realtime.Broker;

/// <summary>
/// Per-user event streams, independent of any transport. Each user has a stream with an
/// <c>epoch</c> and a strictly increasing <c>seq</c>; publishing assigns the next <c>seq</c>.
/// Implementations: in-memory (one node) and Redis (several nodes), chosen by <c>Broker:Provider</c>.
/// </summary>
/// <remarks>
/// The contract a subscription relies on: <see cref="IStreamSubscriber.OnSubscribed"/> is called once
/// with the stream position and the replayed events, then <see cref="IStreamSubscriber.OnEvent"/> with
/// every later event in <c>seq</c> order, no gap, no duplicate. A Redis implementation meets it by
/// subscribing to the user's pub/sub channel first, buffering, reading the missed range from the
/// user's stream, and then releasing only buffered events above the replayed range.
/// </remarks>
public interface IEventBroker
{
    /// <summary>
    /// Appends <paramref name="envelope"/> to <paramref name="userId"/>'s stream and fans it out to
    /// that user's subscribers. Returns the envelope as published, with its <c>seq</c>.
    /// </summary>
    ValueTask<EventEnvelope> PublishAsync(string userId, EventEnvelope envelope, CancellationToken ct);

    /// <summary>
    /// Subscribes to <paramref name="userId"/>'s stream, optionally resuming after
    /// <paramref name="resumeFrom"/>. Dispose the returned handle to unsubscribe.
    /// </summary>
    ValueTask<IAsyncDisposable> SubscribeAsync(string userId, StreamPosition? resumeFrom, IStreamSubscriber subscriber, CancellationToken ct);

    /// <summary>The stream's current epoch and last assigned <c>seq</c> (0 before the first event).</summary>
    ValueTask<StreamPosition> GetPositionAsync(string userId, CancellationToken ct);
}

/// <summary>Receives one user's events. Calls arrive one at a time and must not block.</summary>
public interface IStreamSubscriber
{
    /// <summary>Called exactly once, before any live event.</summary>
    void OnSubscribed(SubscriptionStart start);

    /// <summary>A live event. Return false to be unsubscribed (for example a full send queue).</summary>
    bool OnEvent(StreamEvent streamEvent);

    /// <summary>
    /// The broker can no longer keep this subscription gap-free (its backing store was unreachable or
    /// lost the stream's history); the subscription has ended and the subscriber should let its
    /// client resume. The in-memory broker never calls it.
    /// </summary>
    void OnStreamLost(string reason)
    {
    }
}

/// <summary>The broker's backing store did not answer in time; the caller may retry later.</summary>
public sealed class BrokerUnavailableException : Apex.Hosting.ServiceUnavailableException
{
    public BrokerUnavailableException()
    {
    }

    public BrokerUnavailableException(string message)
        : base(message)
    {
    }

    public BrokerUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
