using Prometheus;

namespace Apex.Realtime;

/// <summary>
/// Prometheus metrics of the broker and the gateway (exposed by the service's <c>/metrics</c>).
/// The per-event counters are plain interlocked longs copied into Prometheus at scrape time, so
/// the hot path pays one atomic add instead of a metric update per frame.
/// </summary>
internal static class RealtimeMetrics
{
    private static long s_published;
    private static long s_delivered;

    public static readonly Gauge OpenSockets = Metrics.CreateGauge(
        "apex_websocket_connections", "WebSocket connections currently open on this node.");

    private static readonly Counter EventsPublishedCounter = Metrics.CreateCounter(
        "apex_events_published_total", "Events appended to user streams.");

    private static readonly Counter EventsDeliveredCounter = Metrics.CreateCounter(
        "apex_events_delivered_total", "Stream events written to WebSocket connections (live and replayed).");

    public static readonly Counter ReplayHits = Metrics.CreateCounter(
        "apex_replay_hits_total", "Resumes answered from the replay window (recovered: true).");

    public static readonly Counter ReplayMisses = Metrics.CreateCounter(
        "apex_replay_misses_total", "Resumes that could not be recovered (epoch changed or outside the window).");

    public static readonly Counter ConnectionsClosed = Metrics.CreateCounter(
        "apex_websocket_closes_total", "Close frames sent by the server (including answers to a client's close), by close code.", "code");

    static RealtimeMetrics()
    {
        Metrics.DefaultRegistry.AddBeforeCollectCallback(() =>
        {
            EventsPublishedCounter.IncTo(Interlocked.Read(ref s_published));
            EventsDeliveredCounter.IncTo(Interlocked.Read(ref s_delivered));
        });
    }

    public static long EventsPublished => Interlocked.Read(ref s_published);

    public static long EventsDelivered => Interlocked.Read(ref s_delivered);

    public static void Published() => Interlocked.Increment(ref s_published);

    public static void Delivered(int count) => Interlocked.Add(ref s_delivered, count);
}
