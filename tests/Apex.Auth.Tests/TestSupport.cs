using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Apex.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Apex.Auth.Tests;

/// <summary>An ES256 key the test knows, given to the server through Auth:SigningKeyPem.</summary>
internal sealed class TestSigningKey
{
    public TestSigningKey(string kid = "test-key-1")
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Pem = ecdsa.ExportPkcs8PrivateKeyPem();
        Kid = kid;
        var key = ECDsa.Create();
        key.ImportFromPem(Pem);
        SecurityKey = new ECDsaSecurityKey(key) { KeyId = kid };
    }

    public string Pem { get; }
    public string Kid { get; }
    public ECDsaSecurityKey SecurityKey { get; }

    public Dictionary<string, string?> Settings() => new()
    {
        ["Auth:SigningKeyPem"] = Pem,
        ["Auth:SigningKeyId"] = Kid,
    };
}

/// <summary>Mints tokens with chosen flaws, to check the server refuses them.</summary>
internal static class Forge
{
    public static Dictionary<string, object> Claims(string userId, string type = "access", string? jti = null, string? sid = null) => new()
    {
        ["sub"] = userId,
        ["email"] = "forged@example.test",
        ["jti"] = jti ?? Guid.NewGuid().ToString("N"),
        ["token_type"] = type,
        ["type"] = type,
        ["sid"] = sid ?? "ses_forged",
    };

    public static string Sign(
        SecurityKey key,
        string algorithm,
        IDictionary<string, object> claims,
        string issuer = "apex",
        string audience = "apex",
        DateTime? notBefore = null,
        DateTime? expires = null)
    {
        var now = DateTime.UtcNow;
        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
        return handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            IssuedAt = notBefore ?? now,
            NotBefore = notBefore ?? now,
            Expires = expires ?? now.AddMinutes(10),
            Claims = claims,
            SigningCredentials = new SigningCredentials(key, algorithm),
        });
    }

    /// <summary>An unsigned token (<c>alg: none</c>) with the given payload.</summary>
    public static string Unsigned(IDictionary<string, object> claims, string kid)
    {
        var header = new Dictionary<string, object> { ["alg"] = "none", ["typ"] = "JWT", ["kid"] = kid };
        var payload = new Dictionary<string, object>(claims)
        {
            ["iss"] = "apex",
            ["aud"] = "apex",
            ["iat"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["nbf"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["exp"] = DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeSeconds(),
        };
        return B64(JsonSerializer.Serialize(header)) + "." + B64(JsonSerializer.Serialize(payload)) + ".";
    }

    private static string B64(string json) => Base64UrlEncoder.Encode(Encoding.UTF8.GetBytes(json));
}

internal static class Http
{
    public static Uri U(string path) => new(path, UriKind.Relative);

    public static StringContent Json(string raw) => new(raw, Encoding.UTF8, "application/json");

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.Clone();
    }

    /// <summary>Asserts an RFC 7807 problem with the given status and returns its body.</summary>
    public static async Task<JsonElement> ProblemAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        using var doc = JsonDocument.Parse(text);
        var body = doc.RootElement.Clone();
        Assert.Equal((int)status, body.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("type").GetString()));
        Assert.False(string.IsNullOrEmpty(body.GetProperty("title").GetString()));
        Assert.False(string.IsNullOrEmpty(body.GetProperty("detail").GetString()));
        return body;
    }

    public static async Task<JsonElement> ValidationProblemAsync(HttpResponseMessage response, params string[] fields)
    {
        var body = await ProblemAsync(response, HttpStatusCode.UnprocessableEntity);
        var errors = body.GetProperty("errors");
        foreach (var field in fields)
        {
            Assert.True(errors.TryGetProperty(field, out var messages), $"no error for '{field}' in {body}");
            Assert.True(messages.GetArrayLength() > 0);
        }

        return body;
    }

    public static Task<HttpResponseMessage> PostAsync(this ApexTestServer server, string path, object body) =>
        server.Client.PostAsJsonAsync(path, body);

    public static Task<HttpResponseMessage> PostRawAsync(this ApexTestServer server, string path, string raw) =>
        server.Client.PostAsync(U(path), Json(raw));

    public static async Task<HttpResponseMessage> GetMeAsync(this ApexTestServer server, string accessToken)
    {
        using var client = server.CreateClient(accessToken);
        return await client.GetAsync(U("/auth/me"));
    }

    public static async Task<(HttpStatusCode Status, JsonElement Body)> ValidateAsync(this ApexTestServer server, string token)
    {
        using var response = await server.Client.PostAsJsonAsync("/auth/validate", new { token });
        return (response.StatusCode, await JsonAsync(response));
    }

    /// <summary>Polls until <paramref name="condition"/> holds or the time is up (cross-node propagation).</summary>
    public static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(100);
        }

        return await condition();
    }
}
