using System.Text.Json;
using Apex.Verify.Probe;

namespace Apex.Verify.Checks;

/// <summary>Phase 1: each service answers /health with its uptime and database, readiness, version.</summary>
internal static class HealthPhase
{
    private static readonly string[] PublicConfigFields = ["app_name", "version", "auth_url", "ws_url", "features"];

    public static async Task RunAsync(VerifyContext ctx, CancellationToken ct)
    {
        var versions = new Dictionary<string, string>(StringComparer.Ordinal);
        var e = ctx.Endpoints;

        await ctx.CheckAsync("health.api", "API /health: status, uptime, database", async _ =>
        {
            ProbeResponse response;
            try
            {
                response = await ctx.Http.GetAsync(e.ApiPath("health"), null, ct);
            }
            catch (ProbeConnectionException ex)
            {
                ctx.ConnectionError ??= ex.Message;
                throw;
            }

            var detail = DescribeHealth(response, "api", versions);
            return detail;
        }, ct, provides: Facts.Api);

        await ctx.CheckAsync("health.api_ready", "API /health/ready", async _ =>
        {
            var response = await ctx.Http.GetAsync(e.ApiPath("health/ready"), null, ct);
            response.Expect(200);
            return $"{response.Describe()} in {response.Elapsed.TotalMilliseconds:0} ms";
        }, ct, needs: [Facts.Api]);

        await ctx.CheckAsync("health.config", "public config (/api/config/public)", async _ =>
        {
            var response = await ctx.Http.GetAsync(e.ApiPath("api/config/public"), null, ct);
            var body = response.Expect(200).ExpectJsonObject();
            var missing = PublicConfigFields.Where(f => !((JsonElement?)body).Has(f)).ToList();
            if (missing.Count > 0)
            {
                throw new CheckFailedException($"public config lacks {string.Join(", ", missing)}");
            }

            if (body.Str("version") is { } version)
            {
                versions["public config"] = version;
            }

            return $"{body.Str("app_name")} {body.Str("version")} ({body.Str("environment") ?? "no environment"}); " +
                $"auth {e.Auth}{(e.AuthExplicit ? " (from --auth-url)" : string.Empty)}, WebSocket {e.Ws}{(e.WsExplicit ? " (from --ws-url)" : string.Empty)}";
        }, ct, needs: [Facts.Api]);

        await ctx.CheckAsync("health.auth", "auth /auth/health: status, uptime, database", async _ =>
        {
            var response = await ctx.Http.GetAsync(e.AuthPath("auth/health"), null, ct);
            return DescribeHealth(response, "auth", versions);
        }, ct, provides: Facts.Auth);

        var wsOrigin = Endpoints.Origin(e.WsHttpOrigin);
        if (wsOrigin != Endpoints.Origin(e.Api) && wsOrigin != Endpoints.Origin(e.Auth))
        {
            await ctx.CheckAsync("health.ws", "WebSocket service /health", async _ =>
            {
                var response = await ctx.Http.GetAsync(new Uri(e.WsHttpOrigin, "health"), null, ct);
                return DescribeHealth(response, "WebSocket", versions);
            }, ct);
        }

        await ctx.CheckAsync("health.version", "one version across services", _ =>
        {
            if (versions.Count == 0)
            {
                throw new CheckFailedException("no service reported a version");
            }

            var distinct = versions.Values.Distinct(StringComparer.Ordinal).ToList();
            ctx.ServerVersion = distinct[0];
            if (distinct.Count > 1)
            {
                throw new CheckFailedException("services report different versions: " + string.Join(", ", versions.Select(kv => $"{kv.Key} {kv.Value}")));
            }

            return Task.FromResult($"{distinct[0]} ({string.Join(", ", versions.Keys)})");
        }, ct, needs: [Facts.Api]);
    }

    /// <summary>Checks a health body of docs/spec/auth-api.md 1 or docs/spec/rest-api.md "Service" and describes it.</summary>
    private static string DescribeHealth(ProbeResponse response, string service, Dictionary<string, string> versions)
    {
        var body = response.Json;
        if (response.Status == 503)
        {
            throw new CheckFailedException($"{response.Describe()}: unhealthy ({Checks(body)})");
        }

        response.Expect(200);
        var obj = response.ExpectJsonObject();
        var status = obj.Str("status");
        var version = obj.Str("version");
        var uptime = ((JsonElement?)obj).Double("uptime_seconds");
        var database = Database(obj);
        var problems = new List<string>();
        if (status is null)
        {
            problems.Add("no status");
        }
        else if (!IsHealthy(status))
        {
            problems.Add($"status '{status}'");
        }

        if (version is null)
        {
            problems.Add("no version");
        }

        if (uptime is null or < 0)
        {
            problems.Add("no uptime_seconds");
        }

        if (database is null)
        {
            problems.Add("no database status");
        }
        else if (!IsHealthy(database))
        {
            problems.Add($"database '{database}'");
        }

        if (problems.Count > 0)
        {
            throw new CheckFailedException($"{response.Describe()}: {string.Join(", ", problems)}");
        }

        versions[service] = version!;
        return $"{status}, {obj.Str("service") ?? service} {version}, up {uptime:0} s, database {database}, {response.Elapsed.TotalMilliseconds:0} ms";
    }

    private static bool IsHealthy(string status) =>
        status.Equals("healthy", StringComparison.OrdinalIgnoreCase) || status.Equals("ok", StringComparison.OrdinalIgnoreCase)
        || status.Equals("up", StringComparison.OrdinalIgnoreCase) || status.Equals("pass", StringComparison.OrdinalIgnoreCase);

    /// <summary><c>database</c> (auth service) or <c>checks.database</c> (API), as a string or an object with a status.</summary>
    private static string? Database(JsonElement body)
    {
        var value = body.Prop("database") ?? body.Prop("checks").Prop("database");
        return value switch
        {
            { ValueKind: JsonValueKind.String } s => s.GetString(),
            { ValueKind: JsonValueKind.Object } o => o.Str("status"),
            { ValueKind: JsonValueKind.True } => "ok",
            { ValueKind: JsonValueKind.False } => "down",
            _ => null,
        };
    }

    private static string Checks(JsonElement? body)
    {
        if (body.Prop("checks") is { ValueKind: JsonValueKind.Object } checks)
        {
            return string.Join(", ", checks.EnumerateObject().Select(p => $"{p.Name} {(p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : p.Value.Str("status") ?? p.Value.ToString())}"));
        }

        return body.Str("database") is { } db ? $"database {db}" : "no details";
    }
}
