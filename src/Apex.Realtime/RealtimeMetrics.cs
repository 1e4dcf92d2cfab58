using Prometheus;

namespace Apex.Realtime;

/// <summary>Prometheus metrics of the broker and the gateway (exposed by the service's <c>/metrics</c>).</summary>
internal static class RealtimeMetrics
{
    public static readonly Gauge OpenSockets = Metrics.CreateGauge(
        "apex_websocket_connections", "WebSocket connections currently open on this node.");

    public static readonly Counter EventsPublished = Metrics.CreateCounter(
        "apex_events_published_total", "Events appended to user streams.");

    public static readonly Counter EventsDelivered = Metrics.CreateCounter(
        "apex_events_delivered_total", "Stream events written to WebSocket connections (live and replayed).");

    public static readonly Counter ReplayHits = Metrics.CreateCounter(
        "apex_replay_hits_total", "Resumes answered from the replay window (recovered: true).");

    public static readonly Counter ReplayMisses = Metrics.CreateCounter(
        "apex_replay_misses_total", "Resumes that could not be recovered (epoch changed or outside the window).");

    public static readonly Counter ConnectionsClosed = Metrics.CreateCounter(
        "apex_websocket_closes_total", "WebSocket connections closed by the server, by close code.", "code");
}
