using Apex.Verify.Probe;

namespace Apex.Verify.Checks;

/// <summary>
/// What <c>GET /auth/login?provider=</c> must answer (docs/spec/auth-api.md): a 302 to the
/// provider's authorisation endpoint for the code flow with state, nonce and PKCE S256, and a
/// redirect URI back to the auth service's <c>/auth/callback</c>.
/// </summary>
internal static class ProviderRedirect
{
    private static readonly string[] Required = ["response_type", "client_id", "redirect_uri", "state", "nonce", "code_challenge", "code_challenge_method"];

    /// <summary>The authorisation endpoint the login redirects to; throws when the redirect is not well formed.</summary>
    public static string Check(string provider, ProbeResponse login, Uri authBase)
    {
        if (login.Status != 302)
        {
            throw new CheckFailedException($"/auth/login?provider={provider} answered {login.Status}, not 302 to the provider");
        }

        if (login.Headers.Location is not { IsAbsoluteUri: true } location
            || !(location.Scheme == Uri.UriSchemeHttps || (location.Scheme == Uri.UriSchemeHttp && location.IsLoopback)))
        {
            throw new CheckFailedException($"/auth/login?provider={provider} does not redirect to an absolute https URL");
        }

        var query = ParseQuery(location.Query);
        var missing = Required.Where(k => string.IsNullOrEmpty(query.GetValueOrDefault(k))).ToList();
        if (missing.Count > 0)
        {
            throw new CheckFailedException($"{provider}: the redirect lacks {string.Join(", ", missing)}");
        }

        if (query["response_type"] != "code")
        {
            throw new CheckFailedException($"{provider}: response_type is '{query["response_type"]}', not code");
        }

        if (query["code_challenge_method"] != "S256")
        {
            throw new CheckFailedException($"{provider}: code_challenge_method is '{query["code_challenge_method"]}', not S256");
        }

        // base64url of a SHA-256 digest, without padding.
        if (query["code_challenge"].Length != 43)
        {
            throw new CheckFailedException($"{provider}: code_challenge is not a base64url SHA-256 digest");
        }

        if (query["state"] == query["nonce"])
        {
            throw new CheckFailedException($"{provider}: state and nonce are the same value");
        }

        if (!Uri.TryCreate(query["redirect_uri"], UriKind.Absolute, out var redirect) || redirect.AbsolutePath != "/auth/callback")
        {
            throw new CheckFailedException($"{provider}: redirect_uri '{query["redirect_uri"]}' is not an absolute /auth/callback URL");
        }

        if (!string.Equals(redirect.Host, authBase.Host, StringComparison.OrdinalIgnoreCase))
        {
            // Behind a proxy the public host differs from the probed one: worth knowing, not a failure.
            return $"{location.GetLeftPart(UriPartial.Path)} (redirect_uri host {redirect.Host})";
        }

        return location.GetLeftPart(UriPartial.Path);
    }

    /// <summary>
    /// Looks for the provider's discovery document above the authorisation endpoint (an issuer is
    /// the endpoint's origin or one of its path prefixes) and checks the redirect goes to the
    /// endpoint it names. A provider this machine cannot reach is reported, not failed.
    /// </summary>
    public static async Task<string> DiscoveryAsync(ProbeHttp http, string provider, Uri location, CancellationToken ct)
    {
        var endpoint = location.GetLeftPart(UriPartial.Path);
        var segments = location.AbsolutePath.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (var n = segments.Length - 1; n >= 0; n--)
        {
            var issuerPath = n == 0 ? "" : "/" + string.Join('/', segments[..n]);
            var discovery = new Uri(location.GetLeftPart(UriPartial.Authority) + issuerPath + "/.well-known/openid-configuration");
            ProbeResponse answer;
            try
            {
                answer = await http.GetAsync(discovery, null, ct);
            }
            catch (ProbeConnectionException)
            {
                return "provider discovery not reachable from here";
            }

            if (answer.Status == 200 && answer.Json.Str("authorization_endpoint") is { } named)
            {
                return named == endpoint
                    ? $"the authorization endpoint of {answer.Json.Str("issuer") ?? discovery.GetLeftPart(UriPartial.Authority)}"
                    : throw new CheckFailedException($"{provider}: redirects to {endpoint}, but the provider's discovery names {named}");
            }
        }

        return "no discovery document found above the endpoint";
    }

    private static Dictionary<string, string> ParseQuery(string query)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString((eq < 0 ? pair : pair[..eq]).Replace('+', ' '));
            var value = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' '));
            result.TryAdd(key, value);
        }

        return result;
    }
}
