using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Apex.Auth.Oidc;

/// <summary>Section <c>Auth:Oidc</c>: the OpenID Connect providers users may sign in with.</summary>
public sealed class OidcOptions
{
    public const string Section = "Auth:Oidc";
    public const string GoogleAuthority = "https://accounts.google.com";

    /// <summary>Providers by name (the <c>provider</c> of <c>/auth/login?provider=</c>), e.g. <c>google</c>.</summary>
    public Dictionary<string, OidcProviderSettings> Providers { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Seconds a call to a provider (discovery, keys, token endpoint) may take before the sign-in is refused.</summary>
    [Range(1, 120)]
    public int TimeoutSeconds { get; set; } = 10;

    /// <summary>Minutes between the redirect to a provider and the callback before the attempt expires.</summary>
    [Range(1, 60)]
    public int FlowMinutes { get; set; } = 10;

    /// <summary>
    /// The web app the callback hands the one-time code to (in the URL fragment); defaults to
    /// <c>Apex:PublicUrl</c>, else the root of the auth node itself.
    /// </summary>
    public string? ReturnUrl { get; set; }
}

/// <summary>One provider, <c>Auth:Oidc:Providers:&lt;name&gt;</c>.</summary>
public sealed class OidcProviderSettings
{
    /// <summary><c>Google</c> or <c>Generic</c>; a provider named <c>google</c> is a Google one unless told otherwise.</summary>
    public string? Preset { get; set; }

    /// <summary>The issuer URL; its <c>/.well-known/openid-configuration</c> describes the provider. Google's by default for the Google preset.</summary>
    public string? Authority { get; set; }

    public string? ClientId { get; set; }

    /// <summary>Sent with HTTP Basic (or in the form when the provider only accepts that); empty for a public client.</summary>
    public string? ClientSecret { get; set; }

    /// <summary>The button text of the web app ("Continue with …").</summary>
    public string? DisplayName { get; set; }

    /// <summary>Space-separated; must contain <c>openid</c> and should contain <c>email</c>.</summary>
    public string? Scopes { get; set; }

    /// <summary>Only accounts of this domain (Google Workspace <c>hd</c> claim) may sign in.</summary>
    public string? HostedDomain { get; set; }
}

/// <summary>A provider as Apex uses it, with every default applied.</summary>
internal sealed record OidcProvider(
    string Name,
    bool IsGoogle,
    Uri Authority,
    string ClientId,
    string? ClientSecret,
    string DisplayName,
    string Scopes,
    string? HostedDomain)
{
    public static OidcProvider From(string name, OidcProviderSettings s)
    {
        var google = IsGooglePreset(name, s);
        return new OidcProvider(
            name,
            google,
            new Uri(string.IsNullOrWhiteSpace(s.Authority) ? OidcOptions.GoogleAuthority : s.Authority.Trim()),
            s.ClientId!.Trim(),
            string.IsNullOrEmpty(s.ClientSecret) ? null : s.ClientSecret,
            string.IsNullOrWhiteSpace(s.DisplayName) ? (google ? "Google" : name) : s.DisplayName.Trim(),
            string.IsNullOrWhiteSpace(s.Scopes) ? "openid email profile" : string.Join(' ', s.Scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries)),
            string.IsNullOrWhiteSpace(s.HostedDomain) ? null : s.HostedDomain.Trim().ToLowerInvariant());
    }

    public static bool IsGooglePreset(string name, OidcProviderSettings s) =>
        string.IsNullOrWhiteSpace(s.Preset) ? name == "google" : string.Equals(s.Preset.Trim(), "google", StringComparison.OrdinalIgnoreCase);
}

/// <summary>Checks every provider at start and names the configuration key of each problem.</summary>
internal sealed partial class OidcOptionsValidator : IValidateOptions<OidcOptions>
{
    public ValidateOptionsResult Validate(string? name, OidcOptions options)
    {
        var failures = new List<string>();
        foreach (var (providerName, s) in options.Providers)
        {
            var key = $"{OidcOptions.Section}:Providers:{providerName}";
            if (!ProviderName().IsMatch(providerName) || providerName == "password")
            {
                failures.Add($"{key}: the provider name must be 1-32 lower-case letters, digits or '-', and not 'password'.");
                continue;
            }

            if (!string.IsNullOrWhiteSpace(s.Preset) && !(s.Preset.Trim().Equals("google", StringComparison.OrdinalIgnoreCase) || s.Preset.Trim().Equals("generic", StringComparison.OrdinalIgnoreCase)))
            {
                failures.Add($"{key}:Preset must be Google or Generic.");
            }

            var google = OidcProvider.IsGooglePreset(providerName, s);
            if (string.IsNullOrWhiteSpace(s.Authority))
            {
                if (!google)
                {
                    failures.Add($"{key}:Authority is required (the provider's issuer URL).");
                }
            }
            else if (!Uri.TryCreate(s.Authority.Trim(), UriKind.Absolute, out var authority)
                || !(authority.Scheme == Uri.UriSchemeHttps || (authority.Scheme == Uri.UriSchemeHttp && authority.IsLoopback))
                || !string.IsNullOrEmpty(authority.Query) || !string.IsNullOrEmpty(authority.Fragment))
            {
                failures.Add($"{key}:Authority must be an absolute https URL (http only on loopback) without query or fragment.");
            }

            if (string.IsNullOrWhiteSpace(s.ClientId))
            {
                failures.Add($"{key}:ClientId is required.");
            }

            if (!string.IsNullOrWhiteSpace(s.Scopes) && !s.Scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains("openid", StringComparer.Ordinal))
            {
                failures.Add($"{key}:Scopes must contain openid.");
            }

            if (!string.IsNullOrWhiteSpace(s.HostedDomain) && !google)
            {
                failures.Add($"{key}:HostedDomain applies to Google providers only.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    [GeneratedRegex("^[a-z0-9-]{1,32}$")]
    private static partial Regex ProviderName();
}
