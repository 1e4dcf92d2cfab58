using System.Diagnostics;
using Apex.Contracts;
using Apex.Hosting.Telemetry;
using Apex.Realtime.Broker;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Apex.Realtime;

/// <summary>Spans of the real-time part: <c>ws.session</c> per WebSocket connection, <c>broker.publish</c> per event.</summary>
internal static class RealtimeTelemetry
{
    public static readonly ActivitySource Source = new(ApexActivitySources.Realtime);

    /// <summary>A connection's span, child of the upgrade request's; it lasts as long as the socket.</summary>
    public static Activity? StartSession(string connectionId, string userId) =>
        Source.HasListeners()
            ? Source.StartActivity(ActivityKind.Internal, default(ActivityContext),
                [new("apex.connection_id", connectionId), new("apex.user_id", userId)], name: "ws.session")
            : null;
}

/// <summary>
/// Wraps whichever broker <c>Broker:Provider</c> chose with a <c>broker.publish</c> span, so both
/// brokers are traced the same way from one place. Forwards the Redis broker's own health check.
/// </summary>
internal sealed class TracedEventBroker(IEventBroker inner) : IEventBroker, IHealthCheck
{
    public ValueTask<EventEnvelope> PublishAsync(string userId, EventEnvelope envelope, CancellationToken ct)
    {
        if (!RealtimeTelemetry.Source.HasListeners())
        {
            return inner.PublishAsync(userId, envelope, ct);
        }

        return PublishTracedAsync(userId, envelope, ct);
    }

    private async ValueTask<EventEnvelope> PublishTracedAsync(string userId, EventEnvelope envelope, CancellationToken ct)
    {
        using var activity = RealtimeTelemetry.Source.StartActivity(ActivityKind.Producer, default(ActivityContext),
            [new("apex.event_type", envelope.Type), new("apex.run_id", envelope.RunId)], name: "broker.publish");
        try
        {
            var published = await inner.PublishAsync(userId, envelope, ct);
            activity?.SetTag("apex.seq", published.Seq);
            return published;
        }
        catch (Exception e) when (activity is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, e.GetType().Name);
            throw;
        }
    }

    public ValueTask<IAsyncDisposable> SubscribeAsync(string userId, StreamPosition? resumeFrom, IStreamSubscriber subscriber, CancellationToken ct) =>
        inner.SubscribeAsync(userId, resumeFrom, subscriber, ct);

    public ValueTask<StreamPosition> GetPositionAsync(string userId, CancellationToken ct) => inner.GetPositionAsync(userId, ct);

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        inner is IHealthCheck check ? check.CheckHealthAsync(context, cancellationToken) : Task.FromResult(HealthCheckResult.Healthy());
}
