using Microsoft.IdentityModel.Tokens;

namespace Apex.Auth.Keys;

/// <summary>One key of the key set, with the window in which it signs.</summary>
internal sealed record SigningKey(
    string KeyId,
    string Algorithm,
    SecurityKey? PrivateKey,
    SecurityKey ValidationKey,
    JsonWebKey? PublicJwk,
    DateTimeOffset ActivatesAt)
{
    /// <summary>Built once per key: every token this key signs shares them.</summary>
    public SigningCredentials? Credentials { get; } = PrivateKey is null ? null : new SigningCredentials(PrivateKey, Algorithm);
}

/// <summary>An immutable view of the keys: the one that signs now and every one that still verifies.</summary>
internal sealed class KeySet
{
    public KeySet(IReadOnlyList<SecurityKey> validationKeys, IReadOnlyList<JsonWebKey> published, IReadOnlyList<SigningKey> signingKeys)
    {
        ValidationKeys = validationKeys;
        Published = published;
        SigningKeys = signingKeys;
    }

    public IReadOnlyList<SecurityKey> ValidationKeys { get; }

    /// <summary>Public keys for the JWKS document (empty in HS256 mode: a shared secret is never published).</summary>
    public IReadOnlyList<JsonWebKey> Published { get; }

    /// <summary>Keys this process can sign with, oldest activation first (empty on API nodes).</summary>
    public IReadOnlyList<SigningKey> SigningKeys { get; }

    /// <summary>The newest key whose activation time has passed.</summary>
    public SigningKey? Current(DateTimeOffset now)
    {
        SigningKey? current = null;
        foreach (var key in SigningKeys)
        {
            if (key.ActivatesAt <= now || current is null)
            {
                current = key;
            }
        }

        return current;
    }
}

/// <summary>Where this process gets its keys: the local key store, configuration, or the auth node's JWKS.</summary>
internal interface ISigningKeySource
{
    /// <summary>True when <see cref="RefreshAsync"/> may find keys that <see cref="GetAsync"/> did not have.</summary>
    bool CanRefresh { get; }

    ValueTask<KeySet> GetAsync(CancellationToken ct);

    /// <summary>Called on an unknown <c>kid</c>; implementations throttle how often this does real work.</summary>
    ValueTask<KeySet> RefreshAsync(CancellationToken ct);
}

internal sealed class StaticKeySource(KeySet keys) : ISigningKeySource
{
    public bool CanRefresh => false;

    public ValueTask<KeySet> GetAsync(CancellationToken ct) => ValueTask.FromResult(keys);

    public ValueTask<KeySet> RefreshAsync(CancellationToken ct) => ValueTask.FromResult(keys);
}
