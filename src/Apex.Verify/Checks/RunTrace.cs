using System.Globalization;
using System.Text.Json;
using Apex.Verify.Probe;

namespace Apex.Verify.Checks;

/// <summary>
/// The frames of one agent run as one connection saw them, and the rules of docs/spec/realtime-protocol.md
/// sections 3 and 4 applied to them.
/// </summary>
internal sealed class RunTrace
{
    public const string TopAgent = "apex";

    public static readonly string[] CriticalTypes = ["agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed"];

    private static readonly HashSet<string> AgentTypes =
        ["agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_message_delta", "agent_completed", "agent_error"];

    public string? RunId { get; private set; }
    public string? ThreadId { get; private set; }

    /// <summary>The thread announced by <c>thread_created</c>, when the run made one.</summary>
    public string? CreatedThreadId { get; private set; }

    /// <summary>The run's events, in arrival order.</summary>
    public List<Frame> Events { get; } = [];

    /// <summary>Every frame with a <c>seq</c> (the user's stream), in arrival order.</summary>
    public List<Frame> Stream { get; } = [];

    public List<Frame> Terminals { get; } = [];

    /// <summary>Events of the run that arrived after its terminal event.</summary>
    public List<Frame> AfterTerminal { get; } = [];

    public TimeSpan? SentAt { get; set; }
    public TimeSpan? AckAt { get; set; }
    public TimeSpan? FirstEventAt { get; private set; }
    public TimeSpan? TerminalAt { get; private set; }

    public Frame? Terminal => Terminals.Count > 0 ? Terminals[0] : null;

    public static bool IsAgentEvent(Frame f) => f.Type is { } t && AgentTypes.Contains(t);

    public static bool IsTerminal(Frame f) =>
        f.Type is "agent_completed" or "agent_error" && f.Payload.Bool("final") == true;

    /// <summary>Takes one frame; returns true when it belongs to the run.</summary>
    public bool Add(Frame f)
    {
        if (f.Seq is not null)
        {
            Stream.Add(f);
        }

        if (f.Type == "thread_created" && CreatedThreadId is null)
        {
            CreatedThreadId = f.Payload.Prop("thread").Str("id") ?? f.ThreadId;
        }

        if (!IsAgentEvent(f))
        {
            return false;
        }

        if (RunId is null)
        {
            if (f.RunId is null || (CreatedThreadId is not null && f.ThreadId != CreatedThreadId))
            {
                return false;
            }

            RunId = f.RunId;
            ThreadId = f.ThreadId;
            FirstEventAt = f.ReceivedAt;
        }
        else if (f.RunId != RunId)
        {
            return false;
        }

        if (Terminals.Count > 0)
        {
            AfterTerminal.Add(f);
        }

        Events.Add(f);
        if (IsTerminal(f))
        {
            Terminals.Add(f);
            TerminalAt ??= f.ReceivedAt;
        }

        return true;
    }

    public bool Finished => Terminals.Count > 0;

    public string Last() => Events.Count == 0 ? "none" : Events[^1].ToString();

    public string TypeCounts() =>
        string.Join(", ", Events.GroupBy(e => e.Type).Select(g => $"{g.Key} {g.Count()}"));

    /// <summary>Seq increases by exactly one per frame of the stream (no gap, no duplicate).</summary>
    public static List<string> SeqProblems(IReadOnlyList<Frame> stream, long? after)
    {
        var problems = new List<string>();
        var expected = after + 1;
        foreach (var f in stream)
        {
            if (expected is { } want && f.Seq != want)
            {
                problems.Add(f.Seq < want ? $"duplicate or backwards seq {f.Seq} ({f.Type}) where {want} was due" : $"gap: seq {f.Seq} ({f.Type}) where {want} was due");
                if (problems.Count >= 3)
                {
                    break;
                }
            }

            expected = f.Seq + 1;
        }

        return problems;
    }

    /// <summary>Envelope fields, the top agent framing the run, and sub-agents nesting inside it.</summary>
    public List<string> OrderProblems()
    {
        var problems = new List<string>();
        if (Events.Count == 0)
        {
            return ["no events"];
        }

        var first = Events[0];
        if (first.Type != "agent_started" || first.AgentName != TopAgent || first.Payload.Has("parent_agent"))
        {
            problems.Add($"the run opens with {first.Type} of '{first.AgentName}', not agent_started of '{TopAgent}' without parent_agent");
        }

        foreach (var e in Events)
        {
            var missing = new List<string>();
            if (e.Seq is null)
            {
                missing.Add("seq");
            }

            if (e.ThreadId is null)
            {
                missing.Add("thread_id");
            }

            if (e.AgentName is null)
            {
                missing.Add("agent_name");
            }

            if (e.Timestamp is null || !DateTimeOffset.TryParse(e.Timestamp, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out _))
            {
                missing.Add("an ISO 8601 timestamp");
            }

            if (e.Payload is not { ValueKind: JsonValueKind.Object })
            {
                missing.Add("payload");
            }

            if (missing.Count > 0)
            {
                problems.Add($"{e} lacks {string.Join(", ", missing)}");
                break;
            }
        }

        var open = new List<string>();
        foreach (var e in Events)
        {
            var agent = e.AgentName ?? "?";
            switch (e.Type)
            {
                case "agent_started":
                    if (open.Contains(agent))
                    {
                        problems.Add($"{e}: '{agent}' started twice");
                    }
                    else if (open.Count > 0 && e.Payload.Str("parent_agent") is null)
                    {
                        problems.Add($"{e}: sub-agent '{agent}' has no parent_agent");
                    }

                    open.Add(agent);
                    break;
                case "agent_completed":
                    if (!open.Remove(agent))
                    {
                        problems.Add($"{e}: '{agent}' completed without having started");
                    }
                    else if (agent == TopAgent && open.Count > 0)
                    {
                        problems.Add($"{e}: '{TopAgent}' completed while {string.Join(", ", open)} still ran");
                    }

                    break;
                default:
                    if (!open.Contains(agent) && !(e.Type == "agent_error" && IsTerminal(e)))
                    {
                        problems.Add($"{e}: event of '{agent}' outside its agent_started … agent_completed");
                    }

                    break;
            }

            if (problems.Count >= 4)
            {
                break;
            }
        }

        return problems;
    }

    /// <summary>Every tool_executing is followed by its tool_completed (same tool_call_id and tool_name).</summary>
    public (List<string> Problems, int Pairs) ToolProblems()
    {
        var problems = new List<string>();
        var open = new Dictionary<string, Frame>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pairs = 0;
        foreach (var e in Events)
        {
            var id = e.Payload.Str("tool_call_id");
            if (e.Type == "tool_executing")
            {
                if (id is null || e.Payload.Str("tool_name") is null)
                {
                    problems.Add($"{e} lacks tool_call_id or tool_name");
                }
                else if (!seen.Add(id))
                {
                    problems.Add($"{e}: tool_call_id {id} used twice");
                }
                else
                {
                    open[id] = e;
                }
            }
            else if (e.Type == "tool_completed")
            {
                if (id is null || !open.Remove(id, out var started))
                {
                    problems.Add($"{e}: tool_completed for '{id}' with no open tool_executing");
                    continue;
                }

                if (started.Payload.Str("tool_name") != e.Payload.Str("tool_name"))
                {
                    problems.Add($"{e}: tool_name '{e.Payload.Str("tool_name")}' differs from its tool_executing '{started.Payload.Str("tool_name")}'");
                }

                if (e.Payload.Bool("ok") is not { } ok)
                {
                    problems.Add($"{e}: no ok flag");
                }
                else if (!ok && e.Payload.Str("error") is null)
                {
                    problems.Add($"{e}: ok false without an error");
                }

                if (!e.Payload.Has("duration_ms"))
                {
                    problems.Add($"{e}: no duration_ms");
                }

                pairs++;
            }
        }

        foreach (var (id, e) in open)
        {
            problems.Add($"tool call {id} ({e.Payload.Str("tool_name")}, {e}) never completed");
        }

        if (pairs == 0 && problems.Count == 0)
        {
            problems.Add("the run called no tool");
        }

        return (problems, pairs);
    }

    /// <summary>The streamed answer text per <c>message_id</c>, in order of first delta.</summary>
    public List<string> StreamedAnswers() =>
        Events.Where(e => e.Type == "agent_message_delta")
            .GroupBy(e => e.Payload.Str("message_id") ?? string.Empty)
            .Select(g => string.Concat(g.Select(e => e.Payload.Str("delta"))))
            .ToList();
}
