using Apex.Chat.Api;
using Apex.Contracts;
using Apex.Realtime.Broker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Apex.Chat.Runs;

/// <summary>Publishes <c>thread_created</c> / <c>thread_updated</c> to the owner's stream.</summary>
internal sealed class ThreadAnnouncer(IServiceProvider services, TimeProvider time, ILogger<ThreadAnnouncer> logger)
{
    public async Task AnnounceAsync(string userId, string type, ThreadResponse thread)
    {
        var envelope = new EventEnvelope
        {
            Type = type,
            ThreadId = thread.Id,
            Timestamp = time.GetUtcNow(),
            Payload = ApexJson.ToElement(new ThreadPayload(thread)),
        };
        try
        {
            // The change is stored already; a broker failure must not turn a successful request into an error.
            await services.GetRequiredService<IEventBroker>().PublishAsync(userId, envelope, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Log.ThreadEventFailed(logger, ex, type, thread.Id);
        }
    }

    private sealed record ThreadPayload(ThreadResponse Thread);
}
