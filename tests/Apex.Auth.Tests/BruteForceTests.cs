using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Apex.Testing;
using static Apex.Auth.Tests.Http;

namespace Apex.Auth.Tests;

public sealed class BruteForceTests
{
    private static Task<HttpResponseMessage> LoginAsync(ApexTestServer server, string email, string password) =>
        server.PostAsync("/auth/login", new { email, password });

    [Fact(Timeout = 30_000)]
    public async Task Lockout_engages_after_repeated_failures_grows_and_releases()
    {
        // The lock's end is read from the server's clock: the test moves it past the lock instead of waiting.
        var clock = new ShiftableTime();
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Auth:Abuse:FailuresBeforeLockout"] = "3",
            ["Auth:Abuse:LockoutSeconds"] = "1",
            ["Auth:Abuse:PerAccountPerMinute"] = "1000",
        }, clock.Install);
        var user = await server.RegisterUserAsync();
        for (var i = 0; i < 3; i++)
        {
            using var wrong = await LoginAsync(server, user.Email, "wrong password " + i);
            await ProblemAsync(wrong, HttpStatusCode.Unauthorized);
        }

        // Locked: even the right password gets 429 with Retry-After.
        using var locked = await LoginAsync(server, user.Email, user.Password);
        await ProblemAsync(locked, HttpStatusCode.TooManyRequests);
        Assert.Equal(TimeSpan.FromSeconds(1), locked.Headers.RetryAfter?.Delta);

        clock.Shift(TimeSpan.FromSeconds(1.1));
        // One more failure after the lock doubles it.
        using var wrongAgain = await LoginAsync(server, user.Email, "still wrong password");
        await ProblemAsync(wrongAgain, HttpStatusCode.Unauthorized);
        using var lockedLonger = await LoginAsync(server, user.Email, user.Password);
        await ProblemAsync(lockedLonger, HttpStatusCode.TooManyRequests);
        Assert.Equal(TimeSpan.FromSeconds(2), lockedLonger.Headers.RetryAfter?.Delta);

        clock.Shift(TimeSpan.FromSeconds(2.1));
        using var released = await LoginAsync(server, user.Email, user.Password);
        Assert.Equal(HttpStatusCode.OK, released.StatusCode);
        // Success resets the counter: a single failure does not lock again.
        using var oneFailure = await LoginAsync(server, user.Email, "wrong once more");
        await ProblemAsync(oneFailure, HttpStatusCode.Unauthorized);
        using var fine = await LoginAsync(server, user.Email, user.Password);
        Assert.Equal(HttpStatusCode.OK, fine.StatusCode);
    }

    [Fact(Timeout = 30_000)]
    public async Task Unknown_emails_are_locked_out_exactly_like_known_ones()
    {
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Auth:Abuse:FailuresBeforeLockout"] = "2",
            ["Auth:Abuse:LockoutSeconds"] = "30",
            ["Auth:Abuse:PerAccountPerMinute"] = "1000",
        });
        var user = await server.RegisterUserAsync();
        var answers = new List<(HttpStatusCode, string)>();
        foreach (var email in new[] { user.Email, "ghost@example.com" })
        {
            var sequence = new List<string>();
            for (var i = 0; i < 3; i++)
            {
                using var response = await LoginAsync(server, email, "wrong password xyz");
                var body = await JsonAsync(response);
                sequence.Add($"{(int)response.StatusCode}|{body.GetProperty("detail").GetString()}|{response.Headers.RetryAfter?.Delta}");
            }

            answers.Add((HttpStatusCode.OK, string.Join(";", sequence)));
        }

        Assert.Equal(answers[0].Item2, answers[1].Item2);
        Assert.Contains("429", answers[0].Item2, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Per_account_attempt_limit_answers_429_with_retry_after()
    {
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Auth:Abuse:PerAccountPerMinute"] = "3",
            ["Auth:Abuse:FailuresBeforeLockout"] = "100",
        });
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            using var response = await LoginAsync(server, "target@example.com", "guess number " + i);
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                await ProblemAsync(response, HttpStatusCode.TooManyRequests);
                Assert.True(response.Headers.RetryAfter?.Delta > TimeSpan.Zero);
            }
        }

        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests], statuses);
        // Another account is not affected.
        using var other = await LoginAsync(server, "someone-else@example.com", "guess");
        Assert.Equal(HttpStatusCode.Unauthorized, other.StatusCode);
    }

    [Fact(Timeout = 30_000)]
    public async Task Per_ip_rate_limit_answers_429_problem_with_retry_after()
    {
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?> { ["Auth:Abuse:PerIpPerMinute"] = "2" });
        using var a = await LoginAsync(server, "a@example.com", "guess guess guess");
        using var b = await LoginAsync(server, "b@example.com", "guess guess guess");
        using var c = await LoginAsync(server, "c@example.com", "guess guess guess");
        Assert.Equal(HttpStatusCode.Unauthorized, a.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, b.StatusCode);
        await ProblemAsync(c, HttpStatusCode.TooManyRequests);
        Assert.True(c.Headers.RetryAfter?.Delta > TimeSpan.Zero);
    }

    [Fact(Timeout = 60_000)]
    public async Task Known_and_unknown_emails_get_the_same_body_and_similar_time()
    {
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Auth:Abuse:FailuresBeforeLockout"] = "1000",
            ["Auth:Abuse:PerAccountPerMinute"] = "1000",
        });
        var user = await server.RegisterUserAsync();
        // Warm up both paths (JIT, connection, dummy hash).
        (await LoginAsync(server, user.Email, "warm up password")).Dispose();
        (await LoginAsync(server, "warm@example.com", "warm up password")).Dispose();

        var known = new List<double>();
        var unknown = new List<double>();
        string? knownBody = null;
        string? unknownBody = null;
        for (var i = 0; i < 6; i++)
        {
            foreach (var (email, times, isKnown) in new[] { (user.Email, known, true), ($"nobody{i}@example.com", unknown, false) })
            {
                var watch = Stopwatch.StartNew();
                using var response = await LoginAsync(server, email, "definitely wrong password");
                watch.Stop();
                times.Add(watch.Elapsed.TotalMilliseconds);
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
                var body = await JsonAsync(response);
                var comparable = JsonSerializer.Serialize(new
                {
                    type = body.GetProperty("type").GetString(),
                    title = body.GetProperty("title").GetString(),
                    status = body.GetProperty("status").GetInt32(),
                    detail = body.GetProperty("detail").GetString(),
                    fields = string.Join(",", body.EnumerateObject().Select(p => p.Name)),
                });
                if (isKnown)
                {
                    knownBody = comparable;
                }
                else
                {
                    unknownBody = comparable;
                }
            }
        }

        Assert.Equal(knownBody, unknownBody);
        var knownMedian = known.Order().ElementAt(known.Count / 2);
        var unknownMedian = unknown.Order().ElementAt(unknown.Count / 2);
        var ratio = knownMedian / unknownMedian;
        Assert.True(ratio is > 0.5 and < 2.0, $"known {knownMedian:F1} ms vs unknown {unknownMedian:F1} ms");
    }
}
