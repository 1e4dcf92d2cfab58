using System.Net;
using System.Security.Cryptography;
using System.Text;
using Apex.Auth.Data;
using Apex.Auth.Http;
using Apex.Auth.Tokens;
using Apex.Hosting;
using Apex.Hosting.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Apex.Auth.Oidc;

/// <summary>
/// Provider sign-in of docs/spec/auth-api.md: <c>/auth/login?provider=</c>, <c>/auth/callback</c>,
/// <c>/auth/exchange</c>, and unlinking an identity.
/// </summary>
internal static partial class OidcEndpoints
{
    /// <summary>Binds an attempt to the browser that started it (login CSRF); holds the attempt's state.</summary>
    public const string StateCookie = "apex_oidc_state";

    public static readonly TimeSpan HandoffLifetime = TimeSpan.FromSeconds(60);

    public static void AddApexOidc(this IServiceCollection services)
    {
        services.AddOptions<OidcOptions>()
            .BindConfiguration(OidcOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<OidcOptions>, OidcOptionsValidator>();
        services.AddSingleton<OidcProviders>();
        services.AddScoped<OidcAccounts>();
    }

    public static void Map(RouteGroupBuilder auth)
    {
        // Each login stores an attempt and each callback calls the provider: both count per client IP.
        auth.MapGet("/login", LoginAsync).RequireRateLimiting(AuthEndpoints.CredentialsRateLimitPolicy);
        auth.MapGet("/callback", CallbackAsync).RequireRateLimiting(AuthEndpoints.CredentialsRateLimitPolicy);
        auth.MapPost("/exchange", ExchangeAsync).RequireRateLimiting(AuthEndpoints.CredentialsRateLimitPolicy);
        auth.MapDelete("/identities/{provider}", UnlinkAsync).RequireAuthorization();
    }

    private static async Task<IResult> LoginAsync(
        string? provider,
        HttpContext http,
        OidcProviders providers,
        AuthDbContext db,
        IOptions<OidcOptions> options,
        IOptions<ApexOptions> apex,
        TimeProvider time,
        ILoggerFactory loggers,
        CancellationToken ct)
    {
        if (providers.Find(provider) is not { } p)
        {
            return Problems.Result(StatusCodes.Status404NotFound, "This sign-in provider is not configured.");
        }

        var logger = loggers.CreateLogger(typeof(OidcEndpoints).FullName!);
        Microsoft.IdentityModel.Protocols.OpenIdConnect.OpenIdConnectConfiguration metadata;
        try
        {
            metadata = await providers.MetadataAsync(p, ct);
        }
        catch (OidcRefusal refusal)
        {
            LogRefused(logger, p.Name, refusal.Code);
            return Page(HttpStatusCode.BadGateway, refusal, ReturnUrl(http, options.Value, apex.Value));
        }

        var state = RandomToken();
        var nonce = RandomToken();
        var verifier = RandomToken();
        var challenge = Base64UrlEncode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        var redirectUri = BaseUrl(http, apex.Value) + "/auth/callback";
        var now = time.GetUtcNow();
        var lifetime = TimeSpan.FromMinutes(options.Value.FlowMinutes);

        // Attempts never finished and codes never exchanged are kept no longer than needed.
        await db.OidcFlows.Where(f => f.ExpiresAt < now).ExecuteDeleteAsync(ct);
        await db.OidcHandoffs.Where(h => h.ExpiresAt < now).ExecuteDeleteAsync(ct);
        db.OidcFlows.Add(new OidcFlowRecord
        {
            Id = Hash(state),
            Provider = p.Name,
            Nonce = nonce,
            CodeVerifier = verifier,
            RedirectUri = redirectUri,
            ExpiresAt = now + lifetime,
        });
        await db.SaveChangesAsync(ct);

        http.Response.Cookies.Append(StateCookie, state, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Lax,
            Secure = http.Request.IsHttps,
            Path = "/auth/callback",
            MaxAge = lifetime,
            IsEssential = true,
        });

        var query = new Dictionary<string, string?>
        {
            ["response_type"] = "code",
            ["client_id"] = p.ClientId,
            ["redirect_uri"] = redirectUri,
            ["scope"] = p.Scopes,
            ["state"] = state,
            ["nonce"] = nonce,
            ["code_challenge"] = challenge,
            ["code_challenge_method"] = "S256",
        };
        if (p.HostedDomain is { } hd)
        {
            query["hd"] = hd;
        }

        LogRedirected(logger, p.Name);
        return Results.Redirect(QueryHelpers.AddQueryString(metadata.AuthorizationEndpoint, query));
    }

    private static async Task<IResult> CallbackAsync(
        HttpContext http,
        OidcProviders providers,
        OidcAccounts accounts,
        AuthDbContext db,
        IOptions<OidcOptions> options,
        IOptions<ApexOptions> apex,
        TimeProvider time,
        ILoggerFactory loggers,
        CancellationToken ct)
    {
        var logger = loggers.CreateLogger(typeof(OidcEndpoints).FullName!);
        var returnUrl = ReturnUrl(http, options.Value, apex.Value);
        var query = http.Request.Query;
        string? state = query["state"];
        var cookie = http.Request.Cookies[StateCookie];
        if (string.IsNullOrEmpty(state) || state.Length > 128)
        {
            return Refuse(logger, null, new OidcRefusal("state_invalid", "This sign-in link is not valid; start the sign-in again."), returnUrl);
        }

        if (cookie is null || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(cookie), Encoding.UTF8.GetBytes(state)))
        {
            return Refuse(logger, null, new OidcRefusal("state_mismatch", "This sign-in was not started in this browser; start the sign-in again."), returnUrl);
        }

        http.Response.Cookies.Delete(StateCookie, new CookieOptions { Path = "/auth/callback", Secure = http.Request.IsHttps, HttpOnly = true, SameSite = SameSiteMode.Lax });
        var id = Hash(state);
        var flow = await db.OidcFlows.AsNoTracking().Where(f => f.Id == id).FirstOrDefaultAsync(ct);
        // Deleting before anything else makes the state single-use across nodes.
        if (flow is null || await db.OidcFlows.Where(f => f.Id == id).ExecuteDeleteAsync(ct) != 1)
        {
            return Refuse(logger, null, new OidcRefusal("state_invalid", "This sign-in attempt is unknown or was already used; start the sign-in again."), returnUrl);
        }

        if (flow.ExpiresAt <= time.GetUtcNow())
        {
            return Refuse(logger, flow.Provider, new OidcRefusal("state_expired", "This sign-in attempt took too long; start the sign-in again."), returnUrl);
        }

        if (providers.Find(flow.Provider) is not { } p)
        {
            return Refuse(logger, flow.Provider, new OidcRefusal("provider_unknown", "This sign-in provider is no longer configured."), returnUrl);
        }

        if (!string.IsNullOrEmpty(query["error"]))
        {
            var cancelled = query["error"] == "access_denied";
            return Refuse(logger, p.Name, new OidcRefusal(cancelled ? "access_denied" : "provider_error",
                cancelled ? $"The sign-in at {p.DisplayName} was cancelled." : $"{p.DisplayName} refused the sign-in."), returnUrl);
        }

        string? code = query["code"];
        if (string.IsNullOrEmpty(code) || code.Length > 4096)
        {
            return Refuse(logger, p.Name, new OidcRefusal("code_missing", $"{p.DisplayName} sent no sign-in code."), returnUrl);
        }

        UserRecord user;
        try
        {
            // RFC 9207: a provider that names itself in the response must be the one this attempt went to.
            if (!string.IsNullOrEmpty(query["iss"])
                && !string.Equals(query["iss"], (await providers.MetadataAsync(p, ct)).Issuer, StringComparison.Ordinal))
            {
                throw new OidcRefusal("invalid_issuer", $"The answer does not come from {p.DisplayName}.");
            }

            var idToken = await providers.RedeemAsync(p, code, flow.RedirectUri, flow.CodeVerifier, ct);
            var identity = await providers.ValidateAsync(p, idToken, flow.Nonce, ct);
            user = await accounts.SignInAsync(p, identity, ct);
        }
        catch (OidcRefusal refusal)
        {
            return Refuse(logger, p.Name, refusal, returnUrl);
        }

        var handoff = RandomToken();
        db.OidcHandoffs.Add(new OidcHandoffRecord { Id = Hash(handoff), UserId = user.Id, ExpiresAt = time.GetUtcNow() + HandoffLifetime });
        await db.SaveChangesAsync(ct);
        LogSignedIn(logger, p.Name, user.Id);
        return Results.Redirect(returnUrl + "#code=" + handoff);
    }

    private static async Task<Results<Ok<TokenPairResponse>, ProblemHttpResult>> ExchangeAsync(
        ExchangeRequest? body,
        AuthDbContext db,
        SessionService sessions,
        OidcAccounts accounts,
        TimeProvider time,
        CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(body?.Code))
        {
            return Problems.Validation(new Dictionary<string, string[]> { ["code"] = ["The code is required."] });
        }

        var id = Hash(body.Code);
        var now = time.GetUtcNow();
        var handoff = await db.OidcHandoffs.AsNoTracking().Where(h => h.Id == id).FirstOrDefaultAsync(ct);
        if (handoff is null || await db.OidcHandoffs.Where(h => h.Id == id).ExecuteDeleteAsync(ct) != 1 || handoff.ExpiresAt <= now)
        {
            return Problems.Result(StatusCodes.Status401Unauthorized, "The sign-in code is unknown, expired or already used.");
        }

        var user = await db.Users.AsNoTracking().Where(u => u.Id == handoff.UserId && u.DisabledAt == null).FirstOrDefaultAsync(ct);
        if (user is null)
        {
            return Problems.Result(StatusCodes.Status401Unauthorized, "The account of this sign-in no longer exists.");
        }

        var pair = await sessions.StartAsync(user, ct);
        return TypedResults.Ok(AuthEndpoints.ToResponse(pair, time, user, await accounts.ProvidersOfAsync(user.Id, ct)));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> UnlinkAsync(
        string provider, HttpContext http, OidcAccounts accounts, CancellationToken ct)
    {
        var userId = http.User.GetUserId();
        return await accounts.UnlinkAsync(userId, provider, ct) switch
        {
            null => Problems.Result(StatusCodes.Status404NotFound, "This account has no identity at that provider."),
            false => Problems.Result(StatusCodes.Status409Conflict, "This identity is the account's only way to sign in; set a password or link another provider first."),
            true => TypedResults.NoContent(),
        };
    }

    private static IResult Refuse(ILogger logger, string? provider, OidcRefusal refusal, string returnUrl)
    {
        LogRefused(logger, provider ?? "-", refusal.Code);
        return Page(refusal.Code == "provider_unavailable" ? HttpStatusCode.BadGateway : HttpStatusCode.BadRequest, refusal, returnUrl);
    }

    /// <summary>The callback is a browser navigation: a refusal is a small page with a way back.</summary>
    private static IResult Page(HttpStatusCode status, OidcRefusal refusal, string returnUrl)
    {
        var message = WebUtility.HtmlEncode(refusal.Message);
        var back = WebUtility.HtmlEncode(returnUrl + "#error=" + Uri.EscapeDataString(refusal.Code));
        var html = $"""
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="apex-error" content="{refusal.Code}"><title>Sign-in failed</title></head>
            <body><main><h1>Sign-in failed</h1><p id="message">{message}</p><p><a href="{back}">Back to sign-in</a></p></main></body></html>
            """;
        return Results.Content(html, "text/html; charset=utf-8", Encoding.UTF8, (int)status);
    }

    private static string BaseUrl(HttpContext http, ApexOptions apex) =>
        !string.IsNullOrWhiteSpace(apex.PublicUrl) ? apex.PublicUrl.TrimEnd('/') : $"{http.Request.Scheme}://{http.Request.Host}";

    private static string ReturnUrl(HttpContext http, OidcOptions options, ApexOptions apex) =>
        !string.IsNullOrWhiteSpace(options.ReturnUrl) ? options.ReturnUrl.Split('#')[0] : BaseUrl(http, apex) + "/";

    private static string RandomToken() => Base64UrlEncode(RandomNumberGenerator.GetBytes(32));

    private static string Hash(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)));

    private static string Base64UrlEncode(byte[] bytes) => Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(bytes);

    [LoggerMessage(EventId = 1171, Level = LogLevel.Information, Message = "Redirected a sign-in to provider {Provider}")]
    private static partial void LogRedirected(ILogger logger, string provider);

    [LoggerMessage(EventId = 1172, Level = LogLevel.Information, Message = "User {UserId} signed in through provider {Provider}")]
    private static partial void LogSignedIn(ILogger logger, string provider, string userId);

    [LoggerMessage(EventId = 1173, Level = LogLevel.Warning, Message = "A sign-in through provider {Provider} was refused ({Reason})")]
    private static partial void LogRefused(ILogger logger, string provider, string reason);
}

public sealed record ExchangeRequest
{
    public string? Code { get; init; }
}
