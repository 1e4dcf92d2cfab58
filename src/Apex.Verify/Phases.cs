namespace Apex.Verify;

/// <summary>One group of checks, run in <see cref="Phases.All"/> order.</summary>
/// <param name="Needs">Phases whose results this one uses; <c>--only</c> adds them.</param>
public sealed record PhaseInfo(int Number, string Id, string Title, IReadOnlyList<string> Needs, IReadOnlyList<string> Checks);

public static class Phases
{
    public const string Health = "health";
    public const string Web = "web";
    public const string Cors = "cors";
    public const string Auth = "auth";
    public const string Api = "api";
    public const string WebSocket = "ws";
    public const string Agent = "agent";
    public const string Resume = "resume";
    public const string Isolation = "isolation";

    public static readonly IReadOnlyList<PhaseInfo> All =
    [
        new(1, Health, "Health", [], ["health.api", "health.api_ready", "health.config", "health.auth", "health.ws", "health.version"]),
        new(2, Web, "Web app", [], ["web.page", "web.headers", "web.assets"]),
        new(3, Cors, "CORS", [], ["cors.api", "cors.auth", "cors.foreign_origin"]),
        new(4, Auth, "Auth", [],
        [
            "auth.config", "auth.providers", "auth.sign_in", "auth.validate", "auth.me", "auth.no_token", "auth.bad_body_no_token",
            "auth.bad_body_with_token", "auth.second_user", "auth.logout",
        ]),
        new(5, Api, "REST API", [Auth], ["api.create_thread", "api.list_threads", "api.read_thread", "api.other_user"]),
        new(6, WebSocket, "WebSocket", [Auth], ["ws.no_token", "ws.foreign_origin", "ws.handshake", "ws.subprotocol", "ws.ping", "ws.bad_frame"]),
        new(7, Agent, "Agent run", [Auth],
            ["agent.first_event", "agent.completion", "agent.event_types", "agent.order", "agent.tool_pairs", "agent.stored"]),
        new(8, Resume, "Resume", [Auth], ["resume.reconnect", "resume.replay", "resume.stale_epoch"]),
        new(9, Isolation, "Isolation", [Auth, Agent], ["isolation.observer", "isolation.events", "isolation.foreign_run"]),
    ];

    public static PhaseInfo Get(string id) => All.First(p => p.Id == id);

    public static bool IsKnownCheckOrPhase(string name) =>
        All.Any(p => string.Equals(p.Id, name, StringComparison.OrdinalIgnoreCase)
            || p.Checks.Any(c => string.Equals(c, name, StringComparison.OrdinalIgnoreCase)));

    /// <summary>
    /// The phases to run for <c>--only</c>: each named phase (or the phase of each named check) plus
    /// the phases it needs. Null means all.
    /// </summary>
    /// <exception cref="ArgumentException">A name is neither a phase nor a check.</exception>
    public static IReadOnlySet<string> Resolve(IReadOnlySet<string>? only)
    {
        if (only is null || only.Count == 0)
        {
            return All.Select(p => p.Id).ToHashSet();
        }

        var selected = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>();
        foreach (var name in only)
        {
            var phase = All.FirstOrDefault(p => string.Equals(p.Id, name, StringComparison.OrdinalIgnoreCase))
                ?? All.FirstOrDefault(p => p.Checks.Any(c => string.Equals(c, name, StringComparison.OrdinalIgnoreCase)))
                ?? throw new ArgumentException($"--only: '{name}' is not a phase or check; phases: {string.Join(", ", All.Select(p => p.Id))}");
            pending.Push(phase.Id);
        }

        while (pending.TryPop(out var id))
        {
            if (selected.Add(id))
            {
                foreach (var need in Get(id).Needs)
                {
                    pending.Push(need);
                }
            }
        }

        return selected;
    }
}
