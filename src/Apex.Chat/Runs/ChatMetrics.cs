using Prometheus;

namespace Apex.Chat.Runs;

/// <summary>Run metrics exported on <c>/metrics</c>.</summary>
internal static class ChatMetrics
{
    private static readonly string[] Statuses = ["completed", "failed", "cancelled"];

    /// <summary>
    /// Creates every status series at zero when the module starts, so dashboards and alerts see the
    /// metrics before the first run ends.
    /// </summary>
    public static void Initialize()
    {
        foreach (var status in Statuses)
        {
            RunsFinished.WithLabels(status);
            RunDuration.WithLabels(status);
        }

        RunsStarted.Inc(0);
        RunsActive.Inc(0);
    }

    public static readonly Counter RunsStarted = Metrics.CreateCounter(
        "apex_runs_started_total", "Runs accepted (user messages that started a run).");

    public static readonly Counter RunsFinished = Metrics.CreateCounter(
        "apex_runs_total", "Runs finished, by final status (completed, failed, cancelled).",
        new CounterConfiguration { LabelNames = ["status"] });

    public static readonly Gauge RunsActive = Metrics.CreateGauge(
        "apex_runs_active", "Runs executing in this process now.");

    // Agent runs take from well under a second (scripted) to minutes (a slow model): 50 ms .. ~14 min.
    public static readonly Histogram RunDuration = Metrics.CreateHistogram(
        "apex_run_duration_seconds", "Wall time of a run from start to its terminal event, by final status.",
        new HistogramConfiguration { LabelNames = ["status"], Buckets = Histogram.ExponentialBuckets(0.05, 2, 15) });
}
