namespace Apex.Verify;

public enum CheckStatus
{
    Pass,

    /// <summary>Passed, but took longer than its threshold: the verdict becomes "degraded".</summary>
    Slow,
    Fail,
    Skip,
}

public enum Verdict
{
    Pass,
    Degraded,
    Fail,
}

/// <summary>The outcome of one timed check.</summary>
public sealed record CheckResult
{
    /// <summary>Stable id such as <c>auth.me</c>; thresholds and <c>--only</c> use it.</summary>
    public required string Id { get; init; }

    public required string Phase { get; init; }
    public required string Title { get; init; }
    public required CheckStatus Status { get; init; }

    /// <summary>
    /// Wall time of the check, or the quantity it measures when that differs (time to first agent
    /// event, ping round trip).
    /// </summary>
    public required TimeSpan Duration { get; init; }

    public double? ThresholdMs { get; init; }
    public required string Detail { get; init; }
}

/// <summary>One run of the whole suite.</summary>
public sealed record IterationResult
{
    public required int Iteration { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public required TimeSpan Duration { get; init; }
    public required IReadOnlyList<CheckResult> Checks { get; init; }

    /// <summary>Set when the API could not be reached at all (exit code 2).</summary>
    public string? ConnectionError { get; init; }

    public Verdict Verdict => VerdictOf(Checks);

    public static Verdict VerdictOf(IEnumerable<CheckResult> checks)
    {
        var verdict = Verdict.Pass;
        var passed = 0;
        foreach (var check in checks)
        {
            if (check.Status is CheckStatus.Pass or CheckStatus.Slow)
            {
                passed++;
            }

            if (check.Status == CheckStatus.Fail)
            {
                return Verdict.Fail;
            }

            if (check.Status == CheckStatus.Slow)
            {
                verdict = Verdict.Degraded;
            }
        }

        // Nothing verified is not a pass.
        return passed == 0 ? Verdict.Fail : verdict;
    }
}

/// <summary>Per-check figures over every iteration of a <c>--repeat</c> run.</summary>
public sealed record CheckStats
{
    public required string Id { get; init; }
    public required string Phase { get; init; }
    public required string Title { get; init; }
    public required int Runs { get; init; }
    public required int Failures { get; init; }
    public required int Slow { get; init; }
    public required int Skipped { get; init; }
    public required double P50Ms { get; init; }
    public required double P95Ms { get; init; }
    public required double MaxMs { get; init; }
}

/// <summary>Where the checks were pointed.</summary>
public sealed record VerifyTarget
{
    public required string BaseUrl { get; init; }
    public required string AuthUrl { get; init; }
    public required string WsUrl { get; init; }
    public required string WebUrl { get; init; }
    public string? ServerVersion { get; init; }
}

/// <summary>Everything the report writers need.</summary>
public sealed record VerifyReport
{
    public required VerifyTarget Target { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public required TimeSpan Duration { get; init; }
    public required IReadOnlyList<IterationResult> Iterations { get; init; }
    public required IReadOnlyList<CheckStats> Stats { get; init; }
    public required IReadOnlyList<string> Notes { get; init; }

    public Verdict Verdict => Iterations.Select(i => i.Verdict).DefaultIfEmpty(Verdict.Fail).Max();

    public string? ConnectionError => Iterations.Select(i => i.ConnectionError).FirstOrDefault(e => e is not null);

    /// <summary>0 pass, 1 degraded or fail, 2 when the deployment could not be reached.</summary>
    public int ExitCode => ConnectionError is not null ? ExitCodes.UsageOrConnection : Verdict == Verdict.Pass ? ExitCodes.Pass : ExitCodes.Failed;

    public IterationResult Last => Iterations[^1];
}

public static class ExitCodes
{
    public const int Pass = 0;
    public const int Failed = 1;
    public const int UsageOrConnection = 2;
}

public static class VerdictText
{
    public static string Of(Verdict verdict) => verdict switch
    {
        Verdict.Pass => "pass",
        Verdict.Degraded => "degraded",
        _ => "fail",
    };

    public static string Of(CheckStatus status) => status switch
    {
        CheckStatus.Pass => "pass",
        CheckStatus.Slow => "slow",
        CheckStatus.Fail => "fail",
        _ => "skip",
    };
}
