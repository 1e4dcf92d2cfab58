using System.Security.Claims;
using Apex.Auth.Keys;
using Apex.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Apex.Auth.Tokens;

internal static class TokenTypes
{
    public const string Access = "access";
    public const string Refresh = "refresh";
}

/// <summary>Stable reasons a token is refused (the <c>reason</c> of <c>/auth/validate</c>).</summary>
public static class TokenFailureReasons
{
    public const string Missing = "missing_token";
    public const string Malformed = "malformed";
    public const string InvalidSignature = "invalid_signature";
    public const string UnknownKey = "unknown_key";
    public const string InvalidAlgorithm = "invalid_algorithm";
    public const string InvalidIssuer = "invalid_issuer";
    public const string InvalidAudience = "invalid_audience";
    public const string Expired = "expired";
    public const string NotYetValid = "not_yet_valid";
    public const string WrongTokenType = "wrong_token_type";
    public const string Revoked = "revoked";
    public const string Reused = "reused";
    public const string Invalid = "invalid_token";
}

internal sealed record IssuedToken(string Token, string TokenId, DateTimeOffset ExpiresAt);

/// <summary>A token whose signature, issuer, audience, lifetime and type were checked.</summary>
internal sealed record CheckedToken(
    string UserId,
    string Email,
    string TokenId,
    string? SessionId,
    DateTimeOffset ExpiresAt,
    ClaimsIdentity Identity);

/// <summary>Mints and checks Apex JWTs with the key source of this role.</summary>
internal sealed class TokenService
{
    /// <summary>Longer input is not a token we issued; refuse it before parsing.</summary>
    public const int MaxTokenLength = 8192;

    private readonly ISigningKeySource _keys;
    private readonly AuthOptions _options;
    private readonly TimeProvider _time;
    /// <summary>Upper bound of <see cref="_verified"/>; about 1 KiB each.</summary>
    private const int MaxVerifiedTokens = 50_000;

    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };
    // Keyed by the token's SHA-256, not the token: an entry lives as long as its token (an open
    // WebSocket's included), and the token text is about 1 KiB of it.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<TokenDigest, (VerifiedToken Token, KeySet Keys)> _verified = new();
    private readonly TimeSpan _clockSkew;
    private int _verifiedCount;
    private (KeySet Keys, TokenValidationParameters Parameters)? _parameters;

    public TokenService(ISigningKeySource keys, IOptions<AuthOptions> options, IOptions<ApexOptions> apex, TimeProvider time)
    {
        _keys = keys;
        _options = options.Value;
        _time = time;
        Issuer = ResolveIssuer(_options, apex.Value);
        Algorithm = IsSharedSecretMode(_options) ? KeyMaterial.Hs256 : KeyMaterial.Es256;
        _clockSkew = TimeSpan.FromSeconds(_options.ClockSkewSeconds);
    }

    public string Issuer { get; }

    public string Audience => _options.Audience;

    public string Algorithm { get; }

    public static bool IsSharedSecretMode(AuthOptions options) =>
        string.Equals(options.SigningAlgorithm, "HS256", StringComparison.OrdinalIgnoreCase);

    public static string ResolveIssuer(AuthOptions options, ApexOptions apex) =>
        !string.IsNullOrWhiteSpace(options.Issuer) ? options.Issuer
        : !string.IsNullOrWhiteSpace(apex.PublicUrl) ? apex.PublicUrl.TrimEnd('/')
        : AuthOptions.DefaultIssuer;

    public async Task<IssuedToken> CreateAsync(string type, string userId, string email, string sessionId, DateTimeOffset expiresAt, CancellationToken ct)
    {
        var now = _time.GetUtcNow();
        return Create(await SigningKeyAsync(now, ct), type, userId, email, sessionId, NewTokenId(), now, expiresAt);
    }

    /// <summary>A fresh token id (<c>jti</c>); a refresh token's id is known before it is signed.</summary>
    public static string NewTokenId() => Guid.CreateVersion7().ToString("N");

    /// <summary>The key that signs at <paramref name="now"/>; throws on nodes that do not issue tokens.</summary>
    public async ValueTask<SigningKey> SigningKeyAsync(DateTimeOffset now, CancellationToken ct)
    {
        var keys = await _keys.GetAsync(ct);
        return keys.Current(now) ?? throw new InvalidOperationException("This node has no signing key (API role nodes do not issue tokens).");
    }

    public IssuedToken Create(SigningKey key, string type, string userId, string email, string sessionId, string tokenId, DateTimeOffset now, DateTimeOffset expiresAt)
    {
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = _options.Audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = expiresAt.UtcDateTime,
            // Never an unsigned token: a key without its private half cannot sign.
            SigningCredentials = key.Credentials ?? throw new InvalidOperationException($"Key '{key.KeyId}' has no private key."),
            Claims = new Dictionary<string, object>
            {
                [ApexClaims.Subject] = userId,
                [ApexClaims.Email] = email,
                [ApexClaims.TokenId] = tokenId,
                [ApexClaims.TokenType] = type,
                [ApexClaims.LegacyTokenType] = type,
                [ApexClaims.SessionId] = sessionId,
            },
        };
        return new IssuedToken(_handler.CreateToken(descriptor), tokenId, DateTimeOffset.FromUnixTimeSeconds(expiresAt.ToUnixTimeSeconds()));
    }

    /// <summary>Checks everything but revocation; returns a failure reason or the token's facts.</summary>
    public async ValueTask<(CheckedToken? Token, string? Failure)> CheckAsync(string token, string expectedType, CancellationToken ct)
    {
        // An access token is presented on every request of a session; its signature only needs
        // checking once per key set. Lifetime is re-checked on every hit, revocation by the caller.
        var cacheable = expectedType == TokenTypes.Access && !string.IsNullOrEmpty(token) && token.Length <= MaxTokenLength;
        var digest = cacheable ? TokenDigest.Of(token) : default;
        if (cacheable && _verified.TryGetValue(digest, out var hit))
        {
            var current = await _keys.GetAsync(ct);
            if (ReferenceEquals(hit.Keys, current) && hit.Token.ExpiresAt + _clockSkew > _time.GetUtcNow())
            {
                return (hit.Token.Restore(), null);
            }

            _verified.TryRemove(digest, out _);
        }

        var (checkedToken, failure, keys) = await VerifyAsync(token, expectedType, ct);
        if (checkedToken is not null && cacheable && keys is not null)
        {
            if (Interlocked.Increment(ref _verifiedCount) > MaxVerifiedTokens)
            {
                // Bounded memory: start over rather than track recency on the hot path.
                _verified.Clear();
                Interlocked.Exchange(ref _verifiedCount, 0);
            }

            _verified[digest] = (new VerifiedToken(checkedToken), keys);
        }

        return (checkedToken, failure);
    }

    private async Task<(CheckedToken? Token, string? Failure, KeySet? Keys)> VerifyAsync(string token, string expectedType, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(token))
        {
            return (null, TokenFailureReasons.Missing, null);
        }

        if (token.Length > MaxTokenLength)
        {
            return (null, TokenFailureReasons.Malformed, null);
        }

        JsonWebToken parsed;
        try
        {
            parsed = _handler.ReadJsonWebToken(token);
        }
        catch (Exception ex) when (ex is ArgumentException or SecurityTokenMalformedException)
        {
            return (null, TokenFailureReasons.Malformed, null);
        }

        // Checked up front so that "alg: none" and algorithm confusion get their own reason.
        if (parsed.Alg != Algorithm)
        {
            return (null, TokenFailureReasons.InvalidAlgorithm, null);
        }

        var keys = await _keys.GetAsync(ct);
        var result = await _handler.ValidateTokenAsync(parsed, ParametersFor(keys));
        if (!result.IsValid && result.Exception is SecurityTokenSignatureKeyNotFoundException && _keys.CanRefresh)
        {
            var refreshed = await _keys.RefreshAsync(ct);
            if (!ReferenceEquals(refreshed, keys))
            {
                keys = refreshed;
                result = await _handler.ValidateTokenAsync(parsed, ParametersFor(refreshed));
            }
        }

        if (!result.IsValid)
        {
            return (null, Reason(result.Exception), null);
        }

        var jwt = (JsonWebToken)result.SecurityToken;
        if (!jwt.TryGetPayloadValue<string>(ApexClaims.TokenType, out var type) || type != expectedType)
        {
            return (null, TokenFailureReasons.WrongTokenType, null);
        }

        if (!jwt.TryGetPayloadValue<string>(ApexClaims.Subject, out var sub) || string.IsNullOrEmpty(sub)
            || !jwt.TryGetPayloadValue<string>(ApexClaims.TokenId, out var jti) || string.IsNullOrEmpty(jti))
        {
            return (null, TokenFailureReasons.Invalid, null);
        }

        jwt.TryGetPayloadValue<string>(ApexClaims.Email, out var email);
        jwt.TryGetPayloadValue<string>(ApexClaims.SessionId, out var sid);
        return (new CheckedToken(sub, email ?? "", jti, sid, new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero), result.ClaimsIdentity), null, keys);
    }

    private TokenValidationParameters ParametersFor(KeySet keys)
    {
        var cached = _parameters;
        if (cached is { } c && ReferenceEquals(c.Keys, keys))
        {
            return c.Parameters;
        }

        var parameters = new TokenValidationParameters
        {
            ValidIssuer = Issuer,
            ValidAudience = _options.Audience,
            IssuerSigningKeys = keys.ValidationKeys,
            ValidAlgorithms = [Algorithm],
            ClockSkew = TimeSpan.FromSeconds(_options.ClockSkewSeconds),
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            ValidateIssuer = true,
            ValidateAudience = true,
            ValidateLifetime = true,
            ValidateIssuerSigningKey = true,
            // A token naming a kid we do not have is refused, not tried against every key.
            TryAllIssuerSigningKeys = false,
            NameClaimType = ApexClaims.Email,
            AuthenticationType = AuthModule.SchemeName,
        };
        _parameters = (keys, parameters);
        return parameters;
    }

    private static string Reason(Exception? exception) => exception switch
    {
        SecurityTokenExpiredException => TokenFailureReasons.Expired,
        SecurityTokenNotYetValidException => TokenFailureReasons.NotYetValid,
        SecurityTokenInvalidIssuerException => TokenFailureReasons.InvalidIssuer,
        SecurityTokenInvalidAudienceException => TokenFailureReasons.InvalidAudience,
        SecurityTokenInvalidAlgorithmException => TokenFailureReasons.InvalidAlgorithm,
        SecurityTokenSignatureKeyNotFoundException => TokenFailureReasons.UnknownKey,
        SecurityTokenInvalidSignatureException => TokenFailureReasons.InvalidSignature,
        SecurityTokenMalformedException or ArgumentException => TokenFailureReasons.Malformed,
        _ => TokenFailureReasons.Invalid,
    };
}

/// <summary>The SHA-256 of a token's text: the verified-token cache's key.</summary>
internal readonly record struct TokenDigest(UInt128 High, UInt128 Low)
{
    public static TokenDigest Of(string token)
    {
        Span<byte> hash = stackalloc byte[System.Security.Cryptography.SHA256.HashSizeInBytes];
        System.Security.Cryptography.SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(token.AsSpan()), hash);
        return new(System.Runtime.InteropServices.MemoryMarshal.Read<UInt128>(hash), System.Runtime.InteropServices.MemoryMarshal.Read<UInt128>(hash[16..]));
    }
}

/// <summary>
/// A verified token as the cache keeps it: its facts, and its identity's claims flattened into one
/// array of strings. A cloned <see cref="ClaimsIdentity"/> costs about 1.5 KiB (an object per claim and
/// its lists); the cache holds one entry per live token, open WebSockets included.
/// </summary>
internal sealed class VerifiedToken
{
    private const int FieldsPerClaim = 3;

    private static readonly ClaimsIdentity EmptyIdentity = new();

    private readonly CheckedToken _facts;

    // type, value, value type of each claim, all issued by _issuer (null: the identity is kept whole instead).
    private readonly string[]? _claims;
    private readonly string? _issuer;
    private readonly string? _originalIssuer;
    private readonly string? _authenticationType;
    private readonly string? _nameClaimType;
    private readonly string? _roleClaimType;

    public VerifiedToken(CheckedToken token)
    {
        var identity = token.Identity;
        _authenticationType = identity.AuthenticationType;
        _nameClaimType = identity.NameClaimType;
        _roleClaimType = identity.RoleClaimType;
        if (Flatten(identity) is { } flat)
        {
            (_claims, _issuer, _originalIssuer) = flat;
            _facts = token with { Identity = EmptyIdentity };
        }
        else
        {
            _facts = token with { Identity = identity.Clone() };
        }
    }

    public DateTimeOffset ExpiresAt => _facts.ExpiresAt;

    /// <summary>The token's facts with an identity of its own, equal to the one verification produced.</summary>
    public CheckedToken Restore()
    {
        if (_claims is null)
        {
            return _facts with { Identity = _facts.Identity.Clone() };
        }

        var claims = new Claim[_claims.Length / FieldsPerClaim];
        for (var i = 0; i < claims.Length; i++)
        {
            var at = i * FieldsPerClaim;
            claims[i] = new Claim(_claims[at], _claims[at + 1], _claims[at + 2], _issuer, _originalIssuer);
        }

        return _facts with { Identity = new CaseSensitiveClaimsIdentity(claims, _authenticationType, _nameClaimType, _roleClaimType) };
    }

    /// <summary>Null when something would be lost: an actor, a label, a bootstrap context, claim properties, mixed issuers.</summary>
    private static (string[] Claims, string? Issuer, string? OriginalIssuer)? Flatten(ClaimsIdentity identity)
    {
        if (identity is not CaseSensitiveClaimsIdentity || identity.Actor is not null || identity.Label is not null || identity.BootstrapContext is not null)
        {
            return null;
        }

        var claims = identity.Claims.ToList();
        var issuer = claims.Count > 0 ? claims[0].Issuer : null;
        var originalIssuer = claims.Count > 0 ? claims[0].OriginalIssuer : null;
        var flat = new string[claims.Count * FieldsPerClaim];
        for (var i = 0; i < claims.Count; i++)
        {
            var claim = claims[i];
            if (claim.Issuer != issuer || claim.OriginalIssuer != originalIssuer || claim.Properties.Count > 0)
            {
                return null;
            }

            flat[i * FieldsPerClaim] = claim.Type;
            flat[(i * FieldsPerClaim) + 1] = claim.Value;
            flat[(i * FieldsPerClaim) + 2] = claim.ValueType;
        }

        return (flat, issuer, originalIssuer);
    }
}
