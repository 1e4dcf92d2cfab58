using Apex.Contracts;

namespace Apex.Realtime.Broker;

/// <summary>
/// Per-user event streams, independent of any transport. Each user has a stream with an
/// <c>epoch</c> and a strictly increasing <c>seq</c>; publishing assigns the next <c>seq</c>.
/// Implementations: in-memory (one node) and Redis (several nodes), chosen by configuration.
/// </summary>
public interface IEventBroker
{
    /// <summary>
    /// Appends <paramref name="envelope"/> to <paramref name="userId"/>'s stream and fans it out to
    /// that user's subscribers. Returns the envelope as published, with its <c>seq</c>.
    /// </summary>
    ValueTask<EventEnvelope> PublishAsync(string userId, EventEnvelope envelope, CancellationToken ct);
}
