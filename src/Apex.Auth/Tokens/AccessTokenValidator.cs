using System.Security.Claims;
using Apex.Auth.Revocation;

namespace Apex.Auth.Tokens;

internal sealed class AccessTokenValidator(TokenService tokens, IRevocationStore revocations) : IAccessTokenValidator
{
    public async ValueTask<AccessTokenValidation> ValidateAsync(string token, CancellationToken ct)
    {
        var (checkedToken, failure) = await tokens.CheckAsync(token, TokenTypes.Access, ct);
        if (checkedToken is null)
        {
            return AccessTokenValidation.Fail(failure ?? TokenFailureReasons.Invalid);
        }

        await revocations.EnsureLoadedAsync(ct);
        if (revocations.IsRevoked(checkedToken.TokenId, checkedToken.SessionId))
        {
            return AccessTokenValidation.Fail(TokenFailureReasons.Revoked);
        }

        return new AccessTokenValidation
        {
            IsValid = true,
            UserId = checkedToken.UserId,
            Email = checkedToken.Email,
            TokenId = checkedToken.TokenId,
            SessionId = checkedToken.SessionId,
            ExpiresAt = checkedToken.ExpiresAt,
            Principal = new ClaimsPrincipal(checkedToken.Identity),
        };
    }
}
