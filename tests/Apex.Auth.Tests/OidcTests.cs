using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Apex.Testing;
using static Apex.Auth.Tests.Http;

namespace Apex.Auth.Tests;

/// <summary>Provider sign-in against a real OpenID Connect provider (oidc-provider) on loopback.</summary>
public sealed class OidcTests
{
    [Fact(Timeout = 90_000)]
    public async Task Code_flow_through_the_providers_login_page_creates_an_account_and_hands_off_a_one_time_code()
    {
        await using var idp = OidcTestProvider.Create().WithAccount("carol", "Carol@Example.com", name: "Carol");
        await using var server = await ApexTestServer.StartAsync(idp.Settings());
        await idp.StartAsync(server.BaseAddress);

        using var config = await server.Client.GetAsync(U("/auth/config"));
        var body = await JsonAsync(config);
        Assert.Equal(["password", "idp"], body.GetProperty("providers").EnumerateArray().Select(p => p.GetString()));
        Assert.Equal("Test IdP", body.GetProperty("provider_names").GetProperty("idp").GetString());

        var code = await SignInAsync(server, "carol");
        using var exchanged = await server.PostAsync("/auth/exchange", new { code });
        Assert.Equal(HttpStatusCode.OK, exchanged.StatusCode);
        var pair = await JsonAsync(exchanged);
        Assert.Equal("carol@example.com", pair.GetProperty("user").GetProperty("email").GetString());
        Assert.Equal("Carol", pair.GetProperty("user").GetProperty("name").GetString());
        Assert.Equal(["idp"], pair.GetProperty("user").GetProperty("providers").EnumerateArray().Select(p => p.GetString()));

        var me = await MeAsync(server, pair.GetProperty("access_token").GetString()!);
        Assert.Equal(["idp"], me.GetProperty("providers").EnumerateArray().Select(p => p.GetString()));

        // The code works once.
        using var replay = await server.PostAsync("/auth/exchange", new { code });
        await ProblemAsync(replay, HttpStatusCode.Unauthorized);

        // Signing in again finds the same account through the linked identity.
        var again = await ExchangeAsync(server, await SignInAsync(server, "carol"));
        Assert.Equal(pair.GetProperty("user").GetProperty("id").GetString(), again.GetProperty("user").GetProperty("id").GetString());
    }

    [Fact(Timeout = 120_000)]
    public async Task Concurrent_first_sign_ins_of_one_identity_make_one_account()
    {
        await using var idp = OidcTestProvider.Create().WithAccount("dana", "dana@example.com", name: "Dana");
        await using var server = await ApexTestServer.StartAsync(idp.Settings());
        await idp.StartAsync(server.BaseAddress);

        // Four browsers finish the provider's flow at about the same time for an email Apex has not
        // seen: whichever creates the account, the others link to it (no second account, no refusal).
        var codes = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => SignInAsync(server, "dana")));
        var pairs = await Task.WhenAll(codes.Select(code => ExchangeAsync(server, code)));
        var ids = pairs.Select(p => p.GetProperty("user").GetProperty("id").GetString()).Distinct().ToList();
        Assert.Single(ids);

        // The email is taken by that one account: a password registration is refused as a duplicate.
        using var register = await server.PostAsync("/auth/register", new { email = "dana@example.com", password = "a long enough passphrase" });
        await ProblemAsync(register, HttpStatusCode.Conflict);
        var me = await MeAsync(server, pairs[0].GetProperty("access_token").GetString()!);
        Assert.Equal(["idp"], me.GetProperty("providers").EnumerateArray().Select(p => p.GetString()));
    }

    [Fact(Timeout = 90_000)]
    public async Task A_verified_email_links_to_the_existing_account_and_can_be_unlinked_while_a_password_remains()
    {
        await using var idp = OidcTestProvider.Create().WithAccount("alice", "ALICE@example.com", emailVerified: true);
        await using var server = await ApexTestServer.StartAsync(idp.Settings());
        await idp.StartAsync(server.BaseAddress);
        var alice = await server.RegisterUserAsync("alice@example.com");

        var pair = await ExchangeAsync(server, await SignInAsync(server, "alice"));
        Assert.Equal(alice.Id, pair.GetProperty("user").GetProperty("id").GetString());
        var me = await MeAsync(server, alice.AccessToken);
        Assert.Equal(["password", "idp"], me.GetProperty("providers").EnumerateArray().Select(p => p.GetString()));

        using var client = server.CreateClient(alice);
        using (var unlinked = await client.DeleteAsync(U("/auth/identities/idp")))
        {
            Assert.Equal(HttpStatusCode.NoContent, unlinked.StatusCode);
        }

        using (var again = await client.DeleteAsync(U("/auth/identities/idp")))
        {
            await ProblemAsync(again, HttpStatusCode.NotFound);
        }

        me = await MeAsync(server, alice.AccessToken);
        Assert.Equal(["password"], me.GetProperty("providers").EnumerateArray().Select(p => p.GetString()));
    }

    [Fact(Timeout = 90_000)]
    public async Task The_only_identity_of_an_account_without_password_cannot_be_unlinked()
    {
        await using var idp = OidcTestProvider.Create();
        await using var server = await ApexTestServer.StartAsync(idp.Settings());
        await idp.StartAsync(server.BaseAddress);
        var pair = await ExchangeAsync(server, await SignInAsync(server, "dora"));
        using var client = server.CreateClient(pair.GetProperty("access_token").GetString()!);
        using var refused = await client.DeleteAsync(U("/auth/identities/idp"));
        await ProblemAsync(refused, HttpStatusCode.Conflict);
        var me = await MeAsync(server, pair.GetProperty("access_token").GetString()!);
        Assert.Equal(["idp"], me.GetProperty("providers").EnumerateArray().Select(p => p.GetString()));
    }

    [Fact(Timeout = 90_000)]
    public async Task An_unverified_email_never_links_and_nothing_is_stored()
    {
        await using var idp = OidcTestProvider.Create().WithAccount("mallory", "bob@example.com", emailVerified: false);
        await using var server = await ApexTestServer.StartAsync(idp.Settings());
        await idp.StartAsync(server.BaseAddress);
        var bob = await server.RegisterUserAsync("bob@example.com");

        var (url, response) = await BrowseAsync(server, "mallory");
        using (response)
        {
            await RefusalAsync(response, "email_unverified");
        }

        var me = await MeAsync(server, bob.AccessToken);
        Assert.Equal(["password"], me.GetProperty("providers").EnumerateArray().Select(p => p.GetString()));
        Assert.Equal("/auth/callback", url.AbsolutePath);
    }

    [Fact(Timeout = 90_000)]
    public async Task A_new_email_is_refused_when_registration_is_closed()
    {
        await using var idp = OidcTestProvider.Create();
        var settings = idp.Settings();
        settings["Auth:RegistrationOpen"] = "false";
        await using var server = await ApexTestServer.StartAsync(settings);
        await idp.StartAsync(server.BaseAddress);
        var (_, response) = await BrowseAsync(server, "erin");
        using (response)
        {
            await RefusalAsync(response, "registration_closed");
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task Tokens_signed_by_a_rotated_provider_key_still_validate()
    {
        await using var idp = OidcTestProvider.Create();
        await using var server = await ApexTestServer.StartAsync(idp.Settings());
        await idp.StartAsync(server.BaseAddress);
        var first = await ExchangeAsync(server, await SignInAsync(server, "frank"));

        // The provider now publishes and signs with another key only; Apex has the old one cached.
        await idp.RotateKeyAsync("idp-key-2");
        var second = await ExchangeAsync(server, await SignInAsync(server, "frank"));
        Assert.Equal(first.GetProperty("user").GetProperty("id").GetString(), second.GetProperty("user").GetProperty("id").GetString());
    }

    [Fact(Timeout = 90_000)]
    public async Task A_replayed_state_and_a_replayed_provider_code_are_refused()
    {
        await using var idp = OidcTestProvider.Create();
        await using var server = await ApexTestServer.StartAsync(idp.Settings());
        await idp.StartAsync(server.BaseAddress);
        using var browser = Browser();

        // Stop at the provider's redirect back to Apex to keep the callback URL.
        var (callback, stopped) = await OidcTestProvider.BrowseAsync(browser, new Uri(server.BaseAddress, "/auth/login?provider=idp"), "gina", server.BaseAddress, stopAtCallback: true);
        stopped.Dispose();
        using (var first = await browser.GetAsync(callback))
        {
            Assert.Equal(HttpStatusCode.Redirect, first.StatusCode);
        }

        using (var replayedState = await browser.GetAsync(callback))
        {
            await RefusalAsync(replayedState, "state_mismatch");
        }

        // A fresh attempt (state and cookie) carrying the already redeemed provider code.
        using var login = await browser.GetAsync(new Uri(server.BaseAddress, "/auth/login?provider=idp"));
        var state = Query(login.Headers.Location!)["state"];
        var oldCode = Query(callback)["code"];
        using var replayedCode = await browser.GetAsync(new Uri(server.BaseAddress, $"/auth/callback?code={Uri.EscapeDataString(oldCode)}&state={Uri.EscapeDataString(state)}"));
        await RefusalAsync(replayedCode, "code_refused");
    }

    [Fact(Timeout = 60_000)]
    public async Task A_provider_that_is_not_configured_is_404_problem_json()
    {
        await using var server = await ApexTestServer.StartAsync();
        using var response = await server.Client.GetAsync(U("/auth/login?provider=google"));
        await ProblemAsync(response, HttpStatusCode.NotFound);
    }

    [Theory(Timeout = 60_000)]
    [InlineData("corp", "ClientId", "apex", "Auth:Oidc:Providers:corp:Authority")]
    [InlineData("corp", "Authority", "http://idp.example.com", "Auth:Oidc:Providers:corp:Authority")]
    [InlineData("google", "Authority", "https://accounts.google.com", "Auth:Oidc:Providers:google:ClientId")]
    [InlineData("corp", "Scopes", "email profile", "Auth:Oidc:Providers:corp:Scopes")]
    [InlineData("Corp", "ClientId", "apex", "Auth:Oidc:Providers:Corp")]
    [InlineData("password", "ClientId", "apex", "Auth:Oidc:Providers:password")]
    public async Task A_misconfigured_provider_stops_the_start_naming_the_key(string provider, string key, string value, string named)
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?> { [$"Auth:Oidc:Providers:{provider}:{key}"] = value });
        });
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }

    internal static HttpClient Browser() =>
        new(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() }) { Timeout = TimeSpan.FromSeconds(30) };

    internal static async Task<(Uri Url, HttpResponseMessage Response)> BrowseAsync(ApexTestServer server, string login)
    {
        using var browser = Browser();
        return await OidcTestProvider.BrowseAsync(browser, new Uri(server.BaseAddress, "/auth/login?provider=idp"), login, server.BaseAddress);
    }

    /// <summary>Signs in at the provider and returns the one-time code Apex put in the fragment.</summary>
    internal static async Task<string> SignInAsync(ApexTestServer server, string login)
    {
        var (url, response) = await BrowseAsync(server, login);
        using (response)
        {
            Assert.True(url.Fragment.StartsWith("#code=", StringComparison.Ordinal), $"{(int)response.StatusCode} at {url}: {await response.Content.ReadAsStringAsync()}");
        }

        Assert.Equal(server.BaseAddress.Authority, url.Authority);
        return url.Fragment["#code=".Length..];
    }

    internal static async Task<JsonElement> ExchangeAsync(ApexTestServer server, string code)
    {
        using var response = await server.PostAsync("/auth/exchange", new { code });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await JsonAsync(response);
    }

    internal static async Task<JsonElement> MeAsync(ApexTestServer server, string accessToken)
    {
        using var client = server.CreateClient(accessToken);
        using var response = await client.GetAsync(U("/auth/me"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await JsonAsync(response);
    }

    /// <summary>Asserts the callback's refusal page with the given reason.</summary>
    internal static async Task RefusalAsync(HttpResponseMessage response, string reason, HttpStatusCode status = HttpStatusCode.BadRequest)
    {
        var html = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {html}");
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains($"<meta name=\"apex-error\" content=\"{reason}\">", html, StringComparison.Ordinal);
        Assert.Null(response.Headers.Location);
    }

    internal static Dictionary<string, string> Query(Uri url) =>
        Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(url.Query).ToDictionary(kv => kv.Key, kv => kv.Value.ToString());
}
