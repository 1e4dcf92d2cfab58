using Apex.Contracts;
using Apex.Realtime.Broker;
using Apex.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Apex.Realtime.Tests;

/// <summary>Publishes events into the server's own broker, as the run executor does.</summary>
internal static class Publishing
{
    public static IEventBroker Broker(this ApexTestServer server) => server.Services.GetRequiredService<IEventBroker>();

    public static ValueTask<EventEnvelope> PublishAsync(this ApexTestServer server, string userId, string runId = "run_test", int padding = 0) =>
        server.Broker().PublishAsync(userId, new EventEnvelope
        {
            Type = EventTypes.AgentThinking,
            RunId = runId,
            ThreadId = "thr_test",
            AgentName = "apex",
            Timestamp = DateTimeOffset.UtcNow,
            Payload = ApexJson.ToElement(new { reasoning = padding > 0 ? new string('x', padding) : "thinking", step = 1 }),
        }, CancellationToken.None);
}
