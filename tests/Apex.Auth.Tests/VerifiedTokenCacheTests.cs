using Apex.Auth.Tokens;
using Apex.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Apex.Auth.Tests;

/// <summary>The verified-token cache keeps a token's claims flattened; a hit must give the identity a miss gives.</summary>
public sealed class VerifiedTokenCacheTests
{
    [Fact(Timeout = 30_000)]
    public async Task A_cached_token_gives_the_same_identity_as_its_first_verification()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        // A token the server has not verified yet: minted, never presented.
        var fresh = await server.RegisterUserAsync();
        var validator = server.Services.GetRequiredService<IAccessTokenValidator>();

        var first = await validator.ValidateAsync(fresh.AccessToken, CancellationToken.None);
        var second = await validator.ValidateAsync(fresh.AccessToken, CancellationToken.None);
        var other = await validator.ValidateAsync(user.AccessToken, CancellationToken.None);

        Assert.True(first.IsValid);
        Assert.True(second.IsValid);
        Assert.Equal(fresh.Id, second.UserId);
        Assert.Equal(user.Id, other.UserId);
        Assert.Equal((first.UserId, first.Email, first.TokenId, first.SessionId, first.ExpiresAt), (second.UserId, second.Email, second.TokenId, second.SessionId, second.ExpiresAt));

        var a = Assert.Single(first.Principal!.Identities);
        var b = Assert.Single(second.Principal!.Identities);
        Assert.NotSame(a, b);
        Assert.Equal(a.GetType(), b.GetType());
        Assert.Equal((a.AuthenticationType, a.IsAuthenticated, a.NameClaimType, a.RoleClaimType), (b.AuthenticationType, b.IsAuthenticated, b.NameClaimType, b.RoleClaimType));
        Assert.Equal(
            a.Claims.Select(c => (c.Type, c.Value, c.ValueType, c.Issuer, c.OriginalIssuer)).ToList(),
            b.Claims.Select(c => (c.Type, c.Value, c.ValueType, c.Issuer, c.OriginalIssuer)).ToList());
        Assert.Contains(b.Claims, c => c.Type == ApexClaims.Subject && c.Value == fresh.Id);
        Assert.All(b.Claims, c => Assert.Same(b, c.Subject));
    }
}
