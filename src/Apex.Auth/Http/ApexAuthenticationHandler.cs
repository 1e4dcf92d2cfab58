using System.Text.Encodings.Web;
using Apex.Auth.Tokens;
using Apex.Hosting.Http;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Apex.Auth.Http;

/// <summary>
/// The default authentication scheme: a Bearer access token checked by <see cref="IAccessTokenValidator"/>.
/// Challenges and forbids answer with problem JSON so every module's 401/403 looks the same.
/// </summary>
internal sealed partial class ApexAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    IAccessTokenValidator validator) : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    /// <summary>HttpContext.Items key of the <see cref="AccessTokenValidation"/> of the request.</summary>
    public const string ValidationItem = "Apex.Auth.AccessTokenValidation";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var token = ReadBearer(Request);
        if (token is null)
        {
            return AuthenticateResult.NoResult();
        }

        var validation = await validator.ValidateAsync(token, Context.RequestAborted);
        // Kept for the request so /auth/validate and logout need not check the same token twice.
        Context.Items[ValidationItem] = validation;
        if (!validation.IsValid || validation.Principal is null)
        {
            LogRefused(Logger, validation.FailureReason ?? TokenFailureReasons.Invalid);
            return AuthenticateResult.Fail(validation.FailureReason ?? TokenFailureReasons.Invalid);
        }

        return AuthenticateResult.Success(new AuthenticationTicket(validation.Principal, Scheme.Name));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        var reason = result.Failure?.Message;
        Response.Headers[HeaderNames.WWWAuthenticate] = reason is null ? "Bearer" : $"Bearer error=\"invalid_token\"";
        var detail = reason is null
            ? "This route needs a Bearer access token."
            : $"The access token was refused ({reason}).";
        await Problems.Result(StatusCodes.Status401Unauthorized, detail).ExecuteAsync(Context);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Problems.Result(StatusCodes.Status403Forbidden, "You may not do this.").ExecuteAsync(Context);

    /// <summary>The token of an <c>Authorization: Bearer …</c> header, or null.</summary>
    public static string? ReadBearer(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        const string prefix = "Bearer ";
        if (header.Length > prefix.Length && header.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            var token = header[prefix.Length..].Trim();
            return token.Length > 0 ? token : null;
        }

        return null;
    }

    [LoggerMessage(EventId = 1131, Level = LogLevel.Debug, Message = "Refused an access token: {Reason}")]
    private static partial void LogRefused(ILogger logger, string reason);
}
