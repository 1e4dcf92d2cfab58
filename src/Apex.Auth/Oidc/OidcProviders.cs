using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;

namespace Apex.Auth.Oidc;

/// <summary>Why a provider sign-in was refused; the codes are what the callback page shows.</summary>
internal sealed class OidcRefusal(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}

/// <summary>The checked claims of an id_token.</summary>
internal sealed record OidcIdentity(string Subject, string? Email, bool EmailVerified, string? Name);

/// <summary>
/// The configured providers, each with its discovery document and signing keys cached by a
/// <see cref="ConfigurationManager{T}"/> (refreshed periodically, and at once when an id_token names
/// a key it does not know: the provider rotated its keys).
/// </summary>
internal sealed class OidcProviders : IDisposable
{
    private readonly Dictionary<string, (OidcProvider Provider, ConfigurationManager<OpenIdConnectConfiguration> Metadata, string MetadataUrl, IDocumentRetriever Retriever)> providers = new(StringComparer.Ordinal);
    private readonly HttpClient http;
    private readonly JsonWebTokenHandler handler = new();
    private readonly TimeSpan clockSkew;

    public OidcProviders(IOptions<OidcOptions> options, IOptions<AuthOptions> auth)
    {
        var o = options.Value;
        clockSkew = TimeSpan.FromSeconds(auth.Value.ClockSkewSeconds);
        http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), AllowAutoRedirect = false })
        {
            Timeout = TimeSpan.FromSeconds(o.TimeoutSeconds),
        };
        foreach (var (name, settings) in o.Providers.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var provider = OidcProvider.From(name, settings);
            var metadataUrl = provider.Authority.AbsoluteUri.TrimEnd('/') + "/.well-known/openid-configuration";
            var retriever = new HttpDocumentRetriever(http) { RequireHttps = provider.Authority.Scheme == Uri.UriSchemeHttps };
            providers[name] = (provider, new ConfigurationManager<OpenIdConnectConfiguration>(metadataUrl, new OpenIdConnectConfigurationRetriever(), retriever), metadataUrl, retriever);
        }
    }

    public IReadOnlyList<OidcProvider> All => [.. providers.Values.Select(p => p.Provider)];

    public OidcProvider? Find(string? name) =>
        name is not null && providers.TryGetValue(name, out var p) ? p.Provider : null;

    public async Task<OpenIdConnectConfiguration> MetadataAsync(OidcProvider provider, CancellationToken ct, bool fresh = false)
    {
        try
        {
            var entry = providers[provider.Name];
            var metadata = fresh
                ? await OpenIdConnectConfigurationRetriever.GetAsync(entry.MetadataUrl, entry.Retriever, ct)
                : await entry.Metadata.GetConfigurationAsync(ct);
            // OpenID Connect Discovery 4.3: the document must name the issuer it was fetched for.
            if (!string.Equals(metadata.Issuer?.TrimEnd('/'), provider.Authority.AbsoluteUri.TrimEnd('/'), StringComparison.Ordinal))
            {
                throw new OidcRefusal("invalid_issuer", $"{provider.DisplayName}'s discovery document names another issuer.");
            }

            return metadata;
        }
        catch (Exception ex) when (ex is InvalidOperationException or HttpRequestException or TaskCanceledException or IOException && !ct.IsCancellationRequested)
        {
            throw new OidcRefusal("provider_unavailable", $"{provider.DisplayName} did not answer; try again later.");
        }
    }

    /// <summary>Redeems the authorisation code at the token endpoint and returns the raw id_token.</summary>
    public async Task<string> RedeemAsync(OidcProvider provider, string code, string redirectUri, string codeVerifier, CancellationToken ct)
    {
        var metadata = await MetadataAsync(provider, ct);
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["code"] = code,
            ["redirect_uri"] = redirectUri,
            ["code_verifier"] = codeVerifier,
        };
        using var request = new HttpRequestMessage(HttpMethod.Post, metadata.TokenEndpoint);
        var methods = metadata.TokenEndpointAuthMethodsSupported;
        if (provider.ClientSecret is null)
        {
            form["client_id"] = provider.ClientId;
        }
        else if (methods.Count > 0 && !methods.Contains("client_secret_basic") && methods.Contains("client_secret_post"))
        {
            form["client_id"] = provider.ClientId;
            form["client_secret"] = provider.ClientSecret;
        }
        else
        {
            // RFC 6749 2.3.1: both parts form-encoded before the Basic encoding.
            var basic = $"{Uri.EscapeDataString(provider.ClientId)}:{Uri.EscapeDataString(provider.ClientSecret)}";
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(basic)));
        }

        request.Content = new FormUrlEncodedContent(form);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, ct);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException && !ct.IsCancellationRequested)
        {
            throw new OidcRefusal("provider_unavailable", $"{provider.DisplayName} did not answer; try again later.");
        }

        using (response)
        {
            if (response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.Unauthorized)
            {
                // invalid_grant: the code was already used, expired, or not issued for this verifier.
                throw new OidcRefusal("code_refused", $"{provider.DisplayName} refused the sign-in code (already used or expired); sign in again.");
            }

            if (!response.IsSuccessStatusCode)
            {
                throw new OidcRefusal("provider_unavailable", $"{provider.DisplayName} did not answer; try again later.");
            }

            try
            {
                using var body = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(ct), cancellationToken: ct);
                if (body.RootElement.ValueKind == JsonValueKind.Object
                    && body.RootElement.TryGetProperty("id_token", out var idToken) && idToken.ValueKind == JsonValueKind.String)
                {
                    return idToken.GetString()!;
                }
            }
            catch (JsonException)
            {
            }

            throw new OidcRefusal("invalid_token_response", $"{provider.DisplayName} answered without an id_token.");
        }
    }

    /// <summary>Validates the id_token's signature, issuer, audience, lifetime and nonce.</summary>
    public async Task<OidcIdentity> ValidateAsync(OidcProvider provider, string idToken, string nonce, CancellationToken ct)
    {
        var metadata = await MetadataAsync(provider, ct);
        var result = await handler.ValidateTokenAsync(idToken, Parameters(provider, metadata));
        if (!result.IsValid && result.Exception is SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException)
        {
            // A key the cached JWKS does not hold: the provider may have rotated. The cache refreshes
            // in the background; this sign-in checks against keys fetched now. (Each retry costs the
            // caller a code redeemed at the provider, so it cannot be used to flood the provider.)
            providers[provider.Name].Metadata.RequestRefresh();
            metadata = await MetadataAsync(provider, ct, fresh: true);
            result = await handler.ValidateTokenAsync(idToken, Parameters(provider, metadata));
        }

        if (!result.IsValid)
        {
            var (code, what) = result.Exception switch
            {
                SecurityTokenInvalidAudienceException => ("invalid_audience", "was issued for another application"),
                SecurityTokenInvalidIssuerException => ("invalid_issuer", "comes from another issuer"),
                SecurityTokenExpiredException or SecurityTokenNoExpirationException or SecurityTokenNotYetValidException => ("token_expired", "is expired or not yet valid"),
                SecurityTokenSignatureKeyNotFoundException or SecurityTokenInvalidSignatureException or SecurityTokenInvalidAlgorithmException => ("invalid_signature", "has a signature that does not verify"),
                _ => ("invalid_token", "is not valid"),
            };
            throw new OidcRefusal(code, $"The identity token from {provider.DisplayName} {what}.");
        }

        var token = (JsonWebToken)result.SecurityToken;
        if (!token.TryGetPayloadValue<string>("nonce", out var tokenNonce) || !FixedTimeEquals(tokenNonce, nonce))
        {
            throw new OidcRefusal("nonce_mismatch", $"The identity token from {provider.DisplayName} does not belong to this sign-in (nonce mismatch).");
        }

        var audiences = token.Audiences.ToList();
        if (audiences.Count > 1 && (!token.TryGetPayloadValue<string>("azp", out var azp) || azp != provider.ClientId))
        {
            // OpenID Connect Core 3.1.3.7: with several audiences, the authorized party must be us.
            throw new OidcRefusal("invalid_audience", $"The identity token from {provider.DisplayName} was issued for another application.");
        }

        if (string.IsNullOrEmpty(token.Subject))
        {
            throw new OidcRefusal("invalid_token", $"The identity token from {provider.DisplayName} has no subject.");
        }

        if (provider.HostedDomain is { } hd
            && !(token.TryGetPayloadValue<string>("hd", out var tokenHd) && string.Equals(tokenHd, hd, StringComparison.OrdinalIgnoreCase)))
        {
            throw new OidcRefusal("wrong_domain", $"Only {hd} accounts may sign in here.");
        }

        token.TryGetPayloadValue<string>("email", out var email);
        var verified = token.TryGetPayloadValue<bool>("email_verified", out var v) ? v
            : token.TryGetPayloadValue<string>("email_verified", out var vs) && string.Equals(vs, "true", StringComparison.OrdinalIgnoreCase);
        token.TryGetPayloadValue<string>("name", out var name);
        return new OidcIdentity(token.Subject, string.IsNullOrWhiteSpace(email) ? null : email, verified, string.IsNullOrWhiteSpace(name) ? null : name);
    }

    public void Dispose() => http.Dispose();

    private TokenValidationParameters Parameters(OidcProvider provider, OpenIdConnectConfiguration metadata) => new()
    {
        // Google documents both spellings of its issuer in id_tokens.
        ValidIssuers = provider.IsGoogle && metadata.Issuer == OidcOptions.GoogleAuthority ? [metadata.Issuer, "accounts.google.com"] : [metadata.Issuer],
        ValidAudience = provider.ClientId,
        IssuerSigningKeys = metadata.SigningKeys,
        ValidateIssuerSigningKey = true,
        RequireSignedTokens = true,
        RequireExpirationTime = true,
        ValidateLifetime = true,
        ClockSkew = clockSkew,
        ValidAlgorithms = metadata.IdTokenSigningAlgValuesSupported.Count > 0 ? metadata.IdTokenSigningAlgValuesSupported : null,
    };

    private static bool FixedTimeEquals(string a, string b) =>
        System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(System.Text.Encoding.UTF8.GetBytes(a), System.Text.Encoding.UTF8.GetBytes(b));
}
