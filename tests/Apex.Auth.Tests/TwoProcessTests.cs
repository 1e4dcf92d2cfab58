using System.Net;
using System.Net.Http.Headers;
using Apex.Testing;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Apex.Auth.Tests;

/// <summary>
/// An auth-role server and an API-role server sharing one database; the API node knows the auth
/// node only by its JWKS URL.
/// </summary>
public sealed class TwoProcessTests
{
    private const string WhoAmIPath = "/test/whoami";

    /// <summary>
    /// Test-only route on the API node: authenticates with the default scheme, exactly as the API's
    /// own protected route groups do.
    /// </summary>
    private sealed class WhoAmIFilter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Map(WhoAmIPath, branch => branch.Run(async context =>
            {
                var result = await context.AuthenticateAsync();
                if (!result.Succeeded)
                {
                    await context.ChallengeAsync();
                    return;
                }

                await context.Response.WriteAsync(result.Principal!.GetUserId());
            }));
            next(app);
        };
    }

    private static async Task<(ApexTestServer Auth, ApexTestServer Api)> StartPairAsync()
    {
        var auth = await ApexTestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Apex:Role"] = "Auth",
            ["Auth:RevocationPollMilliseconds"] = "200",
            ["Auth:Abuse:PerAccountPerMinute"] = "1000",
        });
        var api = await ApexTestServer.StartAsync(
            new Dictionary<string, string?>
            {
                ["Apex:Role"] = "Api",
                ["Auth:JwksUrl"] = new Uri(auth.BaseAddress, "/.well-known/jwks.json").ToString(),
                ["Auth:RevocationPollMilliseconds"] = "200",
                ["Database:ConnectionString"] = $"Data Source={Path.Combine(auth.DataDir, "apex.db")};Pooling=True;Default Timeout=30",
            },
            builder => builder.Services.AddSingleton<IStartupFilter>(new WhoAmIFilter()));
        return (auth, api);
    }

    private static async Task<HttpResponseMessage> WhoAmIAsync(ApexTestServer api, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Http.U(WhoAmIPath));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await api.Client.SendAsync(request);
    }

    [SqliteOnlyFact(Timeout = 30_000, Because = "the two child processes share one SQLite file")]
    public async Task Api_node_accepts_tokens_of_the_auth_node_and_refuses_foreign_keys()
    {
        var (auth, api) = await StartPairAsync();
        await using (auth)
        await using (api)
        {
            var user = await auth.RegisterUserAsync();
            using var accepted = await WhoAmIAsync(api, user.AccessToken);
            Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
            Assert.Equal(user.Id, await accepted.Content.ReadAsStringAsync());

            // Same claims, signed by a key that is not in the auth node's JWKS.
            var kid = new JsonWebToken(user.AccessToken).Kid;
            foreach (var foreign in new[] { new TestSigningKey("not-published"), new TestSigningKey(kid) })
            {
                var forged = Forge.Sign(foreign.SecurityKey, SecurityAlgorithms.EcdsaSha256, Forge.Claims(user.Id));
                using var refused = await WhoAmIAsync(api, forged);
                await Http.ProblemAsync(refused, HttpStatusCode.Unauthorized);
            }

            using var refreshAsAccess = await WhoAmIAsync(api, user.RefreshToken);
            Assert.Equal(HttpStatusCode.Unauthorized, refreshAsAccess.StatusCode);

            // The API role does not issue tokens.
            using var noLogin = await api.PostAsync("/auth/login", new { email = user.Email, password = user.Password });
            await Http.ProblemAsync(noLogin, HttpStatusCode.NotFound);
        }
    }

    [SqliteOnlyFact(Timeout = 30_000, Because = "the two child processes share one SQLite file")]
    public async Task Logout_on_the_auth_node_is_refused_by_the_api_node_within_a_second()
    {
        var (auth, api) = await StartPairAsync();
        await using (auth)
        await using (api)
        {
            var user = await auth.RegisterUserAsync();
            using (var ok = await WhoAmIAsync(api, user.AccessToken))
            {
                Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            }

            using (var client = auth.CreateClient(user.AccessToken))
            using (var logout = await client.PostAsync(Http.U("/auth/logout"), null))
            {
                Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
            }

            var refused = await Http.EventuallyAsync(async () =>
            {
                using var response = await WhoAmIAsync(api, user.AccessToken);
                return response.StatusCode == HttpStatusCode.Unauthorized;
            }, TimeSpan.FromSeconds(1));
            Assert.True(refused, "the API node still accepted a logged-out token after 1 s");
        }
    }

    [SqliteOnlyFact(Timeout = 60_000, Because = "the two child processes share one SQLite file")]
    public async Task Api_node_fetches_the_jwks_again_for_a_key_rotated_on_the_auth_node()
    {
        var (auth, api) = await StartPairAsync();
        await using (auth)
        await using (api)
        {
            var before = await auth.RegisterUserAsync();
            using (var ok = await WhoAmIAsync(api, before.AccessToken))
            {
                Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            }

            var (exit, _, stderr) = await ApexCli.RunAsync(null, "keys", "rotate", $"--Apex:DataDir={auth.DataDir}", "--Auth:KeyActivationDelaySeconds=0");
            Assert.True(exit == 0, stderr);
            var oldKid = new JsonWebToken(before.AccessToken).Kid;
            TestUser? after = null;
            Assert.True(await Http.EventuallyAsync(async () =>
            {
                after = await auth.LoginAsync(before.Email, before.Password);
                return new JsonWebToken(after.AccessToken).Kid != oldKid;
            }, TimeSpan.FromSeconds(10)), "the auth node did not start signing with the rotated key");

            // The API node has never seen this kid; it refetches the JWKS (at most every 10 s).
            Assert.True(await Http.EventuallyAsync(async () =>
            {
                using var response = await WhoAmIAsync(api, after!.AccessToken);
                return response.StatusCode == HttpStatusCode.OK;
            }, TimeSpan.FromSeconds(15)), "the API node never accepted a token signed by the rotated key");
            using var old = await WhoAmIAsync(api, before.AccessToken);
            Assert.Equal(HttpStatusCode.OK, old.StatusCode);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Api_role_without_a_jwks_url_refuses_to_start_and_names_the_key()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var api = await ApexTestServer.StartAsync(new Dictionary<string, string?> { ["Apex:Role"] = "Api" });
        });
        Assert.Contains("Auth:JwksUrl", error.Message, StringComparison.Ordinal);
    }
}
