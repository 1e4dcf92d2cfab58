using System.Globalization;
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
    /// <summary>Upper bound of <see cref="_verified"/>; about 250 bytes each.</summary>
    private const int MaxVerifiedTokens = 50_000;

    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };
    // Keyed by the token's SHA-256, not the token: an entry lives as long as its token (an open
    // WebSocket's included), and the token text is about 1 KiB of it.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<TokenDigest, VerifiedToken> _verified = new();
    private readonly ClaimShapes _shapes = new();
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
            if (ReferenceEquals(hit.Keys, current) && hit.ExpiresAt + _clockSkew > _time.GetUtcNow())
            {
                return (hit.Restore(), null);
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

            _verified[digest] = VerifiedToken.Create(checkedToken, keys, _shapes);
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
/// A verified token as the cache keeps it. The cache holds one entry per live token (an open
/// WebSocket's included), so an entry keeps only what differs between tokens: the user, email, token
/// and session ids (the same strings the caller of the first check got, so a connection that keeps
/// them shares them with the entry) and the token's numeric claims. What Apex's tokens have in
/// common (claim types, value types, issuer, audience, token type, the identity's settings) is one
/// <see cref="ClaimShape"/> shared by all of them. An identity that fits no shape (claim properties,
/// an actor, more numbers than a shape keeps; not one Apex issues) is kept as a clone.
/// </summary>
internal sealed class VerifiedToken
{
    private readonly string _userId;
    private readonly string _email;
    private readonly string _tokenId;
    private readonly string? _sessionId;

    // A ClaimShape (with the numbers below), or a cloned ClaimsIdentity.
    private readonly object _identity;
    private readonly long _number0;
    private readonly long _number1;
    private readonly long _number2;

    private VerifiedToken(CheckedToken token, KeySet keys, object identity, long number0 = 0, long number1 = 0, long number2 = 0)
    {
        _userId = token.UserId;
        _email = token.Email;
        _tokenId = token.TokenId;
        _sessionId = token.SessionId;
        ExpiresAt = token.ExpiresAt;
        Keys = keys;
        _identity = identity;
        _number0 = number0;
        _number1 = number1;
        _number2 = number2;
    }

    /// <summary>The key set the signature was checked against; another set means checking again.</summary>
    public KeySet Keys { get; }

    public DateTimeOffset ExpiresAt { get; }

    public static VerifiedToken Create(CheckedToken token, KeySet keys, ClaimShapes shapes)
    {
        var identity = token.Identity;
        if (ClaimShape.Describe(token, out var numbers) is { } description && shapes.Intern(description) is { } shape)
        {
            return new VerifiedToken(token, keys, shape, numbers[0], numbers[1], numbers[2]);
        }

        return new VerifiedToken(token, keys, identity.Clone());
    }

    /// <summary>The token's facts with an identity of its own, equal to the one verification produced.</summary>
    public CheckedToken Restore() => new(_userId, _email, _tokenId, _sessionId, ExpiresAt, _identity switch
    {
        ClaimShape shape => shape.Build(this),
        _ => ((ClaimsIdentity)_identity).Clone(),
    });

    internal string? Value(ClaimSource source) => source switch
    {
        ClaimSource.UserId => _userId,
        ClaimSource.Email => _email,
        ClaimSource.TokenId => _tokenId,
        ClaimSource.SessionId => _sessionId,
        ClaimSource.Number0 => _number0.ToString(CultureInfo.InvariantCulture),
        ClaimSource.Number1 => _number1.ToString(CultureInfo.InvariantCulture),
        ClaimSource.Number2 => _number2.ToString(CultureInfo.InvariantCulture),
        _ => null,
    };
}

/// <summary>Where a claim's value comes from when an identity is rebuilt from its <see cref="ClaimShape"/>.</summary>
internal enum ClaimSource : byte
{
    Constant,
    UserId,
    Email,
    TokenId,
    SessionId,
    Number0,
    Number1,
    Number2,
}

/// <summary>
/// What the identities of many tokens have in common: every claim's type and value type, its value
/// when it is the same for all of them (issuer, audience, token type) or else which of the token's
/// own values it is, and the identity's settings.
/// </summary>
internal sealed class ClaimShape
{
    private const int MaxNumbers = 3;

    private readonly string[] _types;
    private readonly string[] _valueTypes;
    private readonly ClaimSource[] _sources;
    private readonly string?[] _constants;
    private readonly string? _issuer;
    private readonly string? _originalIssuer;
    private readonly string? _authenticationType;
    private readonly string? _nameClaimType;
    private readonly string? _roleClaimType;

    private ClaimShape(string[] types, string[] valueTypes, ClaimSource[] sources, string?[] constants, string? issuer, string? originalIssuer, ClaimsIdentity identity, string key)
    {
        _types = types;
        _valueTypes = valueTypes;
        _sources = sources;
        _constants = constants;
        _issuer = issuer;
        _originalIssuer = originalIssuer;
        _authenticationType = identity.AuthenticationType;
        _nameClaimType = identity.NameClaimType;
        _roleClaimType = identity.RoleClaimType;
        Key = key;
    }

    /// <summary>Equal for identities that differ only in the token's own values.</summary>
    public string Key { get; }

    /// <summary>
    /// The shape of <paramref name="token"/>'s identity and its numeric claims; null when it does not
    /// fit one (an actor, a label, a bootstrap context, claim properties, mixed issuers, more than
    /// three numbers, a number that would not read back as the same text).
    /// </summary>
    public static ClaimShape? Describe(CheckedToken token, out long[] numbers)
    {
        numbers = new long[MaxNumbers];
        var identity = token.Identity;
        if (identity is not CaseSensitiveClaimsIdentity || identity.Actor is not null || identity.Label is not null || identity.BootstrapContext is not null)
        {
            return null;
        }

        var claims = identity.Claims.ToList();
        var issuer = claims.Count > 0 ? claims[0].Issuer : null;
        var originalIssuer = claims.Count > 0 ? claims[0].OriginalIssuer : null;
        var types = new string[claims.Count];
        var valueTypes = new string[claims.Count];
        var sources = new ClaimSource[claims.Count];
        var constants = new string?[claims.Count];
        var key = new System.Text.StringBuilder();
        var numberCount = 0;
        for (var i = 0; i < claims.Count; i++)
        {
            var claim = claims[i];
            if (claim.Issuer != issuer || claim.OriginalIssuer != originalIssuer || claim.Properties.Count > 0)
            {
                return null;
            }

            var value = claim.Value;
            ClaimSource source;
            if (value == token.UserId)
            {
                source = ClaimSource.UserId;
            }
            else if (value == token.TokenId)
            {
                source = ClaimSource.TokenId;
            }
            else if (value == token.SessionId)
            {
                source = ClaimSource.SessionId;
            }
            else if (value == token.Email)
            {
                source = ClaimSource.Email;
            }
            else if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number)
                     && number.ToString(CultureInfo.InvariantCulture) == value)
            {
                if (numberCount == MaxNumbers)
                {
                    return null;
                }

                numbers[numberCount] = number;
                source = (ClaimSource)((int)ClaimSource.Number0 + numberCount++);
            }
            else
            {
                source = ClaimSource.Constant;
                constants[i] = value;
            }

            types[i] = claim.Type;
            valueTypes[i] = claim.ValueType;
            sources[i] = source;
            // Length-prefixed parts: no value can be mistaken for a separator.
            Append(Append(key, claim.Type), claim.ValueType).Append((int)source).Append(';');
            if (source == ClaimSource.Constant)
            {
                Append(key, value);
            }
        }

        Append(Append(Append(Append(Append(key.Append('|'), issuer), originalIssuer), identity.AuthenticationType), identity.NameClaimType), identity.RoleClaimType);
        return new ClaimShape(types, valueTypes, sources, constants, issuer, originalIssuer, identity, key.ToString());
    }

    public CaseSensitiveClaimsIdentity Build(VerifiedToken token)
    {
        var claims = new Claim[_types.Length];
        for (var i = 0; i < claims.Length; i++)
        {
            var value = _sources[i] == ClaimSource.Constant ? _constants[i] : token.Value(_sources[i]);
            claims[i] = new Claim(_types[i], value!, _valueTypes[i], _issuer, _originalIssuer);
        }

        return new CaseSensitiveClaimsIdentity(claims, _authenticationType, _nameClaimType, _roleClaimType);
    }

    private static System.Text.StringBuilder Append(System.Text.StringBuilder key, string? part) =>
        part is null ? key.Append("-1:") : key.Append(part.Length).Append(':').Append(part);
}

/// <summary>The shapes in use, shared by the cache's entries; bounded, since a shape is made per distinct set of constant claims.</summary>
internal sealed class ClaimShapes
{
    private const int MaxShapes = 64;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ClaimShape> _shapes = new(StringComparer.Ordinal);

    /// <summary>The shared shape equal to <paramref name="shape"/>; null when the pool is full (the entry then keeps its own claims).</summary>
    public ClaimShape? Intern(ClaimShape shape)
    {
        if (_shapes.TryGetValue(shape.Key, out var shared))
        {
            return shared;
        }

        return _shapes.Count >= MaxShapes ? null : _shapes.GetOrAdd(shape.Key, shape);
    }
}
