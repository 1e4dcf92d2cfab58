using System.Security.Cryptography;
using System.Text.Json;
using Apex.Verify.Probe;

namespace Apex.Verify.Checks;

/// <summary>Phase 4: sign-in, token validation, /auth/me, 401 before 422, logout revokes.</summary>
internal static class AuthPhase
{
    private static readonly string[] MeFields = ["id", "email", "created_at", "providers"];

    public const string ProbeDomain = "probe.apex.invalid";

    public static async Task RunAsync(VerifyContext ctx, CancellationToken ct)
    {
        var e = ctx.Endpoints;
        var s = ctx.Settings;
        bool? registrationOpen = null;
        List<string> signInProviders = [];

        await ctx.CheckAsync("auth.config", "/auth/config", async _ =>
        {
            var body = (await ctx.Http.GetAsync(e.AuthPath("auth/config"), null, ct)).Expect(200).ExpectJsonObject();
            if (body.Prop("providers") is not { ValueKind: JsonValueKind.Array } providers)
            {
                throw new CheckFailedException("/auth/config has no providers list");
            }

            registrationOpen = body.Bool("registration_open");
            var names = providers.EnumerateArray().Select(p => p.GetString()).ToList();
            signInProviders = [.. names.OfType<string>().Where(n => n != "password")];
            if (!names.Contains("password"))
            {
                throw new CheckFailedException($"/auth/config providers [{string.Join(", ", names)}] lack password");
            }

            return $"providers {string.Join(", ", names)}; registration {(registrationOpen == false ? "closed" : "open")}";
        }, ct, needs: [Facts.Auth]);

        await ctx.CheckAsync("auth.providers", "each sign-in provider's login redirect is well formed", async _ =>
        {
            if (signInProviders.Count == 0)
            {
                return "no sign-in provider besides password is configured";
            }

            var described = new List<string>();
            foreach (var provider in signInProviders)
            {
                var login = await ctx.Http.GetAsync(e.AuthPath($"auth/login?provider={Uri.EscapeDataString(provider)}"), null, ct);
                var endpoint = ProviderRedirect.Check(provider, login, e.Auth);
                described.Add($"{provider} -> {endpoint} ({await ProviderRedirect.DiscoveryAsync(ctx.Http, provider, login.Headers.Location!, ct)})");
            }

            return string.Join("; ", described);
        }, ct, needs: [Facts.Auth]);

        await ctx.CheckAsync("auth.sign_in", SignInTitle(s.CredentialMode), async _ =>
        {
            switch (s.CredentialMode)
            {
                case ProbeCredentialMode.Token:
                    ctx.Remember(s.Token);
                    var me = (await ctx.Http.GetAsync(e.AuthPath("auth/me"), s.Token, ct)).Expect(200).ExpectJsonObject();
                    ctx.UserA = new ProbeSession(me.Str("email") ?? "?", null, s.Token!, null, me.Str("id"));
                    return $"the given token is accepted for {ctx.UserA.Email} ({ctx.UserA.UserId})";
                case ProbeCredentialMode.Password:
                    ctx.Remember(s.Password);
                    ctx.UserA = await LoginAsync(ctx, s.Email!, s.Password!, ct);
                    return $"signed in {ctx.UserA.Email} ({ctx.UserA.UserId})";
                default:
                    if (ctx.Accounts.First is { } known)
                    {
                        ctx.UserA = await LoginAsync(ctx, known.Email, known.Password, ct);
                        return $"signed in probe user {known.Email} ({ctx.UserA.UserId}) registered by an earlier iteration";
                    }

                    if (registrationOpen == false)
                    {
                        throw new CheckFailedException("registration is closed on this deployment; use --email/--password or --token");
                    }

                    var (session, expires) = await RegisterAsync(ctx, ct);
                    ctx.UserA = session;
                    ctx.Accounts.First = (session.Email, session.Password!);
                    return $"registered probe user {session.Email} ({session.UserId}); access token valid {expires} s";
            }
        }, ct, needs: [Facts.Auth], provides: Facts.Session);

        await ctx.CheckAsync("auth.validate", "/auth/validate accepts the token, refuses garbage", async _ =>
        {
            var a = ctx.UserA!;
            var body = (await ctx.Http.PostAsync(e.AuthPath("auth/validate"), null, new { token = a.AccessToken }, ct)).Expect(200).ExpectJsonObject();
            if (body.Bool("valid") != true)
            {
                throw new CheckFailedException("/auth/validate answered 200 without valid: true");
            }

            if (a.UserId is not null && body.Str("user_id") != a.UserId)
            {
                throw new CheckFailedException($"/auth/validate user_id '{body.Str("user_id")}' is not the signed-in user {a.UserId}");
            }

            var exp = body.Long("exp");
            if (exp is null || DateTimeOffset.FromUnixTimeSeconds(exp.Value) < DateTimeOffset.UtcNow)
            {
                throw new CheckFailedException($"/auth/validate exp {exp?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "missing"} is not in the future");
            }

            var garbage = await ctx.Http.PostAsync(e.AuthPath("auth/validate"), null, new { token = "not-a-token" }, ct);
            garbage.Expect(401);
            if (garbage.Json.Bool("valid") != false)
            {
                throw new CheckFailedException("/auth/validate answered 401 for a garbage token without valid: false");
            }

            return $"valid for {body.Str("email")}, exp in {exp - DateTimeOffset.UtcNow.ToUnixTimeSeconds()} s; a garbage token: 401 ({garbage.Json.Str("reason") ?? "no reason"})";
        }, ct, needs: [Facts.Session]);

        await ctx.CheckAsync("auth.me", "/auth/me", async _ =>
        {
            var a = ctx.UserA!;
            var body = (await ctx.Http.GetAsync(e.AuthPath("auth/me"), a.AccessToken, ct)).Expect(200).ExpectJsonObject();
            var missing = MeFields.Where(f => !((JsonElement?)body).Has(f)).ToList();
            if (missing.Count > 0)
            {
                throw new CheckFailedException($"/auth/me lacks {string.Join(", ", missing)}");
            }

            if (!string.Equals(body.Str("email"), a.Email, StringComparison.OrdinalIgnoreCase) && a.Email != "?")
            {
                throw new CheckFailedException($"/auth/me email '{body.Str("email")}' is not the signed-in {a.Email}");
            }

            if (a.UserId is not null && body.Str("id") != a.UserId)
            {
                throw new CheckFailedException($"/auth/me id '{body.Str("id")}' is not {a.UserId}");
            }

            ctx.UserA = a with { UserId = body.Str("id") };
            return $"{body.Str("email")} ({body.Str("id")})";
        }, ct, needs: [Facts.Session]);

        await ctx.CheckAsync("auth.no_token", "no token or a bad token: 401 problem", async _ =>
        {
            var targets = new List<Uri> { e.AuthPath("auth/me") };
            if (ctx.Has(Facts.Api))
            {
                targets.Add(e.ApiPath("api/threads"));
            }

            foreach (var target in targets)
            {
                var none = await ctx.Http.GetAsync(target, null, ct);
                none.Expect(401).ExpectProblem();
                var bad = await ctx.Http.GetAsync(target, "not.a.jwt", ct);
                bad.Expect(401).ExpectProblem();
            }

            return $"{string.Join(", ", targets.Select(t => t.AbsolutePath))}: 401 problem JSON without a token and with a malformed one";
        }, ct, needs: [Facts.Auth]);

        await ctx.CheckAsync("auth.bad_body_no_token", "a bad body without a token: 401, not 422", async _ =>
        {
            var results = new List<string>();
            foreach (var (name, body) in BadBodies)
            {
                var response = await ctx.Http.PostAsync(e.ApiPath("api/threads"), null, body, ct);
                if (response.Status == 422)
                {
                    throw new CheckFailedException($"POST /api/threads with {name} and no token -> 422: the body was validated before authentication");
                }

                response.Expect(401);
                results.Add(name);
            }

            return $"POST /api/threads with {string.Join(" / ", results)} and no token -> 401";
        }, ct, needs: [Facts.Api]);

        await ctx.CheckAsync("auth.bad_body_with_token", "a bad body with a token: 422 problem", async _ =>
        {
            var results = new List<string>();
            foreach (var (name, body) in BadBodies)
            {
                var response = await ctx.Http.PostAsync(e.ApiPath("api/threads"), ctx.UserA!.AccessToken, body, ct);
                response.Expect(422).ExpectProblem();
                results.Add(name);
            }

            return $"POST /api/threads with {string.Join(" / ", results)} -> 422 problem JSON";
        }, ct, needs: [Facts.Api, Facts.Session]);

        await ctx.CheckAsync("auth.second_user", "a second probe user", async _ =>
        {
            if (s.CredentialMode != ProbeCredentialMode.RegisterProbe)
            {
                throw new CheckSkippedException("needs --register-probe: the ownership and isolation checks use a second user");
            }

            if (ctx.Accounts.Second is { } known)
            {
                ctx.UserB = await LoginAsync(ctx, known.Email, known.Password, ct);
                return $"signed in {known.Email} ({ctx.UserB.UserId})";
            }

            var (session, _) = await RegisterAsync(ctx, ct);
            ctx.UserB = session;
            ctx.Accounts.Second = (session.Email, session.Password!);
            if (session.UserId == ctx.UserA!.UserId)
            {
                throw new CheckFailedException($"the second probe user got the first one's id {session.UserId}");
            }

            return $"registered {session.Email} ({session.UserId})";
        }, ct, needs: [Facts.Session], provides: Facts.SecondSession);

        await ctx.CheckAsync("auth.logout", "logout revokes the session", async _ =>
        {
            if (ctx.UserA!.Password is null)
            {
                throw new CheckSkippedException("needs a password sign-in to open a session it may revoke (--token given)");
            }

            var a = ctx.UserA;
            var other = await LoginAsync(ctx, a.Email, a.Password, ct);
            var logout = await ctx.Http.PostAsync(e.AuthPath("auth/logout"), other.AccessToken, new { refresh_token = other.RefreshToken }, ct);
            logout.Expect(204, 200);
            (await ctx.Http.GetAsync(e.AuthPath("auth/me"), other.AccessToken, ct)).Expect(401);
            var refresh = await ctx.Http.PostAsync(e.AuthPath("auth/refresh"), null, new { refresh_token = other.RefreshToken }, ct);
            if (refresh.Status != 401)
            {
                throw new CheckFailedException($"the logged-out session's refresh token still works: {refresh.Describe()}");
            }

            (await ctx.Http.GetAsync(e.AuthPath("auth/me"), a.AccessToken, ct)).Expect(200);
            return "after logout the session's access token gets 401 on /auth/me, its refresh token 401; the probe's other session still works";
        }, ct, needs: [Facts.Session]);
    }

    /// <summary>Bodies no route can accept: broken JSON, and a field of the wrong type.</summary>
    private static readonly (string Name, string Body)[] BadBodies =
    [
        ("malformed JSON", "{\"title\": "),
        ("a non-string title", "{\"title\": {\"not\": \"a string\"}}"),
    ];

    private static string SignInTitle(ProbeCredentialMode mode) => mode switch
    {
        ProbeCredentialMode.Token => "the given token signs in",
        ProbeCredentialMode.Password => "sign in with email and password",
        _ => "register (or sign in) a probe user",
    };

    public static (string Email, string Password) NewProbeCredentials()
    {
        var email = $"verify+{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}@{ProbeDomain}";
        // 144 random bits; the fixed tail covers policies that want several character classes.
        var password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)).Replace('+', 'x').Replace('/', 'y') + "-Vf9";
        return (email, password);
    }

    private static async Task<(ProbeSession Session, long ExpiresIn)> RegisterAsync(VerifyContext ctx, CancellationToken ct)
    {
        var (email, password) = NewProbeCredentials();
        ctx.Remember(password);
        var response = await ctx.Http.PostAsync(ctx.Endpoints.AuthPath("auth/register"), null, new { email, password, name = "apex verify probe" }, ct);
        response.Expect(201);
        return ReadTokenPair(ctx, response, email, password);
    }

    private static async Task<ProbeSession> LoginAsync(VerifyContext ctx, string email, string password, CancellationToken ct)
    {
        var response = await ctx.Http.PostAsync(ctx.Endpoints.AuthPath("auth/login"), null, new { email, password }, ct);
        if (response.Status == 429)
        {
            throw new CheckFailedException($"{response.Describe()}: sign-in throttled (Retry-After {response.Header("Retry-After") ?? "not given"})");
        }

        response.Expect(200);
        return ReadTokenPair(ctx, response, email, password).Session;
    }

    /// <summary>Checks a token pair (docs/spec/auth-api.md 1) and remembers its tokens as secrets.</summary>
    private static (ProbeSession Session, long ExpiresIn) ReadTokenPair(VerifyContext ctx, ProbeResponse response, string email, string password)
    {
        var body = response.ExpectJsonObject();
        var access = body.Str("access_token");
        var refresh = body.Str("refresh_token");
        ctx.Remember(access);
        ctx.Remember(refresh);
        var problems = new List<string>();
        if (string.IsNullOrEmpty(access))
        {
            problems.Add("no access_token");
        }

        if (string.IsNullOrEmpty(refresh))
        {
            problems.Add("no refresh_token");
        }

        if (!string.Equals(body.Str("token_type"), "Bearer", StringComparison.OrdinalIgnoreCase))
        {
            problems.Add($"token_type '{body.Str("token_type")}' is not Bearer");
        }

        var expires = body.Long("expires_in");
        if (expires is null or <= 0)
        {
            problems.Add("expires_in is not a positive number");
        }

        if (body.Long("refresh_expires_in") is null or <= 0)
        {
            problems.Add("refresh_expires_in is not a positive number");
        }

        var user = body.Prop("user");
        if (user.Str("id") is null)
        {
            problems.Add("no user.id");
        }

        if (problems.Count > 0)
        {
            throw new CheckFailedException($"{response.Describe()}: token pair {string.Join(", ", problems)}");
        }

        return (new ProbeSession(email, password, access!, refresh, user.Str("id")), expires!.Value);
    }
}
