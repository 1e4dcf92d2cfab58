using Apex.Verify.Checks;
using Apex.Verify.Probe;

namespace Apex.Verify.Tests;

/// <summary>The rules the checker applies to what it observed, on hand-written streams.</summary>
public sealed class LogicTests
{
    private static readonly string[] IsolationPhases = ["agent", "auth", "isolation"];
    private static readonly string[] PingPhases = ["auth", "ws"];

    [Fact(Timeout = 10_000)]
    public async Task Thresholds_accept_checks_and_phases_and_reject_unknown_names()
    {
        var thresholds = Thresholds.Parse("""{"ws.ping": 200, "agent": 30000}""");
        Assert.Equal(200, thresholds.For("ws.ping", "ws"));
        Assert.Equal(30000, thresholds.For("agent.completion", "agent"));
        Assert.Null(thresholds.For("auth.me", "auth"));
        Assert.Equal(5, Thresholds.Parse("""{"max_ms": {"health": 5}}""").For("health.api", "health"));
        Assert.Throws<FormatException>(() => Thresholds.Parse("""{"no.such.check": 5}"""));
        Assert.Throws<FormatException>(() => Thresholds.Parse("""{"ws.ping": -1}"""));
        Assert.Throws<FormatException>(() => Thresholds.Parse("[1, 2]"));
        await Task.CompletedTask;
    }

    [Fact(Timeout = 10_000)]
    public async Task Only_adds_the_phases_a_phase_needs()
    {
        Assert.Equal(IsolationPhases, Phases.Resolve(new HashSet<string> { "isolation" }).Order());
        Assert.Equal(PingPhases, Phases.Resolve(new HashSet<string> { "ws.ping" }).Order());
        Assert.Throws<ArgumentException>(() => Phases.Resolve(new HashSet<string> { "everything" }));
        await Task.CompletedTask;
    }

    [Fact(Timeout = 10_000)]
    public async Task Percentiles_use_the_nearest_rank()
    {
        double[] values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        Assert.Equal(5, VerifyRunner.Percentile(values, 0.5));
        Assert.Equal(10, VerifyRunner.Percentile(values, 0.95));
        Assert.Equal(0, VerifyRunner.Percentile([], 0.5));
        await Task.CompletedTask;
    }

    [Fact(Timeout = 10_000)]
    public async Task A_run_trace_finds_gaps_unpaired_tools_and_bad_nesting()
    {
        var trace = new RunTrace();
        long seq = 10;
        Frame Event(string type, string agent, string payload) =>
            new($"{{\"type\":\"{type}\",\"seq\":{++seq},\"run_id\":\"run_1\",\"thread_id\":\"thr_1\",\"agent_name\":\"{agent}\",\"timestamp\":\"2026-11-26T10:00:00Z\",\"payload\":{payload}}}",
                Json.TryParse($"{{\"type\":\"{type}\",\"seq\":{seq},\"run_id\":\"run_1\",\"thread_id\":\"thr_1\",\"agent_name\":\"{agent}\",\"timestamp\":\"2026-11-26T10:00:00Z\",\"payload\":{payload}}}"),
                TimeSpan.Zero);
        trace.Add(Event("agent_started", "apex", "{\"message\":\"hi\"}"));
        trace.Add(Event("tool_executing", "apex", "{\"tool_call_id\":\"c1\",\"tool_name\":\"parse_request\",\"parameters\":{}}"));
        seq++; // a lost event
        trace.Add(Event("tool_completed", "apex", "{\"tool_call_id\":\"c2\",\"tool_name\":\"parse_request\",\"ok\":true,\"duration_ms\":1}"));
        trace.Add(Event("agent_thinking", "triage", "{\"reasoning\":\"x\",\"step\":1}"));
        trace.Add(Event("agent_completed", "apex", "{\"status\":\"completed\",\"final\":true,\"report\":{}}"));

        Assert.True(trace.Finished);
        var seqProblems = RunTrace.SeqProblems(trace.Stream, 10);
        Assert.Contains(seqProblems, p => p.Contains("gap: seq 14", StringComparison.Ordinal));
        var (tools, _) = trace.ToolProblems();
        Assert.Contains(tools, p => p.Contains("c2", StringComparison.Ordinal));
        Assert.Contains(tools, p => p.Contains("c1", StringComparison.Ordinal) && p.Contains("never completed", StringComparison.Ordinal));
        Assert.Contains(trace.OrderProblems(), p => p.Contains("'triage'", StringComparison.Ordinal));
        await Task.CompletedTask;
    }
}
