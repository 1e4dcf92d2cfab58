using System.Security.Claims;
using Apex.Auth.Keys;
using Apex.Auth.Tokens;
using Apex.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;

namespace Apex.Auth.Tests;

/// <summary>The verified-token cache keeps what differs between tokens beside a shared claim shape; a hit must give the identity a miss gives.</summary>
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

    /// <summary>
    /// Identities outside the shared shape (more numbers than it keeps, claim properties, a number
    /// written another way) are kept as clones and still come back equal; identities of one shape
    /// do not mix up each other's values.
    /// </summary>
    [Fact]
    public void Entries_of_every_kind_restore_the_identity_they_were_made_from()
    {
        var keys = new KeySet([], [], []);
        var shapes = new ClaimShapes();
        CheckedToken Token(string user, string tokenId, params Claim[] extra)
        {
            Claim[] claims =
            [
                new(ApexClaims.Subject, user, ClaimValueTypes.String, "https://issuer.example", "https://issuer.example"),
                new(ApexClaims.Email, user + "@example.com", ClaimValueTypes.String, "https://issuer.example", "https://issuer.example"),
                new(ApexClaims.TokenId, tokenId, ClaimValueTypes.String, "https://issuer.example", "https://issuer.example"),
                new("aud", "apex", ClaimValueTypes.String, "https://issuer.example", "https://issuer.example"),
                new("exp", "1900000000", ClaimValueTypes.Integer64, "https://issuer.example", "https://issuer.example"),
                new("iat", "-17", ClaimValueTypes.Integer64, "https://issuer.example", "https://issuer.example"),
                .. extra.Select(c => new Claim(c.Type, c.Value, c.ValueType, "https://issuer.example", "https://issuer.example")),
            ];
            var identity = new CaseSensitiveClaimsIdentity(claims, "Bearer", ApexClaims.Email, "role");
            return new CheckedToken(user, user + "@example.com", tokenId, "session-" + user, DateTimeOffset.FromUnixTimeSeconds(1_900_000_000), identity);
        }

        var withProperty = Token("u3", "t3");
        withProperty.Identity.Claims.First().Properties["kept"] = "yes";
        CheckedToken[] tokens =
        [
            Token("u1", "t1"),
            Token("u2", "t2"),
            Token("u4", "t4", new Claim("nbf", "5", ClaimValueTypes.Integer64), new Claim("auth_time", "6", ClaimValueTypes.Integer64)),
            Token("u5", "t5", new Claim("n", "007", ClaimValueTypes.Integer64)),
            withProperty,
        ];

        foreach (var token in tokens)
        {
            var restored = VerifiedToken.Create(token, keys, shapes).Restore();
            Assert.Equal((token.UserId, token.Email, token.TokenId, token.SessionId, token.ExpiresAt), (restored.UserId, restored.Email, restored.TokenId, restored.SessionId, restored.ExpiresAt));
            Assert.NotSame(token.Identity, restored.Identity);
            Assert.Equal(token.Identity.GetType(), restored.Identity.GetType());
            Assert.Equal((token.Identity.AuthenticationType, token.Identity.NameClaimType, token.Identity.RoleClaimType), (restored.Identity.AuthenticationType, restored.Identity.NameClaimType, restored.Identity.RoleClaimType));
            Assert.Equal(
                token.Identity.Claims.Select(c => (c.Type, c.Value, c.ValueType, c.Issuer, c.OriginalIssuer, string.Join(",", c.Properties))).ToList(),
                restored.Identity.Claims.Select(c => (c.Type, c.Value, c.ValueType, c.Issuer, c.OriginalIssuer, string.Join(",", c.Properties))).ToList());
        }
    }
}
