using System.Security.Claims;

namespace Apex.Auth;

/// <summary>Claim names of Apex access tokens (docs/spec/auth-api.md section 2).</summary>
public static class ApexClaims
{
    public const string Subject = "sub";
    public const string Email = "email";
    public const string TokenId = "jti";
    public const string TokenType = "token_type";
    public const string LegacyTokenType = "type";

    /// <summary>The login session (refresh-token family) a token belongs to; revoked together.</summary>
    public const string SessionId = "sid";

    /// <summary>The authenticated user's id; only call on an authenticated principal.</summary>
    public static string GetUserId(this ClaimsPrincipal principal) =>
        principal.FindFirstValue(Subject) ?? throw new InvalidOperationException("The principal has no 'sub' claim.");
}
