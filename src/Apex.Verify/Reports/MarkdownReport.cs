using System.Globalization;
using System.Text;

namespace Apex.Verify.Reports;

/// <summary>The worklog: one table per phase (check, result, time, detail) and a plain verdict.</summary>
public static class MarkdownReport
{
    public static string Render(VerifyReport report)
    {
        var md = new StringBuilder();
        var last = report.Last;
        md.AppendLine("# apex verify");
        md.AppendLine();
        md.AppendLine(Inv($"Verdict: **{VerdictText.Of(report.Verdict)}**"));
        md.AppendLine();
        md.AppendLine(Inv($"- API: {report.Target.BaseUrl}"));
        md.AppendLine(Inv($"- auth: {report.Target.AuthUrl}"));
        md.AppendLine(Inv($"- WebSocket: {report.Target.WsUrl}"));
        md.AppendLine(Inv($"- web: {report.Target.WebUrl}"));
        md.AppendLine(Inv($"- server version: {report.Target.ServerVersion ?? "unknown"}"));
        md.AppendLine(Inv($"- started: {report.StartedAt:yyyy-MM-dd HH:mm:ss} UTC, took {report.Duration.TotalSeconds:0.0} s"));
        if (report.Iterations.Count > 1)
        {
            md.AppendLine(Inv($"- iterations: {report.Iterations.Count} ({report.Iterations.Count(i => i.Verdict == Verdict.Pass)} pass, {report.Iterations.Count(i => i.Verdict == Verdict.Degraded)} degraded, {report.Iterations.Count(i => i.Verdict == Verdict.Fail)} fail)"));
        }

        md.AppendLine(Inv($"- checks{(report.Iterations.Count > 1 ? " (last iteration)" : string.Empty)}: {Count(last, CheckStatus.Pass)} passed, {Count(last, CheckStatus.Slow)} over threshold, {Count(last, CheckStatus.Fail)} failed, {Count(last, CheckStatus.Skip)} skipped"));
        if (report.ConnectionError is { } error)
        {
            md.AppendLine(Inv($"- connection error: {Cell(error)}"));
        }

        foreach (var note in report.Notes)
        {
            md.AppendLine(Inv($"- {note}"));
        }

        if (report.Iterations.Count > 1)
        {
            md.AppendLine();
            md.AppendLine("## Over all iterations");
            md.AppendLine();
            md.AppendLine("| check | runs | failed | slow | skipped | p50 | p95 | max |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var s in report.Stats)
            {
                md.AppendLine(Inv($"| {s.Id} | {s.Runs} | {s.Failures} | {s.Slow} | {s.Skipped} | {Ms(s.P50Ms)} | {Ms(s.P95Ms)} | {Ms(s.MaxMs)} |"));
            }

            var failures = report.Iterations.SelectMany(i => i.Checks.Where(c => c.Status is CheckStatus.Fail or CheckStatus.Slow).Select(c => (i.Iteration, c))).ToList();
            if (failures.Count > 0)
            {
                md.AppendLine();
                md.AppendLine("| iteration | check | result | detail |");
                md.AppendLine("|---:|---|---|---|");
                foreach (var (iteration, c) in failures)
                {
                    md.AppendLine(Inv($"| {iteration} | {c.Id} | {VerdictText.Of(c.Status)} | {Cell(c.Detail)} |"));
                }
            }
        }

        foreach (var phase in Phases.All)
        {
            var checks = last.Checks.Where(c => c.Phase == phase.Id).ToList();
            if (checks.Count == 0)
            {
                continue;
            }

            md.AppendLine();
            md.AppendLine(Inv($"## {phase.Number}. {phase.Title}{(report.Iterations.Count > 1 ? Inv($" (iteration {last.Iteration})") : string.Empty)}"));
            md.AppendLine();
            md.AppendLine("| check | result | time | detail |");
            md.AppendLine("|---|---|---:|---|");
            foreach (var c in checks)
            {
                var time = c.Status == CheckStatus.Skip ? "-" : Ms(c.Duration.TotalMilliseconds);
                md.AppendLine(Inv($"| {c.Id}: {Cell(c.Title)} | {VerdictText.Of(c.Status)} | {time} | {Cell(c.Detail)} |"));
            }
        }

        return md.ToString();
    }

    private static int Count(IterationResult iteration, CheckStatus status) => iteration.Checks.Count(c => c.Status == status);

    internal static string Ms(double ms) =>
        ms >= 10_000 ? Inv($"{ms / 1000:0.0} s") : ms >= 10 ? Inv($"{ms:0} ms") : Inv($"{ms:0.0} ms");

    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal).ReplaceLineEndings(" ");

    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
