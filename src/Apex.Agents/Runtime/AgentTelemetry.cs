using System.Diagnostics;

namespace Apex.Agents.Runtime;

/// <summary>
/// Spans of the agent's work: <c>agent {name}</c> per sub-agent and <c>tool {name}</c> per tool call.
/// The parent is passed in (the run's span, carried by <see cref="AgentRunRequest.TraceParent"/>)
/// because the agent runs on tasks of its own.
/// </summary>
public static class AgentTelemetry
{
    /// <summary>Equals <c>Apex.Hosting.Telemetry.ApexActivitySources.Agents</c> (this assembly has no ASP.NET dependency).</summary>
    public const string SourceName = "Apex.Agents";

    internal static readonly ActivitySource Source = new(SourceName);

    internal static Activity? StartAgent(string agent, ActivityContext parent) =>
        Source.HasListeners()
            ? Source.StartActivity(ActivityKind.Internal, parent, [new("apex.agent", agent)], name: $"agent {agent}")
            : null;

    /// <summary>A tool call's span, under the sub-agent that makes it when there is one, else under <paramref name="run"/>.</summary>
    internal static Activity? StartTool(string tool, string agent, string callId, ActivityContext run)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var parent = Activity.Current is { } current && current.Source == Source ? current.Context : run;
        return Source.StartActivity(ActivityKind.Internal, parent,
            [new("apex.tool", tool), new("apex.agent", agent), new("apex.tool_call_id", callId)], name: $"tool {tool}");
    }

    /// <summary>For an exception filter: marks the span failed and never catches.</summary>
    internal static bool Failed(Activity? span, Exception exception)
    {
        if (span is not null && exception is not OperationCanceledException)
        {
            span.SetStatus(ActivityStatusCode.Error, exception.GetType().Name);
        }

        return false;
    }
}
