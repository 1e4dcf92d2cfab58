using System.Diagnostics;
using Apex.Chat.Data;
using Apex.Hosting.Telemetry;

namespace Apex.Chat.Runs;

/// <summary>The <c>run</c> span: one per run, the parent of the agent's sub-agent and tool spans.</summary>
internal static class RunTelemetry
{
    private static readonly ActivitySource Source = new(ApexActivitySources.Runs);

    /// <summary>
    /// Starts the run's span as the root of its own trace, linked to the request or WebSocket session
    /// that started it: the run outlives that request, and a session lasts hours, so parenting runs on
    /// it would put every run of the session into one trace. Null when nobody listens.
    /// </summary>
    public static Activity? Start(ActiveRun run)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var origin = Activity.Current;
        // Only this background task's context changes: the caller's request keeps its own span.
        Activity.Current = null;
        ActivityLink[]? links = origin is null ? null : [new ActivityLink(origin.Context)];
        var activity = Source.StartActivity(ActivityKind.Internal, parentContext: default,
            tags: [new("apex.run_id", run.RunId), new("apex.thread_id", run.ThreadId)], links: links, name: "run");
        activity?.SetTag("apex.dataset_id", run.DatasetId);
        return activity;
    }

    public static void Finish(Activity? activity, string status)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetTag("apex.run_status", status);
        if (status == RunStatus.Failed)
        {
            activity.SetStatus(ActivityStatusCode.Error);
        }
    }
}
