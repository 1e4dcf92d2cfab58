using System.ComponentModel.DataAnnotations;

namespace Apex.Auth;

/// <summary>Section <c>Auth</c>: token lifetimes, signing, passwords and abuse limits.</summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    public const int DefaultAccessTokenMinutes = 15;
    public const int DefaultRefreshTokenDays = 14;
    public const int DefaultSessionDays = 30;
    public const int DefaultClockSkewSeconds = 30;
    public const string DefaultAudience = "apex";
    public const string DefaultIssuer = "apex";

    /// <summary>Token <c>iss</c>; defaults to <c>Apex:PublicUrl</c>, else <c>apex</c>.</summary>
    public string? Issuer { get; set; }

    [Required(AllowEmptyStrings = false)]
    public string Audience { get; set; } = DefaultAudience;

    [Range(1, 24 * 60)]
    public int AccessTokenMinutes { get; set; } = DefaultAccessTokenMinutes;

    [Range(1, 365)]
    public int RefreshTokenDays { get; set; } = DefaultRefreshTokenDays;

    /// <summary>Absolute session lifetime: refreshing never extends a login past this.</summary>
    [Range(1, 3650)]
    public int SessionDays { get; set; } = DefaultSessionDays;

    /// <summary>Clock skew tolerated on <c>exp</c>/<c>nbf</c>; the spec allows 30 s at most.</summary>
    [Range(0, 30)]
    public int ClockSkewSeconds { get; set; } = DefaultClockSkewSeconds;

    /// <summary><c>ES256</c> (default) or <c>HS256</c> (compatibility with older deployments only).</summary>
    [Required(AllowEmptyStrings = false)]
    public string SigningAlgorithm { get; set; } = "ES256";

    /// <summary>HS256 shared secret (UTF-8, at least 32 bytes); only read when SigningAlgorithm is HS256.</summary>
    public string? SharedSecret { get; set; }

    /// <summary>
    /// An ES256 private key (PKCS#8 PEM) to sign with instead of the generated key store under
    /// <c>{DataDir}/keys</c>; with it, rotation is the operator's job.
    /// </summary>
    public string? SigningKeyPem { get; set; }

    /// <summary>The <c>kid</c> of <see cref="SigningKeyPem"/>.</summary>
    public string? SigningKeyId { get; set; }

    /// <summary>
    /// Seconds between a rotated key being published in the JWKS and it signing, so that API nodes
    /// caching the JWKS know the key before they see a token signed by it.
    /// </summary>
    [Range(0, 86_400)]
    public int KeyActivationDelaySeconds { get; set; } = 300;

    /// <summary>API role: where the auth node publishes its keys, e.g. http://auth:8081/.well-known/jwks.json.</summary>
    public string? JwksUrl { get; set; }

    /// <summary>API role: how often the JWKS is fetched again (an unknown <c>kid</c> also triggers a fetch).</summary>
    [Range(5, 86_400)]
    public int JwksRefreshSeconds { get; set; } = 300;

    /// <summary>How often a node reads revocations written by other nodes from the database.</summary>
    [Range(100, 60_000)]
    public int RevocationPollMilliseconds { get; set; } = 1000;

    public bool RegistrationOpen { get; set; } = true;

    public PasswordSettings Password { get; set; } = new();

    public AbuseSettings Abuse { get; set; } = new();
}

public sealed class PasswordSettings
{
    /// <summary>OWASP 2023 for PBKDF2-HMAC-SHA512.</summary>
    public const int OwaspIterations = 210_000;

    [Range(10, 256)]
    public int MinLength { get; set; } = 10;

    [Range(1_000, 10_000_000)]
    public int Iterations { get; set; } = OwaspIterations;
}

public sealed class AbuseSettings
{
    /// <summary>Credential requests (register, login, refresh, dev login) per client IP per minute.</summary>
    [Range(1, 1_000_000)]
    public int PerIpPerMinute { get; set; } = 60;

    /// <summary>Login attempts per account (normalised email, known or not) per minute.</summary>
    [Range(1, 1_000_000)]
    public int PerAccountPerMinute { get; set; } = 10;

    /// <summary>Consecutive failed logins before the account locks.</summary>
    [Range(1, 1000)]
    public int FailuresBeforeLockout { get; set; } = 5;

    /// <summary>First lock-out; each further failure doubles it up to <see cref="LockoutMaxSeconds"/>.</summary>
    [Range(1, 86_400)]
    public int LockoutSeconds { get; set; } = 30;

    [Range(1, 7 * 86_400)]
    public int LockoutMaxSeconds { get; set; } = 3600;
}
