using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.Tokens;

namespace Apex.Auth.Keys;

internal static class KeyMaterial
{
    public const string Es256 = SecurityAlgorithms.EcdsaSha256;
    public const string Hs256 = SecurityAlgorithms.HmacSha256;

    /// <summary>HS256 secrets shorter than this are refused (RFC 7518 section 3.2).</summary>
    public const int MinSharedSecretBytes = 32;

    public static SigningKey FromPem(string keyId, string pem, DateTimeOffset activatesAt)
    {
        var ecdsa = ECDsa.Create();
        ecdsa.ImportFromPem(pem);
        if (ecdsa.KeySize != 256)
        {
            throw new InvalidOperationException($"Signing key '{keyId}' is not a P-256 key; ES256 needs P-256.");
        }

        var privateKey = new ECDsaSecurityKey(ecdsa) { KeyId = keyId };
        var publicKey = new ECDsaSecurityKey(ECDsa.Create(ecdsa.ExportParameters(includePrivateParameters: false))) { KeyId = keyId };
        var jwk = JsonWebKeyConverter.ConvertFromECDsaSecurityKey(publicKey);
        jwk.Alg = Es256;
        jwk.Use = JsonWebKeyUseNames.Sig;
        return new SigningKey(keyId, Es256, privateKey, publicKey, jwk, activatesAt);
    }

    /// <summary>A public key from a JWKS document; only EC P-256 keys for ES256 are accepted.</summary>
    public static SigningKey? FromPublicJwk(JsonWebKey jwk)
    {
        if (jwk.Kty != JsonWebAlgorithmsKeyTypes.EllipticCurve || jwk.Crv != JsonWebKeyECTypes.P256
            || string.IsNullOrEmpty(jwk.Kid) || string.IsNullOrEmpty(jwk.X) || string.IsNullOrEmpty(jwk.Y)
            || (jwk.Alg is { Length: > 0 } alg && alg != Es256))
        {
            return null;
        }

        var ecdsa = ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            Q = new ECPoint { X = Base64UrlEncoder.DecodeBytes(jwk.X), Y = Base64UrlEncoder.DecodeBytes(jwk.Y) },
        });
        var key = new ECDsaSecurityKey(ecdsa) { KeyId = jwk.Kid };
        return new SigningKey(jwk.Kid, Es256, PrivateKey: null, key, jwk, DateTimeOffset.MinValue);
    }

    public static string NewPrivateKeyPem()
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return ecdsa.ExportPkcs8PrivateKeyPem();
    }

    public static SigningKey FromSharedSecret(string secret)
    {
        var bytes = Encoding.UTF8.GetBytes(secret);
        if (bytes.Length < MinSharedSecretBytes)
        {
            throw new InvalidOperationException($"Auth:SharedSecret must be at least {MinSharedSecretBytes} bytes for HS256.");
        }

        // A stable kid derived from the secret lets nodes tell a changed secret from a bad signature
        // without revealing anything usable about the secret.
        var kid = "hs-" + Convert.ToHexStringLower(SHA256.HashData(bytes))[..12];
        var key = new SymmetricSecurityKey(bytes) { KeyId = kid };
        return new SigningKey(kid, Hs256, key, key, PublicJwk: null, DateTimeOffset.MinValue);
    }

    public static KeySet SetOf(IReadOnlyCollection<SigningKey> keys) =>
        new([.. keys.Select(k => k.ValidationKey)],
            [.. keys.Where(k => k.PublicJwk is not null).Select(k => k.PublicJwk!)],
            [.. keys.Where(k => k.PrivateKey is not null).OrderBy(k => k.ActivatesAt)]);
}
