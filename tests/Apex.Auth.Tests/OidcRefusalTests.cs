using System.Net;
using System.Security.Cryptography;
using Apex.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using static Apex.Auth.Tests.Http;
using static Apex.Auth.Tests.OidcTests;

namespace Apex.Auth.Tests;

/// <summary>
/// Callback refusals. Forged id_tokens come from an OIDC-shaped server in the test process whose
/// token endpoint answers with the token the test crafted; nothing may be stored for any of them.
/// </summary>
public sealed class OidcRefusalTests
{
    public enum Flaw
    {
        WrongAudience,
        WrongIssuer,
        Expired,
        BadSignature,
        WrongNonce,
    }

    [Theory(Timeout = 60_000)]
    [InlineData(Flaw.WrongAudience, "invalid_audience")]
    [InlineData(Flaw.WrongIssuer, "invalid_issuer")]
    [InlineData(Flaw.Expired, "token_expired")]
    [InlineData(Flaw.BadSignature, "invalid_signature")]
    [InlineData(Flaw.WrongNonce, "nonce_mismatch")]
    public async Task A_forged_id_token_is_refused_and_nothing_is_stored(Flaw flaw, string reason)
    {
        await using var forge = await ForgedProvider.StartAsync();
        await using var server = await ApexTestServer.StartAsync(forge.Settings());
        using var browser = Browser();
        var (state, nonce) = await StartAsync(server, browser, "forge");

        var key = flaw == Flaw.BadSignature ? new ECDsaSecurityKey(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = forge.Key.KeyId } : forge.Key;
        forge.NextIdToken = ForgedProvider.Mint(
            key,
            audience: flaw == Flaw.WrongAudience ? "someone-else" : ForgedProvider.ClientId,
            issuer: flaw == Flaw.WrongIssuer ? "https://evil.example" : forge.Issuer,
            nonce: flaw == Flaw.WrongNonce ? "another-nonce" : nonce,
            expires: flaw == Flaw.Expired ? DateTime.UtcNow.AddMinutes(-5) : DateTime.UtcNow.AddMinutes(5));
        using var callback = await browser.GetAsync(Callback(server, state));
        await RefusalAsync(callback, reason);
        await AssertNothingStoredAsync(server);

        // The same forge with a sound token signs in: the refusal was the flaw's doing.
        var (state2, nonce2) = await StartAsync(server, browser, "forge");
        forge.NextIdToken = ForgedProvider.Mint(forge.Key, ForgedProvider.ClientId, forge.Issuer, nonce2, DateTime.UtcNow.AddMinutes(5));
        using var ok = await browser.GetAsync(Callback(server, state2));
        Assert.Equal(HttpStatusCode.Redirect, ok.StatusCode);
        Assert.StartsWith("#code=", ok.Headers.Location!.Fragment, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_slow_token_endpoint_times_out_with_502_and_nothing_is_stored()
    {
        await using var forge = await ForgedProvider.StartAsync();
        var settings = forge.Settings();
        settings["Auth:Oidc:TimeoutSeconds"] = "1";
        await using var server = await ApexTestServer.StartAsync(settings);
        using var browser = Browser();
        var (state, nonce) = await StartAsync(server, browser, "forge");
        forge.NextIdToken = ForgedProvider.Mint(forge.Key, ForgedProvider.ClientId, forge.Issuer, nonce, DateTime.UtcNow.AddMinutes(5));
        forge.TokenDelay = TimeSpan.FromSeconds(20);
        using var callback = await browser.GetAsync(Callback(server, state));
        await RefusalAsync(callback, "provider_unavailable", HttpStatusCode.BadGateway);
        await AssertNothingStoredAsync(server);
    }

    [Fact(Timeout = 60_000)]
    public async Task The_google_preset_asks_for_and_enforces_the_hosted_domain()
    {
        await using var forge = await ForgedProvider.StartAsync();
        var settings = new Dictionary<string, string?>
        {
            ["Auth:Oidc:Providers:work:Preset"] = "Google",
            ["Auth:Oidc:Providers:work:Authority"] = forge.Issuer,
            ["Auth:Oidc:Providers:work:ClientId"] = ForgedProvider.ClientId,
            ["Auth:Oidc:Providers:work:ClientSecret"] = "forge-secret",
            ["Auth:Oidc:Providers:work:HostedDomain"] = "Example.com",
        };
        await using var server = await ApexTestServer.StartAsync(settings);
        using var browser = Browser();

        using (var login = await browser.GetAsync(new Uri(server.BaseAddress, "/auth/login?provider=work")))
        {
            Assert.Equal("example.com", Query(login.Headers.Location!)["hd"]);
        }

        var (state, nonce) = await StartAsync(server, browser, "work");
        forge.NextIdToken = ForgedProvider.Mint(forge.Key, ForgedProvider.ClientId, forge.Issuer, nonce, DateTime.UtcNow.AddMinutes(5), hostedDomain: "other.example");
        using (var refused = await browser.GetAsync(Callback(server, state)))
        {
            await RefusalAsync(refused, "wrong_domain");
        }

        await AssertNothingStoredAsync(server);
        (state, nonce) = await StartAsync(server, browser, "work");
        forge.NextIdToken = ForgedProvider.Mint(forge.Key, ForgedProvider.ClientId, forge.Issuer, nonce, DateTime.UtcNow.AddMinutes(5), hostedDomain: "example.com");
        using var ok = await browser.GetAsync(Callback(server, state));
        Assert.Equal(HttpStatusCode.Redirect, ok.StatusCode);
        Assert.StartsWith("#code=", ok.Headers.Location!.Fragment, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Another_node_sharing_the_database_takes_the_callback_and_the_exchange()
    {
        await using var forge = await ForgedProvider.StartAsync();
        await using var nodeA = await ApexTestServer.StartAsync(forge.Settings());
        await using var nodeB = await ApexTestServer.StartAsync(forge.Settings(), dataDir: nodeA.DataDir);
        using var browser = Browser();

        // The browser's cookie for 127.0.0.1 reaches both nodes, as behind one load balancer.
        var (state, nonce) = await StartAsync(nodeA, browser, "forge");
        forge.NextIdToken = ForgedProvider.Mint(forge.Key, ForgedProvider.ClientId, forge.Issuer, nonce, DateTime.UtcNow.AddMinutes(5));
        using var callback = await browser.GetAsync(Callback(nodeB, state));
        Assert.Equal(HttpStatusCode.Redirect, callback.StatusCode);
        var code = callback.Headers.Location!.Fragment["#code=".Length..];
        var pair = await ExchangeAsync(nodeA, code);
        Assert.Equal("victim@example.com", pair.GetProperty("user").GetProperty("email").GetString());
    }

    [Fact(Timeout = 60_000)]
    public async Task A_provider_that_is_down_is_a_502_page_at_login()
    {
        await using var forge = await ForgedProvider.StartAsync();
        var settings = forge.Settings();
        await forge.DisposeAsync();
        await using var server = await ApexTestServer.StartAsync(settings);
        using var browser = Browser();
        using var login = await browser.GetAsync(new Uri(server.BaseAddress, "/auth/login?provider=forge"));
        await RefusalAsync(login, "provider_unavailable", HttpStatusCode.BadGateway);
    }

    [Fact(Timeout = 60_000)]
    public async Task An_expired_or_unknown_state_and_a_callback_from_another_browser_are_refused()
    {
        await using var forge = await ForgedProvider.StartAsync();
        var clock = new ShiftableTime();
        await using var server = await ApexTestServer.StartAsync(forge.Settings(), clock.Install);
        using var browser = Browser();

        var (state, nonce) = await StartAsync(server, browser, "forge");
        forge.NextIdToken = ForgedProvider.Mint(forge.Key, ForgedProvider.ClientId, forge.Issuer, nonce, DateTime.UtcNow.AddMinutes(5));

        // Another browser (no cookie of this attempt) presenting the state: login CSRF.
        using (var other = Browser())
        using (var csrf = await other.GetAsync(Callback(server, state)))
        {
            await RefusalAsync(csrf, "state_mismatch");
        }

        // An unknown state, even with a matching cookie.
        using (var unknown = new HttpRequestMessage(HttpMethod.Get, Callback(server, "made-up-state")))
        {
            unknown.Headers.Add("Cookie", "apex_oidc_state=made-up-state");
            using var plain = new HttpClient();
            using var refused = await plain.SendAsync(unknown);
            await RefusalAsync(refused, "state_invalid");
        }

        // RFC 9207: an answer naming another issuer (a mix-up between providers).
        var (mixState, _) = await StartAsync(server, browser, "forge");
        using (var mixUp = await browser.GetAsync(new Uri(Callback(server, mixState) + "&iss=" + Uri.EscapeDataString("https://evil.example"))))
        {
            await RefusalAsync(mixUp, "invalid_issuer");
        }

        (state, nonce) = await StartAsync(server, browser, "forge");
        clock.ShiftTo(TimeSpan.FromMinutes(11));
        using var late = await browser.GetAsync(Callback(server, state));
        await RefusalAsync(late, "state_expired");
        clock.ShiftTo(TimeSpan.Zero);
        await AssertNothingStoredAsync(server);
    }

    [Fact(Timeout = 60_000)]
    public async Task The_login_redirect_carries_pkce_state_and_nonce()
    {
        await using var forge = await ForgedProvider.StartAsync();
        await using var server = await ApexTestServer.StartAsync(forge.Settings());
        using var browser = Browser();
        using var login = await browser.GetAsync(new Uri(server.BaseAddress, "/auth/login?provider=forge"));
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        var location = login.Headers.Location!;
        Assert.Equal(forge.Issuer + "/authorize", location.GetLeftPart(UriPartial.Path));
        var q = Query(location);
        Assert.Equal("code", q["response_type"]);
        Assert.Equal(ForgedProvider.ClientId, q["client_id"]);
        Assert.Equal(new Uri(server.BaseAddress, "/auth/callback").AbsoluteUri, q["redirect_uri"]);
        Assert.Equal("S256", q["code_challenge_method"]);
        Assert.Equal(43, q["code_challenge"].Length);
        Assert.Contains("openid", q["scope"].Split(' '));
        Assert.NotEqual(q["state"], q["nonce"]);
        var cookie = Assert.Single(login.Headers.GetValues("Set-Cookie"));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", cookie, StringComparison.OrdinalIgnoreCase);
    }

    [Theory(Timeout = 60_000)]
    [InlineData(null, "email_missing")]
    [InlineData("not-an-address", "email_invalid")]
    public async Task An_id_token_without_a_usable_email_is_refused_and_nothing_is_stored(string? email, string reason)
    {
        await using var forge = await ForgedProvider.StartAsync();
        await using var server = await ApexTestServer.StartAsync(forge.Settings());
        using var browser = Browser();
        var (state, nonce) = await StartAsync(server, browser, "forge");
        forge.NextIdToken = ForgedProvider.Mint(forge.Key, ForgedProvider.ClientId, forge.Issuer, nonce, DateTime.UtcNow.AddMinutes(5), email: email);
        using var callback = await browser.GetAsync(Callback(server, state));
        await RefusalAsync(callback, reason);
        await AssertNothingStoredAsync(server);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_disabled_account_is_refused_whether_its_identity_is_linked_or_only_its_email_matches()
    {
        await using var forge = await ForgedProvider.StartAsync();
        await using var server = await ApexTestServer.StartAsync(forge.Settings());
        using var browser = Browser();

        // Linked: the identity signed in once, then its account was disabled.
        var (state, nonce) = await StartAsync(server, browser, "forge");
        forge.NextIdToken = ForgedProvider.Mint(forge.Key, ForgedProvider.ClientId, forge.Issuer, nonce, DateTime.UtcNow.AddMinutes(5));
        using (var first = await browser.GetAsync(Callback(server, state)))
        {
            Assert.Equal(HttpStatusCode.Redirect, first.StatusCode);
        }

        await DisableAsync(server, "victim@example.com");
        (state, nonce) = await StartAsync(server, browser, "forge");
        forge.NextIdToken = ForgedProvider.Mint(forge.Key, ForgedProvider.ClientId, forge.Issuer, nonce, DateTime.UtcNow.AddMinutes(5));
        using (var linked = await browser.GetAsync(Callback(server, state)))
        {
            await RefusalAsync(linked, "account_disabled");
        }

        // Not linked: a disabled password account whose verified email a new provider identity carries.
        var bob = await server.RegisterUserAsync();
        await DisableAsync(server, bob.Email);
        (state, nonce) = await StartAsync(server, browser, "forge");
        forge.NextIdToken = ForgedProvider.Mint(forge.Key, ForgedProvider.ClientId, forge.Issuer, nonce, DateTime.UtcNow.AddMinutes(5), email: bob.Email, subject: "bob-subject");
        using (var byEmail = await browser.GetAsync(Callback(server, state)))
        {
            await RefusalAsync(byEmail, "account_disabled");
        }

        await using var scope = server.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Data.AuthDbContext>();
        Assert.DoesNotContain(db.Identities.ToList(), i => i.Subject == "bob-subject");
        Assert.Single(db.OidcHandoffs.ToList());
    }

    [Fact(Timeout = 60_000)]
    public async Task A_callback_with_an_error_without_a_code_or_without_an_id_token_is_refused()
    {
        await using var forge = await ForgedProvider.StartAsync();
        await using var server = await ApexTestServer.StartAsync(forge.Settings());
        using var browser = Browser();

        foreach (var (error, reason) in new[] { ("access_denied", "access_denied"), ("server_error", "provider_error") })
        {
            var (state, _) = await StartAsync(server, browser, "forge");
            using var refused = await browser.GetAsync(new Uri(server.BaseAddress, $"/auth/callback?error={error}&state={Uri.EscapeDataString(state)}"));
            await RefusalAsync(refused, reason);
        }

        var (noCode, _) = await StartAsync(server, browser, "forge");
        using (var refused = await browser.GetAsync(new Uri(server.BaseAddress, $"/auth/callback?state={Uri.EscapeDataString(noCode)}")))
        {
            await RefusalAsync(refused, "code_missing");
        }

        // The token endpoint answers 200 without an id_token.
        var (noToken, _) = await StartAsync(server, browser, "forge");
        forge.NextIdToken = null;
        using (var refused = await browser.GetAsync(Callback(server, noToken)))
        {
            await RefusalAsync(refused, "invalid_token_response");
        }

        await AssertNothingStoredAsync(server);
    }

    [Fact(Timeout = 90_000)]
    public async Task A_provider_removed_while_a_sign_in_was_under_way_is_refused_at_the_callback()
    {
        await using var forge = await ForgedProvider.StartAsync();
        var dataDir = Directory.CreateTempSubdirectory("apex-oidc-").FullName;
        using var browser = Browser();
        string state;
        // Stopped, not disposed: disposing would delete the data directory the second server reuses.
        var first = await ApexTestServer.StartAsync(forge.Settings(), dataDir: dataDir);
        {
            (state, _) = await StartAsync(first, browser, "forge");
            await first.StopKeepingDataAsync();
        }

        // The next start has no "forge" provider; the attempt's state is still in the database.
        await using var second = await ApexTestServer.StartAsync(dataDir: dataDir);
        using var refused = await browser.GetAsync(Callback(second, state));
        await RefusalAsync(refused, "provider_unknown");
        await AssertNothingStoredAsync(second);
    }

    private static async Task DisableAsync(ApexTestServer server, string email)
    {
        await using var scope = server.Services.CreateAsyncScope();
        Assert.NotNull(await scope.ServiceProvider.GetRequiredService<Users.UserAdmin>().DisableAsync(email, CancellationToken.None));
    }

    private static async Task<(string State, string Nonce)> StartAsync(ApexTestServer server, HttpClient browser, string provider)
    {
        using var login = await browser.GetAsync(new Uri(server.BaseAddress, $"/auth/login?provider={provider}"));
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        var q = Query(login.Headers.Location!);
        return (q["state"], q["nonce"]);
    }

    private static Uri Callback(ApexTestServer server, string state) =>
        new(server.BaseAddress, $"/auth/callback?code=forged-code&state={Uri.EscapeDataString(state)}");

    /// <summary>No account was created and no hand-off code exists.</summary>
    private static async Task AssertNothingStoredAsync(ApexTestServer server)
    {
        await using var scope = server.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Data.AuthDbContext>();
        Assert.Empty(db.Users.ToList());
        Assert.Empty(db.Identities.ToList());
        Assert.Empty(db.OidcHandoffs.ToList());
    }
}

/// <summary>An OIDC-shaped server (discovery, JWKS, token endpoint) whose id_tokens the test crafts.</summary>
internal sealed class ForgedProvider : IAsyncDisposable
{
    public const string ClientId = "forge-client";
    private static readonly string[] ResponseTypes = ["code"];
    private static readonly string[] SubjectTypes = ["public"];
    private static readonly string[] SigningAlgorithms = ["ES256"];

    private readonly WebApplication app;
    private bool disposed;

    private ForgedProvider(WebApplication app, string issuer)
    {
        this.app = app;
        Issuer = issuer;
    }

    public string Issuer { get; }

    public ECDsaSecurityKey Key { get; } = new(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = "forge-key" };

    public string? NextIdToken { get; set; }

    public TimeSpan TokenDelay { get; set; }

    public static async Task<ForgedProvider> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        ForgedProvider? self = null;
        app.MapGet("/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = self!.Issuer,
            ["authorization_endpoint"] = self.Issuer + "/authorize",
            ["token_endpoint"] = self.Issuer + "/token",
            ["jwks_uri"] = self.Issuer + "/jwks",
            ["response_types_supported"] = ResponseTypes,
            ["subject_types_supported"] = SubjectTypes,
            ["id_token_signing_alg_values_supported"] = SigningAlgorithms,
        }));
        app.MapGet("/jwks", () =>
        {
            var jwk = JsonWebKeyConverter.ConvertFromECDsaSecurityKey(self!.Key);
            return Results.Json(new { keys = new[] { new { kty = jwk.Kty, crv = jwk.Crv, x = jwk.X, y = jwk.Y, kid = jwk.Kid, use = "sig", alg = "ES256" } } });
        });
        app.MapPost("/token", async (HttpContext http) =>
        {
            await Task.Delay(self!.TokenDelay, http.RequestAborted);
            return Results.Json(new { access_token = "forged-access", token_type = "Bearer", id_token = self.NextIdToken });
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        self = new ForgedProvider(app, address.TrimEnd('/'));
        return self;
    }

    public Dictionary<string, string?> Settings() => new()
    {
        ["Auth:Oidc:Providers:forge:Authority"] = Issuer,
        ["Auth:Oidc:Providers:forge:ClientId"] = ClientId,
        ["Auth:Oidc:Providers:forge:ClientSecret"] = "forge-secret",
    };

    public static string Mint(SecurityKey key, string audience, string issuer, string nonce, DateTime expires, string? hostedDomain = null,
        string? email = "victim@example.com", string subject = "forged-subject")
    {
        var claims = new Dictionary<string, object>
        {
            ["sub"] = subject,
            ["email_verified"] = true,
            ["nonce"] = nonce,
        };
        if (email is not null)
        {
            claims["email"] = email;
        }

        if (hostedDomain is not null)
        {
            claims["hd"] = hostedDomain;
        }

        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
        return handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            IssuedAt = expires.AddMinutes(-10),
            NotBefore = expires.AddMinutes(-10),
            Expires = expires,
            Claims = claims,
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.EcdsaSha256),
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (disposed)
        {
            return;
        }

        disposed = true;
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
