using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Apex.Testing;
using static Apex.Auth.Tests.Http;

namespace Apex.Auth.Tests;

public sealed class RouteTests
{
    [Fact(Timeout = 30_000)]
    public async Task Register_returns_201_with_a_token_pair_and_the_user()
    {
        await using var server = await ApexTestServer.StartAsync();
        using var response = await server.PostAsync("/auth/register", new { email = "  Alice@Example.COM ", password = "a long enough passphrase", name = "Alice" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        var body = await JsonAsync(response);
        Assert.Equal("Bearer", body.GetProperty("token_type").GetString());
        Assert.InRange(body.GetProperty("expires_in").GetInt64(), 14 * 60, 15 * 60);
        Assert.InRange(body.GetProperty("refresh_expires_in").GetInt64(), 14 * 86400 - 60, 14 * 86400);
        Assert.False(string.IsNullOrEmpty(body.GetProperty("access_token").GetString()));
        Assert.False(string.IsNullOrEmpty(body.GetProperty("refresh_token").GetString()));
        var user = body.GetProperty("user");
        Assert.StartsWith("usr_", user.GetProperty("id").GetString(), StringComparison.Ordinal);
        Assert.Equal("alice@example.com", user.GetProperty("email").GetString());
        Assert.Equal("Alice", user.GetProperty("name").GetString());
        Assert.Equal("password", user.GetProperty("providers")[0].GetString());
    }

    [Fact(Timeout = 30_000)]
    public async Task Register_refuses_a_taken_email_case_insensitively_with_409()
    {
        await using var server = await ApexTestServer.StartAsync();
        await server.RegisterUserAsync("bob@example.com");
        using var response = await server.PostAsync("/auth/register", new { email = "BOB@example.com", password = "another long passphrase" });
        await ProblemAsync(response, HttpStatusCode.Conflict);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("not-an-email", "a long enough passphrase", "email")]
    [InlineData("a@b", "a long enough passphrase", "email")]
    [InlineData("", "a long enough passphrase", "email")]
    [InlineData("carol@example.com", "short", "password")]
    [InlineData("carol@example.com", "password123", "password")]
    [InlineData("carol@example.com", "Qwertyuiop1", "password")]
    [InlineData("carol@example.com", "aaaaaaaaaaaaaa", "password")]
    [InlineData("carol@example.com", "", "password")]
    public async Task Register_refuses_invalid_email_or_weak_password_with_422(string email, string password, string field)
    {
        await using var server = await ApexTestServer.StartAsync();
        using var response = await server.PostAsync("/auth/register", new { email, password });
        await ValidationProblemAsync(response, field);
    }

    [Fact(Timeout = 30_000)]
    public async Task Register_is_403_when_registration_is_closed()
    {
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?> { ["Auth:RegistrationOpen"] = "false" });
        using var response = await server.PostAsync("/auth/register", new { email = "dan@example.com", password = "a long enough passphrase" });
        await ProblemAsync(response, HttpStatusCode.Forbidden);
        using var config = await server.Client.GetAsync(U("/auth/config"));
        Assert.False((await JsonAsync(config)).GetProperty("registration_open").GetBoolean());
    }

    [Fact(Timeout = 30_000)]
    public async Task Login_returns_200_with_a_pair_and_401_for_wrong_password_or_unknown_email()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync("erin@example.com");
        using var ok = await server.PostAsync("/auth/login", new { email = "ERIN@example.com", password = user.Password });
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        var body = await JsonAsync(ok);
        Assert.Equal(user.Id, body.GetProperty("user").GetProperty("id").GetString());
        Assert.Equal("Bearer", body.GetProperty("token_type").GetString());

        using var wrong = await server.PostAsync("/auth/login", new { email = "erin@example.com", password = "not the password at all" });
        var wrongBody = await ProblemAsync(wrong, HttpStatusCode.Unauthorized);
        using var unknown = await server.PostAsync("/auth/login", new { email = "nobody@example.com", password = "not the password at all" });
        var unknownBody = await ProblemAsync(unknown, HttpStatusCode.Unauthorized);
        Assert.Equal(wrongBody.GetProperty("detail").GetString(), unknownBody.GetProperty("detail").GetString());
    }

    [Fact(Timeout = 30_000)]
    public async Task Login_with_missing_fields_or_malformed_body_is_422()
    {
        await using var server = await ApexTestServer.StartAsync();
        using var missing = await server.PostAsync("/auth/login", new { email = "x@example.com" });
        await ValidationProblemAsync(missing, "password");
        using var empty = await server.PostRawAsync("/auth/login", "{}");
        await ValidationProblemAsync(empty, "email", "password");
        using var malformed = await server.PostRawAsync("/auth/login", "{\"email\": \"x@example.com\", ");
        await ValidationProblemAsync(malformed);
        using var noBody = await server.Client.PostAsync(U("/auth/login"), null);
        Assert.True(noBody.StatusCode is HttpStatusCode.UnprocessableEntity or HttpStatusCode.UnsupportedMediaType, $"{noBody.StatusCode}");
        await ProblemAsync(noBody, noBody.StatusCode);
    }

    [Fact(Timeout = 30_000)]
    public async Task Me_returns_the_user_and_401_without_a_valid_token()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync(name: "Frank <b>");
        using var me = await server.GetMeAsync(user.AccessToken);
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        var body = await JsonAsync(me);
        Assert.Equal(user.Id, body.GetProperty("id").GetString());
        Assert.Equal(user.Email, body.GetProperty("email").GetString());
        Assert.Equal("Frank <b>", body.GetProperty("name").GetString());
        Assert.True(body.TryGetProperty("created_at", out _));
        Assert.Equal("password", body.GetProperty("providers")[0].GetString());

        using var anonymous = await server.Client.GetAsync(U("/auth/me"));
        await ProblemAsync(anonymous, HttpStatusCode.Unauthorized);
        Assert.Equal("Bearer", anonymous.Headers.WwwAuthenticate.First().Scheme);
        using var garbage = await server.GetMeAsync("not.a.token");
        await ProblemAsync(garbage, HttpStatusCode.Unauthorized);
    }

    [Fact(Timeout = 30_000)]
    public async Task Validate_accepts_body_or_bearer_and_answers_401_with_valid_false_and_reason()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var (status, body) = await server.ValidateAsync(user.AccessToken);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("valid").GetBoolean());
        Assert.Equal(user.Id, body.GetProperty("user_id").GetString());
        Assert.Equal(user.Email, body.GetProperty("email").GetString());
        Assert.True(body.GetProperty("exp").GetInt64() > DateTimeOffset.UtcNow.ToUnixTimeSeconds());

        using var bearer = server.CreateClient(user.AccessToken);
        using var viaHeader = await bearer.PostAsync(U("/auth/validate"), null);
        Assert.Equal(HttpStatusCode.OK, viaHeader.StatusCode);

        using var bad = await server.PostAsync("/auth/validate", new { token = "abc.def.ghi" });
        var badBody = await ProblemAsync(bad, HttpStatusCode.Unauthorized);
        Assert.False(badBody.GetProperty("valid").GetBoolean());
        Assert.False(string.IsNullOrEmpty(badBody.GetProperty("reason").GetString()));

        using var none = await server.Client.PostAsync(U("/auth/validate"), null);
        var noneBody = await ProblemAsync(none, HttpStatusCode.Unauthorized);
        Assert.Equal("missing_token", noneBody.GetProperty("reason").GetString());
    }

    [Fact(Timeout = 30_000)]
    public async Task Logout_returns_204_and_the_access_token_is_refused_afterwards()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        using (var client = server.CreateClient(user.AccessToken))
        {
            using var logout = await client.PostAsJsonAsync("/auth/logout", new { refresh_token = user.RefreshToken });
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }

        using var me = await server.GetMeAsync(user.AccessToken);
        await ProblemAsync(me, HttpStatusCode.Unauthorized);
        var (status, body) = await server.ValidateAsync(user.AccessToken);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("revoked", body.GetProperty("reason").GetString());
        using var refresh = await server.PostAsync("/auth/refresh", new { refresh_token = user.RefreshToken });
        await ProblemAsync(refresh, HttpStatusCode.Unauthorized);

        // Another login of the same user is a different session and keeps working.
        var again = await server.LoginAsync(user.Email, user.Password);
        using var meAgain = await server.GetMeAsync(again.AccessToken);
        Assert.Equal(HttpStatusCode.OK, meAgain.StatusCode);
    }

    [Fact(Timeout = 30_000)]
    public async Task Logout_without_a_token_is_401_even_with_a_bad_body()
    {
        await using var server = await ApexTestServer.StartAsync();
        using var response = await server.PostRawAsync("/auth/logout", "{ this is not json");
        await ProblemAsync(response, HttpStatusCode.Unauthorized);
        using var me = await server.PostRawAsync("/auth/me", "[1,2");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, me.StatusCode);
    }

    [Fact(Timeout = 30_000)]
    public async Task Config_lists_password_provider_and_dev_login_in_development()
    {
        await using var server = await ApexTestServer.StartAsync();
        using var response = await server.Client.GetAsync(U("/auth/config"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await JsonAsync(response);
        Assert.Equal("password", Assert.Single(body.GetProperty("providers").EnumerateArray()).GetString());
        Assert.True(body.GetProperty("registration_open").GetBoolean());
        Assert.True(body.GetProperty("dev_login").GetBoolean());
    }

    [Fact(Timeout = 30_000)]
    public async Task Unconfigured_provider_login_is_404_problem()
    {
        await using var server = await ApexTestServer.StartAsync();
        using var response = await server.Client.GetAsync(U("/auth/login?provider=google"));
        await ProblemAsync(response, HttpStatusCode.NotFound);
    }

    [Fact(Timeout = 30_000)]
    public async Task Dev_login_works_in_development_only()
    {
        await using (var dev = await ApexTestServer.StartAsync())
        {
            using var response = await dev.PostAsync("/auth/dev/login", new { email = "dev@example.com" });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var body = await JsonAsync(response);
            using var me = await dev.GetMeAsync(body.GetProperty("access_token").GetString()!);
            Assert.Equal("dev@example.com", (await JsonAsync(me)).GetProperty("email").GetString());
            using var defaultUser = await dev.Client.PostAsync(U("/auth/dev/login"), null);
            Assert.Equal(HttpStatusCode.OK, defaultUser.StatusCode);
        }

        await using var production = await ApexTestServer.StartAsync(
            new Dictionary<string, string?> { ["Apex:PublicUrl"] = "https://apex.example.com" }, environment: "Production");
        using var refused = await production.PostAsync("/auth/dev/login", new { email = "dev@example.com" });
        await ProblemAsync(refused, HttpStatusCode.NotFound);
        using var config = await production.Client.GetAsync(U("/auth/config"));
        Assert.False((await JsonAsync(config)).GetProperty("dev_login").GetBoolean());
    }

    [Fact(Timeout = 30_000)]
    public async Task Jwks_and_openid_configuration_describe_the_signing_key()
    {
        await using var server = await ApexTestServer.StartAsync();
        using var jwks = await server.Client.GetAsync(U("/.well-known/jwks.json"));
        Assert.Equal(HttpStatusCode.OK, jwks.StatusCode);
        var keys = (await JsonAsync(jwks)).GetProperty("keys");
        var key = Assert.Single(keys.EnumerateArray());
        Assert.Equal("EC", key.GetProperty("kty").GetString());
        Assert.Equal("P-256", key.GetProperty("crv").GetString());
        Assert.Equal("ES256", key.GetProperty("alg").GetString());
        Assert.Equal("sig", key.GetProperty("use").GetString());
        Assert.False(key.TryGetProperty("d", out _), "the private part must never be published");

        var user = await server.RegisterUserAsync();
        var header = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(user.AccessToken);
        Assert.Equal(key.GetProperty("kid").GetString(), header.Kid);
        Assert.Equal("ES256", header.Alg);
        Assert.Equal("access", header.GetPayloadValue<string>("token_type"));
        Assert.Equal("access", header.GetPayloadValue<string>("type"));
        Assert.Equal(user.Id, header.Subject);
        foreach (var claim in new[] { "iss", "aud", "iat", "nbf", "exp", "jti", "email" })
        {
            Assert.True(header.TryGetPayloadValue<object>(claim, out _), $"missing claim {claim}");
        }

        using var discovery = await server.Client.GetAsync(U("/.well-known/openid-configuration"));
        Assert.Equal(HttpStatusCode.OK, discovery.StatusCode);
        var doc = await JsonAsync(discovery);
        Assert.Equal("apex", doc.GetProperty("issuer").GetString());
        Assert.Equal(new Uri(server.BaseAddress, "/.well-known/jwks.json").ToString(), doc.GetProperty("jwks_uri").GetString());
    }

    [Fact(Timeout = 30_000)]
    public async Task Unknown_routes_and_wrong_methods_get_problem_json_and_security_headers()
    {
        await using var server = await ApexTestServer.StartAsync();
        using var notFound = await server.Client.GetAsync(U("/auth/does-not-exist"));
        await ProblemAsync(notFound, HttpStatusCode.NotFound);
        using var wrongMethod = await server.Client.DeleteAsync(U("/auth/register"));
        await ProblemAsync(wrongMethod, HttpStatusCode.MethodNotAllowed);
        foreach (var response in new[] { notFound, wrongMethod })
        {
            Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
            Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
            Assert.True(response.Headers.Contains("Referrer-Policy"));
        }

        using var ok = await server.Client.GetAsync(U("/auth/config"));
        Assert.Equal("nosniff", ok.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.False(ok.Headers.Contains("Strict-Transport-Security"), "HSTS only over HTTPS");
    }

    [Fact(Timeout = 30_000)]
    public async Task Cors_allows_configured_origins_with_credentials_and_ignores_others()
    {
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?> { ["Apex:AllowedOrigins:0"] = "https://app.example.com" });

        using var preflight = new HttpRequestMessage(HttpMethod.Options, U("/auth/login"));
        preflight.Headers.Add("Origin", "https://app.example.com");
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        preflight.Headers.Add("Access-Control-Request-Headers", "content-type,authorization");
        using var allowed = await server.Client.SendAsync(preflight);
        Assert.True(allowed.IsSuccessStatusCode);
        Assert.Equal("https://app.example.com", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Equal("true", allowed.Headers.GetValues("Access-Control-Allow-Credentials").Single());
        Assert.Contains("POST", allowed.Headers.GetValues("Access-Control-Allow-Methods").Single(), StringComparison.Ordinal);
        Assert.Contains("authorization", allowed.Headers.GetValues("Access-Control-Allow-Headers").Single(), StringComparison.OrdinalIgnoreCase);

        using var evilPreflight = new HttpRequestMessage(HttpMethod.Options, U("/auth/login"));
        evilPreflight.Headers.Add("Origin", "https://evil.example.net");
        evilPreflight.Headers.Add("Access-Control-Request-Method", "POST");
        using var refused = await server.Client.SendAsync(evilPreflight);
        Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"));
        Assert.False(refused.Headers.Contains("Access-Control-Allow-Credentials"));

        using var simple = new HttpRequestMessage(HttpMethod.Get, U("/auth/config"));
        simple.Headers.Add("Origin", "https://evil.example.net");
        using var simpleResponse = await server.Client.SendAsync(simple);
        Assert.Equal(HttpStatusCode.OK, simpleResponse.StatusCode);
        Assert.False(simpleResponse.Headers.Contains("Access-Control-Allow-Origin"));

        using var good = new HttpRequestMessage(HttpMethod.Get, U("/auth/config"));
        good.Headers.Add("Origin", "https://app.example.com");
        using var goodResponse = await server.Client.SendAsync(good);
        Assert.Equal("https://app.example.com", goodResponse.Headers.GetValues("Access-Control-Allow-Origin").Single());
    }

    [Fact(Timeout = 30_000)]
    public async Task Lifetimes_follow_configuration()
    {
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Auth:AccessTokenMinutes"] = "2",
            ["Auth:RefreshTokenDays"] = "3",
            ["Auth:SessionDays"] = "2",
        });
        using var response = await server.PostAsync("/auth/register", new { email = "life@example.com", password = "a long enough passphrase" });
        var body = await JsonAsync(response);
        Assert.InRange(body.GetProperty("expires_in").GetInt64(), 100, 120);
        // The absolute session end caps the refresh token.
        Assert.InRange(body.GetProperty("refresh_expires_in").GetInt64(), 2 * 86400 - 60, 2 * 86400);
    }

    [Fact(Timeout = 30_000)]
    public async Task Unicode_email_is_normalised_and_signs_in_case_insensitively()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync("Jürgen.Öst@Bücher.example");
        Assert.Equal("jürgen.öst@bücher.example", user.Email);
        var again = await server.LoginAsync("JÜRGEN.ÖST@BÜCHER.EXAMPLE", user.Password);
        Assert.Equal(user.Id, again.Id);
    }

    [Fact(Timeout = 30_000)]
    public async Task Bearer_scheme_is_case_insensitive_and_other_schemes_are_401()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        using var client = server.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("bearer", user.AccessToken);
        using var ok = await client.GetAsync(U("/auth/me"));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", "dXNlcjpwYXNz");
        using var basic = await client.GetAsync(U("/auth/me"));
        await ProblemAsync(basic, HttpStatusCode.Unauthorized);
    }
}
