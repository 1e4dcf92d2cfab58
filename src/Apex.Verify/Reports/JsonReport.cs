using System.Text.Json;
using System.Text.Json.Serialization;

namespace Apex.Verify.Reports;

/// <summary>The machine-readable report: snake_case JSON with every iteration and the statistics.</summary>
public static class JsonReport
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string Render(VerifyReport report)
    {
        var document = new
        {
            verdict = VerdictText.Of(report.Verdict),
            exit_code = report.ExitCode,
            connection_error = report.ConnectionError,
            started_at = report.StartedAt,
            duration_ms = Math.Round(report.Duration.TotalMilliseconds, 1),
            target = report.Target,
            notes = report.Notes,
            iterations = report.Iterations.Select(i => new
            {
                iteration = i.Iteration,
                verdict = VerdictText.Of(i.Verdict),
                started_at = i.StartedAt,
                duration_ms = Math.Round(i.Duration.TotalMilliseconds, 1),
                checks = i.Checks.Select(c => new
                {
                    id = c.Id,
                    phase = c.Phase,
                    title = c.Title,
                    result = VerdictText.Of(c.Status),
                    duration_ms = Math.Round(c.Duration.TotalMilliseconds, 1),
                    threshold_ms = c.ThresholdMs,
                    detail = c.Detail,
                }),
            }),
            stats = report.Stats.Select(s => new
            {
                id = s.Id,
                phase = s.Phase,
                runs = s.Runs,
                failures = s.Failures,
                slow = s.Slow,
                skipped = s.Skipped,
                p50_ms = Math.Round(s.P50Ms, 1),
                p95_ms = Math.Round(s.P95Ms, 1),
                max_ms = Math.Round(s.MaxMs, 1),
            }),
        };
        return JsonSerializer.Serialize(document, Options);
    }
}
