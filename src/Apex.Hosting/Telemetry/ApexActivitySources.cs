namespace Apex.Hosting.Telemetry;

/// <summary>
/// The names of every <see cref="System.Diagnostics.ActivitySource"/> Apex creates spans from. The tracing
/// registration listens to exactly these (plus the ASP.NET Core, HttpClient, EF Core and Redis
/// instrumentations), so a module's spans are exported once its source is listed here.
/// </summary>
public static class ApexActivitySources
{
    /// <summary>One <c>run</c> span per agent run (tags <c>apex.run_id</c>, <c>apex.thread_id</c>).</summary>
    public const string Runs = "Apex.Chat.Runs";

    /// <summary><c>agent {name}</c> per sub-agent and <c>tool {name}</c> per tool call (Apex.Agents has no ASP.NET dependency and repeats this literal).</summary>
    public const string Agents = "Apex.Agents";

    /// <summary><c>ws.session</c> per WebSocket connection and <c>broker.publish</c> per published event.</summary>
    public const string Realtime = "Apex.Realtime";

    public static IReadOnlyList<string> All { get; } = [Runs, Agents, Realtime];
}
