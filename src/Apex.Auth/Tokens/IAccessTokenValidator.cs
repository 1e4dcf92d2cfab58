using System.Security.Claims;

namespace Apex.Auth.Tokens;

/// <summary>
/// Validates an access token locally (signature against the JWKS, issuer, audience, lifetime,
/// token type and revocation). Used by the HTTP authentication handler, by <c>/auth/validate</c>
/// and by the WebSocket gateway before the upgrade.
/// </summary>
public interface IAccessTokenValidator
{
    ValueTask<AccessTokenValidation> ValidateAsync(string token, CancellationToken ct);
}

/// <summary>The outcome of validating one access token.</summary>
public sealed record AccessTokenValidation
{
    public required bool IsValid { get; init; }

    /// <summary>Why the token was refused (stable, human-readable, never echoes the token).</summary>
    public string? FailureReason { get; init; }

    public string? UserId { get; init; }
    public string? Email { get; init; }
    public string? TokenId { get; init; }

    /// <summary>The login session the token belongs to (its revocation ends the token).</summary>
    public string? SessionId { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }
    public ClaimsPrincipal? Principal { get; init; }

    public static AccessTokenValidation Fail(string reason) => new() { IsValid = false, FailureReason = reason };
}
