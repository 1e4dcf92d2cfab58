using Apex.Verify.Probe;

namespace Apex.Verify.Checks;

/// <summary>Phase 3: browsers on the web origin may call the API and auth with credentials; others may not.</summary>
internal static class CorsPhase
{
    /// <summary>An origin no deployment allows (the .invalid TLD never resolves).</summary>
    public const string ForeignOrigin = "https://foreign.verify.apex.invalid";

    public static async Task RunAsync(VerifyContext ctx, CancellationToken ct)
    {
        var e = ctx.Endpoints;
        var webOrigin = Endpoints.Origin(e.Web);

        await ctx.CheckAsync("cors.api", "preflight from the web origin to the API", async _ =>
        {
            if (webOrigin == Endpoints.Origin(e.Api))
            {
                throw new CheckSkippedException($"the web app and the API share the origin {webOrigin}: browsers send no preflight");
            }

            var response = await PreflightAsync(ctx, e.ApiPath("api/threads"), webOrigin, "POST", "authorization,content-type", ct);
            return ExpectAllowed(response, webOrigin, "POST", "authorization");
        }, ct, needs: [Facts.Api]);

        await ctx.CheckAsync("cors.auth", "preflight from the web origin to auth", async _ =>
        {
            if (webOrigin == Endpoints.Origin(e.Auth))
            {
                throw new CheckSkippedException($"the web app and auth share the origin {webOrigin}: browsers send no preflight");
            }

            var response = await PreflightAsync(ctx, e.AuthPath("auth/login"), webOrigin, "POST", "content-type", ct);
            return ExpectAllowed(response, webOrigin, "POST", "content-type");
        }, ct, needs: [Facts.Auth]);

        await ctx.CheckAsync("cors.foreign_origin", "a foreign origin gets no CORS headers", async _ =>
        {
            var targets = new List<Uri> { e.ApiPath("api/threads") };
            if (!ctx.Lacks(Facts.Auth))
            {
                targets.Add(e.AuthPath("auth/login"));
            }

            foreach (var target in targets)
            {
                var response = await PreflightAsync(ctx, target, ForeignOrigin, "POST", "authorization,content-type", ct);
                var allowed = response.Header("Access-Control-Allow-Origin");
                if (allowed is not null && (allowed == "*" || allowed.Equals(ForeignOrigin, StringComparison.OrdinalIgnoreCase)))
                {
                    throw new CheckFailedException($"preflight from {ForeignOrigin} to {target.AbsolutePath} allowed (Access-Control-Allow-Origin: {allowed})");
                }
            }

            var simple = await ctx.Http.GetAsync(e.ApiPath("api/threads"), null, ct, [new("Origin", ForeignOrigin)]);
            if (simple.Header("Access-Control-Allow-Origin") is { } leaked)
            {
                throw new CheckFailedException($"GET /api/threads from {ForeignOrigin} got Access-Control-Allow-Origin: {leaked}");
            }

            return $"preflights to {string.Join(" and ", targets.Select(t => t.AbsolutePath))} from {ForeignOrigin} got no Access-Control-Allow-Origin";
        }, ct, needs: [Facts.Api]);
    }

    private static Task<ProbeResponse> PreflightAsync(VerifyContext ctx, Uri target, string origin, string method, string headers, CancellationToken ct) =>
        ctx.Http.SendAsync(HttpMethod.Options, target, null, null, ct,
        [
            new("Origin", origin),
            new("Access-Control-Request-Method", method),
            new("Access-Control-Request-Headers", headers),
        ]);

    private static string ExpectAllowed(ProbeResponse response, string origin, string method, string header)
    {
        var problems = new List<string>();
        if (response.Status is < 200 or > 299)
        {
            problems.Add($"status {response.Status}");
        }

        var allowOrigin = response.Header("Access-Control-Allow-Origin");
        if (allowOrigin is null)
        {
            problems.Add("no Access-Control-Allow-Origin");
        }
        else if (!allowOrigin.Equals(origin, StringComparison.OrdinalIgnoreCase))
        {
            problems.Add($"Access-Control-Allow-Origin is '{allowOrigin}', not the web origin");
        }

        if (!string.Equals(response.Header("Access-Control-Allow-Credentials"), "true", StringComparison.OrdinalIgnoreCase))
        {
            problems.Add("credentials not allowed (no Access-Control-Allow-Credentials: true)");
        }

        var methods = response.Header("Access-Control-Allow-Methods");
        if (methods is null || !methods.Contains(method, StringComparison.OrdinalIgnoreCase))
        {
            problems.Add($"Access-Control-Allow-Methods '{methods}' lacks {method}");
        }

        var headers = response.Header("Access-Control-Allow-Headers");
        if (headers is null || !headers.Contains(header, StringComparison.OrdinalIgnoreCase))
        {
            problems.Add($"Access-Control-Allow-Headers '{headers}' lacks {header}");
        }

        if (problems.Count > 0)
        {
            throw new CheckFailedException($"OPTIONS {response.Uri.AbsolutePath} from {origin}: {string.Join("; ", problems)}");
        }

        return $"OPTIONS {response.Uri.AbsolutePath} from {origin}: {response.Status}, origin and credentials allowed, methods {methods}";
    }
}
