using System.Net;
using System.Text;
using Apex.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using static Apex.Auth.Tests.Http;

namespace Apex.Auth.Tests;

public sealed class SharedSecretModeTests
{
    private const string Secret = "an-old-deployment-shared-secret-of-40-bytes";

    [Fact(Timeout = 30_000)]
    public async Task Hs256_mode_signs_and_validates_with_the_shared_secret_and_publishes_no_key()
    {
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Auth:SigningAlgorithm"] = "HS256",
            ["Auth:SharedSecret"] = Secret,
        });
        var user = await server.RegisterUserAsync();
        Assert.Equal("HS256", new JsonWebToken(user.AccessToken).Alg);
        using var me = await server.GetMeAsync(user.AccessToken);
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);

        using var jwks = await server.Client.GetAsync(U("/.well-known/jwks.json"));
        Assert.Equal(0, (await JsonAsync(jwks)).GetProperty("keys").GetArrayLength());

        // A token signed with another secret, or with ES256, is refused.
        var kid = new JsonWebToken(user.AccessToken).Kid;
        var otherSecret = new SymmetricSecurityKey(Encoding.UTF8.GetBytes("a-completely-different-secret-of-40-bytes")) { KeyId = kid };
        var (status, _) = await server.ValidateAsync(Forge.Sign(otherSecret, SecurityAlgorithms.HmacSha256, Forge.Claims(user.Id)));
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        var es = new TestSigningKey(kid);
        (status, _) = await server.ValidateAsync(Forge.Sign(es.SecurityKey, SecurityAlgorithms.EcdsaSha256, Forge.Claims(user.Id)));
        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Fact(Timeout = 30_000)]
    public async Task Hs256_mode_refuses_to_start_with_a_short_secret()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?>
            {
                ["Auth:SigningAlgorithm"] = "HS256",
                ["Auth:SharedSecret"] = "only-31-bytes-long-secret-12345",
            });
        });
        Assert.Contains("Auth:SharedSecret", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Es256_is_the_default_and_hs256_is_off()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        Assert.Equal("ES256", new JsonWebToken(user.AccessToken).Alg);
    }
}
