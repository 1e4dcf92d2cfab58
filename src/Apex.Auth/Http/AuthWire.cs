using System.Text.Json.Serialization;

namespace Apex.Auth.Http;

// Request fields are nullable so a missing field is a 422 naming it, not a JSON error.

public sealed record RegisterRequest
{
    public string? Email { get; init; }
    public string? Password { get; init; }
    public string? Name { get; init; }
}

public sealed record LoginRequest
{
    public string? Email { get; init; }
    public string? Password { get; init; }
}

public sealed record RefreshRequest
{
    public string? RefreshToken { get; init; }

    /// <summary>Older clients send <c>refreshToken</c>.</summary>
    [JsonPropertyName("refreshToken")]
    public string? RefreshTokenAlias { get; init; }
}

public sealed record LogoutRequest
{
    public string? RefreshToken { get; init; }

    [JsonPropertyName("refreshToken")]
    public string? RefreshTokenAlias { get; init; }
}

public sealed record ValidateRequest
{
    public string? Token { get; init; }
}

public sealed record DevLoginRequest
{
    public string? Email { get; init; }
}

public sealed record UserResponse
{
    public required string Id { get; init; }
    public required string Email { get; init; }
    public string? Name { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required IReadOnlyList<string> Providers { get; init; }
}

public sealed record TokenPairResponse
{
    public required string AccessToken { get; init; }
    public required string RefreshToken { get; init; }
    public string TokenType { get; init; } = "Bearer";

    /// <summary>Seconds until the access token expires.</summary>
    public required long ExpiresIn { get; init; }

    /// <summary>Seconds until the refresh token expires.</summary>
    public required long RefreshExpiresIn { get; init; }

    public UserResponse? User { get; init; }
}

public sealed record ValidateResponse
{
    public required bool Valid { get; init; }
    public string? UserId { get; init; }
    public string? Email { get; init; }

    /// <summary>Expiry as Unix seconds.</summary>
    public long? Exp { get; init; }
}

public sealed record AuthConfigResponse
{
    public required IReadOnlyList<string> Providers { get; init; }

    /// <summary>Display name of each sign-in provider other than <c>password</c> (the web app's button text).</summary>
    public required IReadOnlyDictionary<string, string> ProviderNames { get; init; }

    public required bool RegistrationOpen { get; init; }
    public required bool DevLogin { get; init; }
}

public sealed record OpenIdConfigurationResponse
{
    public required string Issuer { get; init; }
    public required string JwksUri { get; init; }
    public required string TokenEndpoint { get; init; }
    public required string UserinfoEndpoint { get; init; }
    public required string RegistrationEndpoint { get; init; }
    public required string RevocationEndpoint { get; init; }
    public required string IntrospectionEndpoint { get; init; }
    public required IReadOnlyList<string> IdTokenSigningAlgValuesSupported { get; init; }
    public required IReadOnlyList<string> TokenEndpointAuthMethodsSupported { get; init; }
    public required IReadOnlyList<string> GrantTypesSupported { get; init; }
    public required IReadOnlyList<string> SubjectTypesSupported { get; init; }
    public required IReadOnlyList<string> ResponseTypesSupported { get; init; }
}

public sealed record JwksResponse
{
    public required IReadOnlyList<JwkResponse> Keys { get; init; }
}

public sealed record JwkResponse
{
    public required string Kty { get; init; }
    public required string Kid { get; init; }
    public required string Use { get; init; }
    public required string Alg { get; init; }
    public required string Crv { get; init; }
    public required string X { get; init; }
    public required string Y { get; init; }
}
