using System.Net;
using System.Net.Http.Json;
using Apex.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using static Apex.Auth.Tests.Http;

namespace Apex.Auth.Tests;

public sealed class RefreshTests
{
    private static async Task<(string Access, string Refresh)> RefreshAsync(ApexTestServer server, string refreshToken)
    {
        using var response = await server.PostAsync("/auth/refresh", new { refresh_token = refreshToken });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await JsonAsync(response);
        Assert.Equal("Bearer", body.GetProperty("token_type").GetString());
        Assert.True(body.GetProperty("expires_in").GetInt64() > 0);
        Assert.True(body.GetProperty("refresh_expires_in").GetInt64() > 0);
        return (body.GetProperty("access_token").GetString()!, body.GetProperty("refresh_token").GetString()!);
    }

    [Fact(Timeout = 30_000)]
    public async Task Refresh_rotates_the_pair_and_accepts_the_camel_case_alias()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var first = await RefreshAsync(server, user.RefreshToken);
        Assert.NotEqual(user.RefreshToken, first.Refresh);
        using var me = await server.GetMeAsync(first.Access);
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);

        using var alias = await server.PostAsync("/auth/refresh", new { refreshToken = first.Refresh });
        Assert.Equal(HttpStatusCode.OK, alias.StatusCode);
    }

    [Fact(Timeout = 30_000)]
    public async Task Reusing_a_rotated_token_revokes_the_whole_family()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var second = await RefreshAsync(server, user.RefreshToken);
        var third = await RefreshAsync(server, second.Refresh);

        // The thief replays the first refresh token.
        using var replay = await server.PostAsync("/auth/refresh", new { refresh_token = user.RefreshToken });
        var problem = await ProblemAsync(replay, HttpStatusCode.Unauthorized);
        Assert.Contains("reused", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        // The newest refresh token of that login stops working, and so do its access tokens.
        using var newest = await server.PostAsync("/auth/refresh", new { refresh_token = third.Refresh });
        await ProblemAsync(newest, HttpStatusCode.Unauthorized);
        using var me = await server.GetMeAsync(third.Access);
        await ProblemAsync(me, HttpStatusCode.Unauthorized);
        var (status, _) = await server.ValidateAsync(user.AccessToken);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
    }

    [Fact(Timeout = 30_000)]
    public async Task Twenty_concurrent_refreshes_of_one_token_let_exactly_one_succeed()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        using var start = new SemaphoreSlim(0);
        var attempts = Enumerable.Range(0, 20).Select(async _ =>
        {
            using var client = server.CreateClient();
            await start.WaitAsync();
            using var response = await client.PostAsJsonAsync("/auth/refresh", new { refresh_token = user.RefreshToken });
            return response.StatusCode;
        }).ToList();
        start.Release(20);
        var statuses = await Task.WhenAll(attempts);
        Assert.Equal(1, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(19, statuses.Count(s => s == HttpStatusCode.Unauthorized));
    }

    [Fact(Timeout = 30_000)]
    public async Task Missing_or_garbage_refresh_token_is_422_or_401()
    {
        await using var server = await ApexTestServer.StartAsync();
        using var missing = await server.PostRawAsync("/auth/refresh", "{}");
        await ValidationProblemAsync(missing, "refresh_token");
        using var garbage = await server.PostAsync("/auth/refresh", new { refresh_token = "x.y.z" });
        await ProblemAsync(garbage, HttpStatusCode.Unauthorized);
    }

    [Fact(Timeout = 30_000)]
    public async Task An_expired_refresh_token_is_401()
    {
        var key = new TestSigningKey();
        await using var server = await ApexTestServer.StartAsync(key.Settings());
        var user = await server.RegisterUserAsync();
        var jwt = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(user.RefreshToken);
        var claims = Forge.Claims(user.Id, "refresh", jwt.Id, jwt.GetPayloadValue<string>("sid"));
        var now = DateTime.UtcNow;
        var expired = Forge.Sign(key.SecurityKey, Microsoft.IdentityModel.Tokens.SecurityAlgorithms.EcdsaSha256, claims,
            notBefore: now.AddDays(-15), expires: now.AddMinutes(-5));
        using var response = await server.PostAsync("/auth/refresh", new { refresh_token = expired });
        var problem = await ProblemAsync(response, HttpStatusCode.Unauthorized);
        Assert.Contains("expired", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_rotated_pair_carries_the_account_and_session_and_ends_with_the_session()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        var sessionId = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(user.RefreshToken).GetPayloadValue<string>("sid");
        var sessionEnd = DateTimeOffset.UtcNow.AddMinutes(5);
        await using (var scope = server.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<Data.AuthDbContext>();
            Assert.Equal(1, await db.Sessions.Where(s => s.Id == sessionId).ExecuteUpdateAsync(s => s.SetProperty(x => x.ExpiresAt, sessionEnd)));
        }

        var pair = await RefreshAsync(server, user.RefreshToken);
        foreach (var token in new[] { pair.Access, pair.Refresh })
        {
            var jwt = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(token);
            Assert.Equal(user.Id, jwt.Subject);
            Assert.Equal(user.Email, jwt.GetPayloadValue<string>("email"));
            Assert.Equal(sessionId, jwt.GetPayloadValue<string>("sid"));
            // Neither token outlives the session it belongs to.
            Assert.InRange(new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero), DateTimeOffset.UtcNow, sessionEnd);
        }

        Assert.Equal(HttpStatusCode.OK, (await server.ValidateAsync(pair.Access)).Status);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_disabled_account_cannot_rotate_and_that_refusal_is_not_counted_as_reuse()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        async Task SetDisabledAsync(DateTimeOffset? at)
        {
            await using var scope = server.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<Data.AuthDbContext>();
            Assert.Equal(1, await db.Users.Where(u => u.Id == user.Id).ExecuteUpdateAsync(s => s.SetProperty(x => x.DisabledAt, at)));
        }

        // Only the account row changes here: the session row still names this token as current.
        await SetDisabledAsync(DateTimeOffset.UtcNow);
        using (var refused = await server.PostAsync("/auth/refresh", new { refresh_token = user.RefreshToken }))
        {
            var problem = await ProblemAsync(refused, HttpStatusCode.Unauthorized);
            Assert.Contains("revoked", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        await SetDisabledAsync(null);
        var pair = await RefreshAsync(server, user.RefreshToken);
        Assert.NotEqual(user.RefreshToken, pair.Refresh);
    }
}
