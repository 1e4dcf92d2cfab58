using System.Globalization;
using Apex.Auth.Abuse;
using Apex.Auth.Data;
using Apex.Auth.Keys;
using Apex.Auth.Passwords;
using Apex.Auth.Tokens;
using Apex.Auth.Users;
using Apex.Hosting;
using Apex.Hosting.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Apex.Auth.Http;

/// <summary>The routes of docs/spec/auth-api.md section 1 (the provider flow is in Oidc/OidcEndpoints).</summary>
internal static partial class AuthEndpoints
{
    public const string CredentialsRateLimitPolicy = "apex-auth-credentials";

    /// <summary>Auth bodies are a few hundred bytes; anything near this is not a client of ours.</summary>
    public const long MaxBodyBytes = 16 * 1024;

    private const string DevLoginDefaultEmail = "dev@apex.local";
    private static readonly string[] PasswordProviders = ["password"];

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var auth = endpoints.MapGroup("/auth")
            .WithTags("Auth")
            .WithRequestSizeLimit(MaxBodyBytes)
            .AddEndpointFilter(async (context, next) =>
            {
                // Token responses must never sit in a cache.
                context.HttpContext.Response.Headers.CacheControl = "no-store";
                return await next(context);
            });

        var credentials = auth.MapGroup("").RequireRateLimiting(CredentialsRateLimitPolicy);
        credentials.MapPost("/register", RegisterAsync);
        credentials.MapPost("/login", LoginAsync);
        credentials.MapPost("/refresh", RefreshAsync);
        credentials.MapPost("/dev/login", DevLoginAsync);

        var signedIn = auth.MapGroup("").RequireAuthorization();
        signedIn.MapGet("/me", MeAsync);
        signedIn.MapPost("/logout", LogoutAsync);

        auth.MapPost("/validate", ValidateAsync);
        auth.MapGet("/config", Config);
        Oidc.OidcEndpoints.Map(auth);

        var wellKnown = endpoints.MapGroup("/.well-known").WithTags("Auth");
        wellKnown.MapGet("/jwks.json", JwksAsync);
        wellKnown.MapGet("/openid-configuration", OpenIdConfiguration);
    }

    private static async Task<Results<Created<TokenPairResponse>, ProblemHttpResult>> RegisterAsync(
        RegisterRequest? body,
        UserAdmin accounts,
        PasswordService passwords,
        SessionService sessions,
        IOptions<AuthOptions> options,
        TimeProvider time,
        ILoggerFactory loggers,
        CancellationToken ct)
    {
        if (!options.Value.RegistrationOpen)
        {
            return Problems.Result(StatusCodes.Status403Forbidden, "Registration is closed on this deployment.");
        }

        var errors = new Dictionary<string, string[]>();
        var email = UserRules.NormalizeEmail(body?.Email ?? "");
        if (UserRules.EmailProblem(email) is { } emailProblem)
        {
            errors["email"] = [emailProblem];
        }

        var password = body?.Password ?? "";
        if (password.Length == 0)
        {
            errors["password"] = ["The password is required."];
        }
        else if (passwords.Weakness(password, email) is { } weakness)
        {
            errors["password"] = [weakness];
        }

        var name = string.IsNullOrWhiteSpace(body?.Name) ? null : body.Name.Trim();
        if (name is not null && UserRules.NameProblem(name) is { } nameProblem)
        {
            errors["name"] = [nameProblem];
        }

        if (errors.Count > 0)
        {
            return Problems.Validation(errors);
        }

        if (await accounts.CreateAsync(email, password, name, ct) is not { } user)
        {
            return EmailTaken();
        }

        var logger = loggers.CreateLogger(typeof(AuthEndpoints).FullName!);
        LogRegistered(logger, user.Id);
        var pair = await sessions.StartAsync(user, ct);
        return TypedResults.Created("/auth/me", ToResponse(pair, time, user));
    }

    private static async Task<Results<Ok<TokenPairResponse>, ProblemHttpResult>> LoginAsync(
        LoginRequest? body,
        AuthDbContext db,
        PasswordService passwords,
        LoginThrottle throttle,
        SessionService sessions,
        TimeProvider time,
        ILoggerFactory loggers,
        HttpContext http,
        CancellationToken ct)
    {
        var errors = new Dictionary<string, string[]>();
        var email = UserRules.NormalizeEmail(body?.Email ?? "");
        if (email.Length == 0)
        {
            errors["email"] = ["The email is required."];
        }
        else if (email.Length > UserRules.MaxEmailLength)
        {
            errors["email"] = [$"The email may have at most {UserRules.MaxEmailLength} characters."];
        }
        else if (email.Contains('\0', StringComparison.Ordinal))
        {
            // No registered address holds a NUL (registration refuses it), and PostgreSQL text cannot
            // store one: answering here keeps the throttle's write from failing.
            errors["email"] = ["The email is not a valid address."];
        }

        var password = body?.Password ?? "";
        if (password.Length == 0)
        {
            errors["password"] = ["The password is required."];
        }
        else if (password.Length > PasswordService.MaxLength)
        {
            errors["password"] = [$"The password may have at most {PasswordService.MaxLength} characters."];
        }

        if (errors.Count > 0)
        {
            return Problems.Validation(errors);
        }

        var logger = loggers.CreateLogger(typeof(AuthEndpoints).FullName!);
        if (throttle.TryAttempt(email) is { } wait)
        {
            LogThrottled(logger);
            return TooManyAttempts(http, wait);
        }

        if (await throttle.LockedForAsync(db, email, ct) is { } locked)
        {
            LogThrottled(logger);
            return TooManyAttempts(http, locked);
        }

        var user = await db.Users.AsNoTracking().Where(u => u.Email == email).FirstOrDefaultAsync(ct);
        var result = PasswordVerificationResult.Failed;
        if (user is { PasswordHash: { } hash, DisabledAt: null })
        {
            result = passwords.Verify(hash, password);
        }
        else
        {
            passwords.VerifyDummy(password);
        }

        if (result == PasswordVerificationResult.Failed || user is null)
        {
            await throttle.RecordFailureAsync(db, email, ct);
            LogLoginFailed(logger);
            return Problems.Result(StatusCodes.Status401Unauthorized, "The email or password is wrong.");
        }

        await LoginThrottle.ResetAsync(db, email, ct);
        if (result == PasswordVerificationResult.SuccessRehashNeeded)
        {
            var rehashed = passwords.Hash(password);
            var userId = user.Id;
            await db.Users.Where(u => u.Id == userId).ExecuteUpdateAsync(s => s.SetProperty(u => u.PasswordHash, rehashed), ct);
            LogRehashed(logger, user.Id, passwords.Iterations);
        }

        var pair = await sessions.StartAsync(user, ct);
        LogLoggedIn(logger, user.Id, pair.SessionId);
        return TypedResults.Ok(ToResponse(pair, time, user));
    }

    private static async Task<Results<Ok<TokenPairResponse>, ProblemHttpResult>> RefreshAsync(
        RefreshRequest? body, SessionService sessions, TimeProvider time, CancellationToken ct)
    {
        var token = body?.RefreshToken ?? body?.RefreshTokenAlias;
        if (string.IsNullOrWhiteSpace(token))
        {
            return Problems.Validation(new Dictionary<string, string[]> { ["refresh_token"] = ["The refresh token is required."] });
        }

        var (pair, failure) = await sessions.RefreshAsync(token, ct);
        if (pair is null)
        {
            return Problems.Result(StatusCodes.Status401Unauthorized, $"The refresh token was refused ({failure}).");
        }

        return TypedResults.Ok(ToResponse(pair, time, user: null));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> LogoutAsync(
        LogoutRequest? body,
        HttpContext http,
        SessionService sessions,
        TokenService tokens,
        Revocation.IRevocationStore revocations,
        CancellationToken ct)
    {
        if (http.Items[ApexAuthenticationHandler.ValidationItem] is not AccessTokenValidation { IsValid: true } access)
        {
            return Problems.Result(StatusCodes.Status401Unauthorized, "This route needs a Bearer access token.");
        }

        await revocations.RevokeTokenAsync(access.TokenId!, access.ExpiresAt!.Value, ct);
        if (access.Principal?.FindFirst(ApexClaims.SessionId)?.Value is { } sessionId)
        {
            await sessions.RevokeAsync(sessionId, ct);
        }

        var refresh = body?.RefreshToken ?? body?.RefreshTokenAlias;
        if (!string.IsNullOrWhiteSpace(refresh))
        {
            var (presented, _) = await tokens.CheckAsync(refresh, TokenTypes.Refresh, ct);
            // Only the caller's own sessions: a stranger's refresh token is ignored, not revoked.
            if (presented is { SessionId: { } other } && presented.UserId == access.UserId)
            {
                await sessions.RevokeAsync(other, ct);
            }
        }

        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<UserResponse>, ProblemHttpResult>> MeAsync(HttpContext http, AuthDbContext db, Oidc.OidcAccounts identities, CancellationToken ct)
    {
        var userId = http.User.GetUserId();
        var user = await db.Users.AsNoTracking().Where(u => u.Id == userId && u.DisabledAt == null).FirstOrDefaultAsync(ct);
        if (user is null)
        {
            return Problems.Result(StatusCodes.Status401Unauthorized, "The account of this token no longer exists.");
        }

        return TypedResults.Ok(ToUser(user, await identities.ProvidersOfAsync(user.Id, ct)));
    }

    private static async Task<Results<Ok<ValidateResponse>, ProblemHttpResult>> ValidateAsync(
        ValidateRequest? body, HttpContext http, IAccessTokenValidator validator, CancellationToken ct)
    {
        var token = body?.Token;
        AccessTokenValidation result;
        if (token is null && http.Items[ApexAuthenticationHandler.ValidationItem] is AccessTokenValidation checkedByScheme)
        {
            // The authentication middleware already checked this request's Bearer token.
            result = checkedByScheme;
        }
        else
        {
            token ??= ApexAuthenticationHandler.ReadBearer(http.Request);
            result = string.IsNullOrWhiteSpace(token)
                ? AccessTokenValidation.Fail(TokenFailureReasons.Missing)
                : await validator.ValidateAsync(token, ct);
        }

        if (!result.IsValid)
        {
            var problem = Problems.Create(StatusCodes.Status401Unauthorized, $"The token is not valid ({result.FailureReason}).");
            problem.Extensions["valid"] = false;
            problem.Extensions["reason"] = result.FailureReason;
            return TypedResults.Problem(problem);
        }

        return TypedResults.Ok(new ValidateResponse
        {
            Valid = true,
            UserId = result.UserId,
            Email = result.Email,
            Exp = result.ExpiresAt?.ToUnixTimeSeconds(),
        });
    }

    private static async Task<Results<Ok<TokenPairResponse>, ProblemHttpResult>> DevLoginAsync(
        DevLoginRequest? body,
        IHostEnvironment environment,
        AuthDbContext db,
        UserAdmin accounts,
        SessionService sessions,
        TimeProvider time,
        CancellationToken ct)
    {
        if (!environment.IsDevelopment())
        {
            return Problems.Result(StatusCodes.Status404NotFound, "No resource at this address.");
        }

        var email = UserRules.NormalizeEmail(string.IsNullOrWhiteSpace(body?.Email) ? DevLoginDefaultEmail : body.Email);
        if (UserRules.EmailProblem(email) is { } problem)
        {
            return Problems.Validation(new Dictionary<string, string[]> { ["email"] = [problem] });
        }

        // A password-less account, created through the same path as every other account; a concurrent
        // dev login that created it first is simply found.
        var user = await db.Users.AsNoTracking().Where(u => u.Email == email).FirstOrDefaultAsync(ct)
            ?? await accounts.CreateAsync(email, password: null, name: null, ct)
            ?? await db.Users.AsNoTracking().Where(u => u.Email == email).FirstAsync(ct);

        if (user.DisabledAt is not null)
        {
            return Problems.Result(StatusCodes.Status401Unauthorized, "This account is disabled.");
        }

        var pair = await sessions.StartAsync(user, ct);
        return TypedResults.Ok(ToResponse(pair, time, user));
    }

    private static Ok<AuthConfigResponse> Config(IOptions<AuthOptions> options, IHostEnvironment environment, Oidc.OidcProviders oidc) =>
        TypedResults.Ok(new AuthConfigResponse
        {
            Providers = [.. PasswordProviders, .. oidc.All.Select(p => p.Name)],
            ProviderNames = oidc.All.ToDictionary(p => p.Name, p => p.DisplayName, StringComparer.Ordinal),
            RegistrationOpen = options.Value.RegistrationOpen,
            DevLogin = environment.IsDevelopment(),
        });

    private static async Task<Ok<JwksResponse>> JwksAsync(ISigningKeySource keys, HttpContext http, CancellationToken ct)
    {
        var set = await keys.GetAsync(ct);
        // Short caching: a rotated key must reach API nodes well within the activation delay.
        http.Response.Headers.CacheControl = "public, max-age=60";
        return TypedResults.Ok(new JwksResponse
        {
            Keys = [.. set.Published.Select(k => new JwkResponse { Kty = k.Kty, Kid = k.Kid, Use = k.Use, Alg = k.Alg, Crv = k.Crv, X = k.X, Y = k.Y })],
        });
    }

    private static Ok<OpenIdConfigurationResponse> OpenIdConfiguration(HttpContext http, TokenService tokens, IOptions<ApexOptions> apex)
    {
        var baseUrl = PublicAddress.BaseUrl(http, apex.Value);
        return TypedResults.Ok(new OpenIdConfigurationResponse
        {
            Issuer = tokens.Issuer,
            JwksUri = baseUrl + "/.well-known/jwks.json",
            TokenEndpoint = baseUrl + "/auth/refresh",
            UserinfoEndpoint = baseUrl + "/auth/me",
            RegistrationEndpoint = baseUrl + "/auth/register",
            RevocationEndpoint = baseUrl + "/auth/logout",
            IntrospectionEndpoint = baseUrl + "/auth/validate",
            IdTokenSigningAlgValuesSupported = [tokens.Algorithm],
            TokenEndpointAuthMethodsSupported = ["none"],
            GrantTypesSupported = ["password", "refresh_token"],
            SubjectTypesSupported = ["public"],
            ResponseTypesSupported = ["token"],
        });
    }

    private static ProblemHttpResult EmailTaken() =>
        Problems.Result(StatusCodes.Status409Conflict, "An account with this email already exists.");

    private static ProblemHttpResult TooManyAttempts(HttpContext http, TimeSpan wait)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
        http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return Problems.Result(StatusCodes.Status429TooManyRequests, $"Too many sign-in attempts; retry in {seconds} s.");
    }

    internal static UserResponse ToUser(UserRecord user, IReadOnlyList<string>? linkedProviders = null) => new()
    {
        Id = user.Id,
        Email = user.Email,
        Name = user.Name,
        CreatedAt = user.CreatedAt,
        Providers = [.. (user.PasswordHash is null ? [] : PasswordProviders), .. linkedProviders ?? []],
    };

    internal static TokenPairResponse ToResponse(TokenPairIssue pair, TimeProvider time, UserRecord? user, IReadOnlyList<string>? linkedProviders = null)
    {
        var now = time.GetUtcNow();
        return new TokenPairResponse
        {
            AccessToken = pair.Access.Token,
            RefreshToken = pair.Refresh.Token,
            ExpiresIn = Math.Max(0, (long)(pair.Access.ExpiresAt - now).TotalSeconds),
            RefreshExpiresIn = Math.Max(0, (long)(pair.Refresh.ExpiresAt - now).TotalSeconds),
            User = user is null ? null : ToUser(user, linkedProviders),
        };
    }

    [LoggerMessage(EventId = 1151, Level = LogLevel.Information, Message = "Registered user {UserId}")]
    private static partial void LogRegistered(ILogger logger, string userId);

    [LoggerMessage(EventId = 1152, Level = LogLevel.Information, Message = "User {UserId} signed in (session {SessionId})")]
    private static partial void LogLoggedIn(ILogger logger, string userId, string sessionId);

    [LoggerMessage(EventId = 1153, Level = LogLevel.Information, Message = "A sign-in failed")]
    private static partial void LogLoginFailed(ILogger logger);

    [LoggerMessage(EventId = 1154, Level = LogLevel.Warning, Message = "A sign-in was throttled")]
    private static partial void LogThrottled(ILogger logger);

    [LoggerMessage(EventId = 1155, Level = LogLevel.Information, Message = "Rehashed the password of user {UserId} at {Iterations} iterations")]
    private static partial void LogRehashed(ILogger logger, string userId, int iterations);
}
