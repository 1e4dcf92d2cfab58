using System.Net;
using System.Security.Cryptography;
using System.Text;
using Apex.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Apex.Auth.Tests;

/// <summary>
/// The server signs with a key the test also holds (Auth:SigningKeyPem), so the test can mint tokens
/// that are correctly signed but wrong in exactly one way.
/// </summary>
public sealed class TokenValidationTests
{
    private static async Task AssertRefusedAsync(ApexTestServer server, string token, string reason)
    {
        var (status, body) = await server.ValidateAsync(token);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.False(body.GetProperty("valid").GetBoolean());
        Assert.Equal(reason, body.GetProperty("reason").GetString());
        using var me = await server.GetMeAsync(token);
        await Http.ProblemAsync(me, HttpStatusCode.Unauthorized);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_correct_token_minted_with_the_configured_key_is_accepted()
    {
        var key = new TestSigningKey();
        await using var server = await ApexTestServer.StartAsync(key.Settings());
        var user = await server.RegisterUserAsync();
        Assert.Equal(key.Kid, new JsonWebToken(user.AccessToken).Kid);
        var token = Forge.Sign(key.SecurityKey, SecurityAlgorithms.EcdsaSha256, Forge.Claims(user.Id));
        var (status, _) = await server.ValidateAsync(token);
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact(Timeout = 30_000)]
    public async Task Tampered_signature_and_payload_are_refused()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var parts = user.AccessToken.Split('.');
        var signature = Base64UrlEncoder.DecodeBytes(parts[2]);
        signature[10] ^= 0x01;
        await AssertRefusedAsync(server, $"{parts[0]}.{parts[1]}.{Base64UrlEncoder.Encode(signature)}", "invalid_signature");

        var payload = Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(parts[1])).Replace(user.Id, "usr_01SOMEONEELSE00000000000", StringComparison.Ordinal);
        await AssertRefusedAsync(server, $"{parts[0]}.{Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(payload))}.{parts[2]}", "invalid_signature");
    }

    [Fact(Timeout = 30_000)]
    public async Task Alg_none_is_refused()
    {
        var key = new TestSigningKey();
        await using var server = await ApexTestServer.StartAsync(key.Settings());
        var user = await server.RegisterUserAsync();
        await AssertRefusedAsync(server, Forge.Unsigned(Forge.Claims(user.Id), key.Kid), "invalid_algorithm");
        // Even with the signature of a real token left in place.
        var real = user.AccessToken.Split('.');
        var unsigned = Forge.Unsigned(Forge.Claims(user.Id), key.Kid).Split('.');
        await AssertRefusedAsync(server, $"{unsigned[0]}.{real[1]}.{real[2]}", "invalid_algorithm");
    }

    [Fact(Timeout = 30_000)]
    public async Task Hs256_token_is_refused_by_an_es256_deployment()
    {
        var key = new TestSigningKey();
        await using var server = await ApexTestServer.StartAsync(key.Settings());
        var user = await server.RegisterUserAsync();
        // Classic confusion attack: HMAC keyed with the public key, naming the real kid.
        var publicBytes = Encoding.UTF8.GetBytes(ECDsa.Create(key.SecurityKey.ECDsa.ExportParameters(false)).ExportSubjectPublicKeyInfoPem());
        var hmac = new SymmetricSecurityKey(publicBytes) { KeyId = key.Kid };
        await AssertRefusedAsync(server, Forge.Sign(hmac, SecurityAlgorithms.HmacSha256, Forge.Claims(user.Id)), "invalid_algorithm");
    }

    [Fact(Timeout = 30_000)]
    public async Task Unknown_kid_and_foreign_key_are_refused()
    {
        var key = new TestSigningKey();
        await using var server = await ApexTestServer.StartAsync(key.Settings());
        var user = await server.RegisterUserAsync();
        var stranger = new TestSigningKey("some-other-kid");
        await AssertRefusedAsync(server, Forge.Sign(stranger.SecurityKey, SecurityAlgorithms.EcdsaSha256, Forge.Claims(user.Id)), "unknown_key");
        var impostor = new TestSigningKey(key.Kid);
        await AssertRefusedAsync(server, Forge.Sign(impostor.SecurityKey, SecurityAlgorithms.EcdsaSha256, Forge.Claims(user.Id)), "invalid_signature");
    }

    [Fact(Timeout = 30_000)]
    public async Task Wrong_issuer_or_audience_is_refused()
    {
        var key = new TestSigningKey();
        await using var server = await ApexTestServer.StartAsync(key.Settings());
        var user = await server.RegisterUserAsync();
        await AssertRefusedAsync(server, Forge.Sign(key.SecurityKey, SecurityAlgorithms.EcdsaSha256, Forge.Claims(user.Id), issuer: "https://evil.example"), "invalid_issuer");
        await AssertRefusedAsync(server, Forge.Sign(key.SecurityKey, SecurityAlgorithms.EcdsaSha256, Forge.Claims(user.Id), audience: "another-service"), "invalid_audience");
    }

    [Fact(Timeout = 30_000)]
    public async Task Expired_beyond_30_seconds_of_skew_is_refused_and_within_is_accepted()
    {
        var key = new TestSigningKey();
        await using var server = await ApexTestServer.StartAsync(key.Settings());
        var user = await server.RegisterUserAsync();
        var now = DateTime.UtcNow;
        await AssertRefusedAsync(server, Forge.Sign(key.SecurityKey, SecurityAlgorithms.EcdsaSha256, Forge.Claims(user.Id),
            notBefore: now.AddMinutes(-20), expires: now.AddSeconds(-35)), "expired");
        var (status, _) = await server.ValidateAsync(Forge.Sign(key.SecurityKey, SecurityAlgorithms.EcdsaSha256, Forge.Claims(user.Id),
            notBefore: now.AddMinutes(-20), expires: now.AddSeconds(-15)));
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact(Timeout = 30_000)]
    public async Task Not_yet_valid_is_refused()
    {
        var key = new TestSigningKey();
        await using var server = await ApexTestServer.StartAsync(key.Settings());
        var user = await server.RegisterUserAsync();
        var now = DateTime.UtcNow;
        await AssertRefusedAsync(server, Forge.Sign(key.SecurityKey, SecurityAlgorithms.EcdsaSha256, Forge.Claims(user.Id),
            notBefore: now.AddMinutes(5), expires: now.AddMinutes(20)), "not_yet_valid");
    }

    [Fact(Timeout = 30_000)]
    public async Task Refresh_token_is_refused_as_an_access_token()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        await AssertRefusedAsync(server, user.RefreshToken, "wrong_token_type");
    }

    [Fact(Timeout = 30_000)]
    public async Task Access_token_is_refused_as_a_refresh_token()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        using var response = await server.PostAsync("/auth/refresh", new { refresh_token = user.AccessToken });
        await Http.ProblemAsync(response, HttpStatusCode.Unauthorized);
    }

    [Fact(Timeout = 30_000)]
    public async Task Revoked_jti_is_refused()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        using (var client = server.CreateClient(user.AccessToken))
        {
            using var logout = await client.PostAsync(Http.U("/auth/logout"), null);
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }

        await AssertRefusedAsync(server, user.AccessToken, "revoked");
    }

    [Fact(Timeout = 30_000)]
    public async Task Garbage_and_oversized_tokens_are_refused()
    {
        await using var server = await ApexTestServer.StartAsync();
        await AssertRefusedAsync(server, "garbage", "malformed");
        await AssertRefusedAsync(server, new string('a', 10_000), "malformed");
    }
}
