using System.Diagnostics;
using Apex.Verify.Checks;
using Apex.Verify.Probe;

namespace Apex.Verify;

/// <summary>Runs the phases in order, once or <see cref="VerifySettings.Repeat"/> times.</summary>
public static class VerifyRunner
{
    public static async Task<VerifyReport> RunAsync(VerifySettings settings, IVerifyProgress progress, CancellationToken ct)
    {
        var phases = Phases.Resolve(settings.Only);
        var secrets = new Secrets();
        secrets.Add(settings.Password);
        secrets.Add(settings.Token);
        var accounts = new ProbeAccounts();
        var iterations = new List<IterationResult>();
        var started = DateTimeOffset.UtcNow;
        var total = Stopwatch.StartNew();
        Endpoints? endpoints = null;
        string? version = null;
        using var http = new ProbeHttp(settings.RequestTimeout);
        for (var i = 1; i <= Math.Max(1, settings.Repeat); i++)
        {
            if (i > 1 && settings.Interval > TimeSpan.Zero)
            {
                await Task.Delay(settings.Interval, ct);
            }

            progress.IterationStarted(i, Math.Max(1, settings.Repeat));
            var iterationStart = DateTimeOffset.UtcNow;
            var clock = Stopwatch.StartNew();
            endpoints = CreateEndpoints(settings);
            await using var ctx = new VerifyContext(settings, endpoints, http, phases, progress, secrets, accounts);
            await DiscoverAsync(ctx, ct);
            await RunPhasesAsync(ctx, phases, ct);
            version ??= ctx.ServerVersion;
            iterations.Add(new IterationResult
            {
                Iteration = i,
                StartedAt = iterationStart,
                Duration = clock.Elapsed,
                Checks = [.. ctx.Results],
                ConnectionError = ctx.ConnectionError,
            });
        }

        return new VerifyReport
        {
            Target = new VerifyTarget
            {
                BaseUrl = endpoints!.Api.ToString(),
                AuthUrl = endpoints.Auth.ToString(),
                WsUrl = endpoints.Ws.ToString(),
                WebUrl = endpoints.Web.ToString(),
                ServerVersion = version,
            },
            StartedAt = started,
            Duration = total.Elapsed,
            Iterations = iterations,
            Stats = Statistics(iterations),
            Notes = Notes(settings, phases, accounts),
        };
    }

    private static async Task RunPhasesAsync(VerifyContext ctx, IReadOnlySet<string> phases, CancellationToken ct)
    {
        foreach (var phase in Phases.All.Where(p => phases.Contains(p.Id)))
        {
            var run = phase.Id switch
            {
                Phases.Health => HealthPhase.RunAsync(ctx, ct),
                Phases.Web => WebPhase.RunAsync(ctx, ct),
                Phases.Cors => CorsPhase.RunAsync(ctx, ct),
                Phases.Auth => AuthPhase.RunAsync(ctx, ct),
                Phases.Api => ApiPhase.RunAsync(ctx, ct),
                Phases.WebSocket => WebSocketPhase.RunAsync(ctx, ct),
                Phases.Agent => AgentPhase.RunAsync(ctx, ct),
                Phases.Resume => ResumePhase.RunAsync(ctx, ct),
                Phases.Isolation => IsolationPhase.RunAsync(ctx, ct),
                _ => Task.CompletedTask,
            };
            await run;
        }
    }

    internal static Endpoints CreateEndpoints(VerifySettings settings)
    {
        var api = Endpoints.NormaliseBase(settings.BaseUrl);
        return new Endpoints
        {
            Api = api,
            Auth = settings.AuthUrl is { } auth ? Endpoints.NormaliseBase(auth) : api,
            Ws = Endpoints.NormaliseWs(settings.WsUrl ?? api),
            Web = settings.WebUrl ?? api,
            WebExplicit = settings.WebUrl is not null,
            AuthExplicit = settings.AuthUrl is not null,
            WsExplicit = settings.WsUrl is not null,
        };
    }

    /// <summary>
    /// Takes the auth and WebSocket addresses the deployment publishes in its public config, unless
    /// the operator named them. Failing to connect at all here is the "cannot reach" exit code.
    /// </summary>
    private static async Task DiscoverAsync(VerifyContext ctx, CancellationToken ct)
    {
        var e = ctx.Endpoints;
        ProbeResponse response;
        try
        {
            response = await ctx.Http.GetAsync(e.ApiPath("api/config/public"), null, ct);
        }
        catch (ProbeConnectionException ex)
        {
            ctx.ConnectionError = ex.Message;
            return;
        }
        catch (CheckFailedException)
        {
            return;
        }

        if (response.Status != 200)
        {
            return;
        }

        if (!e.AuthExplicit && response.Json.Str("auth_url") is { } auth && Uri.TryCreate(auth, UriKind.Absolute, out var authUri)
            && authUri.Scheme is "http" or "https")
        {
            // auth_url may name the service's base or its /auth route prefix; both lead to the same routes.
            var path = authUri.AbsolutePath.TrimEnd('/');
            e.Auth = Endpoints.NormaliseBase(path.EndsWith("/auth", StringComparison.OrdinalIgnoreCase)
                ? new UriBuilder(authUri) { Path = path[..^"/auth".Length] }.Uri
                : authUri);
        }

        if (!e.WsExplicit && response.Json.Str("ws_url") is { } ws && Uri.TryCreate(ws, UriKind.Absolute, out var wsUri)
            && wsUri.Scheme is "ws" or "wss" or "http" or "https")
        {
            e.Ws = Endpoints.NormaliseWs(wsUri);
        }
    }

    private static List<CheckStats> Statistics(List<IterationResult> iterations) =>
        iterations.SelectMany(i => i.Checks)
            .GroupBy(c => c.Id)
            .Select(g =>
            {
                var timed = g.Where(c => c.Status != CheckStatus.Skip).Select(c => c.Duration.TotalMilliseconds).Order().ToList();
                var first = g.First();
                return new CheckStats
                {
                    Id = g.Key,
                    Phase = first.Phase,
                    Title = first.Title,
                    Runs = g.Count(),
                    Failures = g.Count(c => c.Status == CheckStatus.Fail),
                    Slow = g.Count(c => c.Status == CheckStatus.Slow),
                    Skipped = g.Count(c => c.Status == CheckStatus.Skip),
                    P50Ms = Percentile(timed, 0.50),
                    P95Ms = Percentile(timed, 0.95),
                    MaxMs = timed.Count == 0 ? 0 : timed[^1],
                };
            })
            .ToList();

    /// <summary>Nearest-rank percentile of sorted values.</summary>
    internal static double Percentile(IReadOnlyList<double> sorted, double p)
    {
        if (sorted.Count == 0)
        {
            return 0;
        }

        var rank = (int)Math.Ceiling(p * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }

    private static List<string> Notes(VerifySettings settings, IReadOnlySet<string> phases, ProbeAccounts accounts)
    {
        var notes = new List<string>();
        var skipped = Phases.All.Where(p => !phases.Contains(p.Id)).Select(p => p.Id).ToList();
        if (skipped.Count > 0)
        {
            notes.Add($"Not selected (--only): {string.Join(", ", skipped)}.");
        }

        var probes = new[] { accounts.First, accounts.Second }.Where(a => a is not null && settings.CredentialMode == ProbeCredentialMode.RegisterProbe)
            .Select(a => a!.Value.Email).ToList();
        if (probes.Count > 0)
        {
            notes.Add($"Probe users registered (they stay; the @{AuthPhase.ProbeDomain} domain marks them): {string.Join(", ", probes)}.");
        }

        return notes;
    }
}
