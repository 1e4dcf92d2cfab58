using System.Net;
using System.Text;
using Apex.Auth.Data;
using Apex.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using static Apex.Auth.Tests.Http;

namespace Apex.Auth.Tests;

public sealed class BadInputTests
{
    public static readonly TheoryData<string> Payloads = new()
    {
        "' OR '1'='1' --",
        "Robert'); DROP TABLE auth_users;--",
        "<script>alert('x')</script>@example.com",
        "\"><img src=x onerror=alert(1)>",
        "用户 例子",
        "\u202Egnp.exe@example.com",
        "null\u0000byte@example.com",
        "😀😀😀😀😀😀😀😀😀😀",
        "a@b.c; DELETE FROM auth_sessions",
        "${jndi:ldap://x}",
        "../../../../etc/passwd",
    };

    private static readonly string[] CredentialRoutes = ["/auth/register", "/auth/login", "/auth/refresh", "/auth/validate", "/auth/dev/login"];

    // Dev login needs no password, so bodies that only break the password field are valid for it.
    private static readonly string[] PasswordRoutes = ["/auth/register", "/auth/login", "/auth/refresh", "/auth/validate"];

    private static async Task<int> CountUsersAsync(ApexTestServer server)
    {
        await using var scope = server.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<AuthDbContext>().Users.CountAsync();
    }

    private static async Task AssertHealthyAsync(ApexTestServer server)
    {
        var user = await server.RegisterUserAsync();
        using var me = await server.GetMeAsync(user.AccessToken);
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("{")]
    [InlineData("{\"email\": \"a@example.com\", \"password\": }")]
    [InlineData("not json at all")]
    [InlineData("{\"email\": 42, \"password\": \"a long enough passphrase\"}")]
    [InlineData("{\"email\": \"a@example.com\", \"password\": [\"a\"]}")]
    [InlineData("{\"email\": {\"$ne\": null}, \"password\": {\"$ne\": null}}")]
    [InlineData("{\"refresh_token\": 12, \"token\": true}")]
    [InlineData("\"just a string\"")]
    [InlineData("[1, 2, 3]")]
    [InlineData("{\"email\": \"a@example.com\", \"password\": \"\\ud800 lone surrogate pw\"}")]
    public async Task Malformed_json_and_wrong_types_get_4xx_problems_on_every_route(string raw)
    {
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?> { ["Auth:Abuse:PerIpPerMinute"] = "1000" });
        foreach (var route in PasswordRoutes)
        {
            using var response = await server.PostRawAsync(route, raw);
            var status = (int)response.StatusCode;
            Assert.True(status is >= 400 and < 500, $"{route} answered {status} to {raw}");
            await ProblemAsync(response, response.StatusCode);
        }

        Assert.Equal(0, await CountUsersAsync(server));
        await AssertHealthyAsync(server);
    }

    [Fact(Timeout = 30_000)]
    public async Task Wrong_type_names_the_field()
    {
        await using var server = await ApexTestServer.StartAsync();
        using var response = await server.PostRawAsync("/auth/register", "{\"email\": 42, \"password\": \"a long enough passphrase\"}");
        await ValidationProblemAsync(response, "email");
        using var dev = await server.PostRawAsync("/auth/dev/login", "{\"email\": [\"a@example.com\"]}");
        await ValidationProblemAsync(dev, "email");
        using var malformed = await server.PostRawAsync("/auth/dev/login", "{\"email\": ");
        await ValidationProblemAsync(malformed);
        Assert.Equal(0, await CountUsersAsync(server));
    }

    [Fact(Timeout = 30_000)]
    public async Task Huge_bodies_get_413_problems_and_nothing_is_stored()
    {
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?> { ["Auth:Abuse:PerIpPerMinute"] = "1000" });
        var huge = "{\"email\":\"a@example.com\",\"password\":\"" + new string('p', 2 * 1024 * 1024) + "\"}";
        foreach (var route in CredentialRoutes)
        {
            // With Expect: 100-continue the client waits for the verdict instead of pushing 2 MB into a
            // connection the server is about to close (which would race the 413 on the client side).
            using var request = new HttpRequestMessage(HttpMethod.Post, U(route)) { Content = Json(huge) };
            request.Headers.ExpectContinue = true;
            using var response = await server.Client.SendAsync(request);
            await ProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
        }

        // Chunked, without a Content-Length: the limit still holds while reading.
        var overLimit = "{\"email\":\"a@example.com\",\"password\":\"" + new string('p', 20 * 1024) + "\"}";
        using var chunked = new HttpRequestMessage(HttpMethod.Post, U("/auth/register"))
        {
            Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(overLimit))),
        };
        chunked.Content.Headers.ContentType = new("application/json");
        chunked.Headers.TransferEncodingChunked = true;
        using var chunkedResponse = await server.Client.SendAsync(chunked);
        await ProblemAsync(chunkedResponse, HttpStatusCode.RequestEntityTooLarge);

        // Just over the auth routes' 16 KiB limit, well under the global one.
        var medium = "{\"email\":\"a@example.com\",\"password\":\"" + new string('p', 17 * 1024) + "\"}";
        using var mediumResponse = await server.PostRawAsync("/auth/register", medium);
        await ProblemAsync(mediumResponse, HttpStatusCode.RequestEntityTooLarge);

        Assert.Equal(0, await CountUsersAsync(server));
        await AssertHealthyAsync(server);
    }

    [Theory(Timeout = 30_000)]
    [MemberData(nameof(Payloads))]
    public async Task Hostile_strings_in_every_field_get_4xx_problems_and_store_nothing(string payload)
    {
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?> { ["Auth:Abuse:PerIpPerMinute"] = "1000" });
        var bodies = new (string Route, object Body)[]
        {
            ("/auth/register", new { email = payload, password = payload, name = payload }),
            ("/auth/register", new { email = payload, password = "a long enough passphrase" }),
            ("/auth/login", new { email = payload, password = payload }),
            ("/auth/refresh", new { refresh_token = payload }),
            ("/auth/validate", new { token = payload }),
            ("/auth/dev/login", new { email = payload }),
        };
        foreach (var (route, body) in bodies)
        {
            using var response = await server.PostAsync(route, body);
            var status = (int)response.StatusCode;
            Assert.True(status is >= 400 and < 500, $"{route} answered {status}");
            var problem = await ProblemAsync(response, response.StatusCode);
            // Problem details never echo the input back.
            Assert.DoesNotContain(payload, problem.GetRawText(), StringComparison.Ordinal);
        }

        Assert.Equal(0, await CountUsersAsync(server));
        await AssertHealthyAsync(server);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("<script>alert('x')</script>")]
    [InlineData("Robert'); DROP TABLE auth_users;--")]
    [InlineData("Zoë 用户 😀 عربى")]
    public async Task A_name_is_data_it_round_trips_unchanged(string name)
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync(name: name);
        using var me = await server.GetMeAsync(user.AccessToken);
        Assert.Equal(name, (await JsonAsync(me)).GetProperty("name").GetString());
        Assert.Equal(1, await CountUsersAsync(server));
    }

    [Fact(Timeout = 30_000)]
    public async Task Control_characters_in_a_name_are_422()
    {
        await using var server = await ApexTestServer.StartAsync();
        using var response = await server.PostAsync("/auth/register", new { email = "ctl@example.com", password = "a long enough passphrase", name = "bad\u0007name\u202E" });
        await ValidationProblemAsync(response, "name");
        Assert.Equal(0, await CountUsersAsync(server));
    }

    [Fact(Timeout = 30_000)]
    public async Task Wrong_content_type_is_a_4xx_problem()
    {
        await using var server = await ApexTestServer.StartAsync();
        using var response = await server.Client.PostAsync(U("/auth/login"), new StringContent("email=a&password=b", Encoding.UTF8, "application/x-www-form-urlencoded"));
        Assert.True((int)response.StatusCode is >= 400 and < 500);
        await ProblemAsync(response, response.StatusCode);
    }
}
