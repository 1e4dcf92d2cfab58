using System.Net;
using Apex.Testing;

namespace Apex.Chat.Tests;

/// <summary>The per-user cap on concurrent runs (issue 14): counted in the database, so it holds across nodes.</summary>
public sealed class RunCapTests
{
    [Fact(Timeout = 60_000)]
    public async Task Runs_over_the_per_user_cap_are_refused_with_too_many_runs_and_429()
    {
        await using var server = await ChatTestKit.StartAsync(
            new ScriptedAgent { Mode = ScriptMode.NeverTerminates },
            new Dictionary<string, string?> { ["Chat:MaxConcurrentRunsPerUser"] = "2" });
        using var alice = await ChatUser.CreateAsync(server);
        using var bob = await ChatUser.CreateAsync(server);
        var threads = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            threads.Add(await alice.CreateThreadAsync());
        }

        var runs = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            var (status, accepted) = await alice.PostAsync($"/api/threads/{threads[i]}/messages", new { content = "go" });
            Assert.Equal(HttpStatusCode.Accepted, status);
            runs.Add(accepted.GetProperty("run").Str("id")!);
        }

        var (refused, problem) = await alice.PostAsync($"/api/threads/{threads[2]}/messages", new { content = "one more" });
        Assert.Equal(HttpStatusCode.TooManyRequests, refused);
        Assert.Equal(429, problem.GetProperty("status").GetInt32());
        // Nothing was stored for the refused message.
        var (_, messages) = await alice.GetAsync($"/api/threads/{threads[2]}/messages");
        Assert.Empty(messages.GetProperty("items").EnumerateArray());

        await using (var ws = await TestSocket.OpenAsync(server, alice.User.AccessToken))
        {
            await ws.SendJsonAsync(new { type = "user_message", id = "c1", payload = new { text = "and another" } });
            var error = (await ws.ReadUntilAsync(f => f.Type() is "error" or "ack")).Last();
            Assert.Equal("error", error.Type());
            Assert.Equal("too_many_runs", error.GetProperty("payload").Str("code"));
            Assert.Equal("c1", error.GetProperty("payload").Str("client_id"));
        }

        // Per user: another user still runs.
        var bobThread = await bob.CreateThreadAsync();
        Assert.Equal(HttpStatusCode.Accepted, (await bob.PostAsync($"/api/threads/{bobThread}/messages", new { content = "go" })).Status);

        // A run that ends frees its place.
        Assert.Equal(HttpStatusCode.Accepted, (await alice.PostAsync($"/api/runs/{runs[0]}/cancel")).Status);
        await alice.WaitForRunAsync(runs[0]);
        Assert.Equal(HttpStatusCode.Accepted, (await alice.PostAsync($"/api/threads/{threads[2]}/messages", new { content = "now" })).Status);
    }

    [Fact(Timeout = 60_000)]
    public async Task Concurrent_starts_of_one_user_never_exceed_the_cap()
    {
        const int cap = 3;
        const int attempts = 12;
        await using var server = await ChatTestKit.StartAsync(
            new ScriptedAgent { Mode = ScriptMode.NeverTerminates },
            new Dictionary<string, string?> { ["Chat:MaxConcurrentRunsPerUser"] = cap.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        using var alice = await ChatUser.CreateAsync(server);
        var threads = new List<string>();
        for (var i = 0; i < attempts; i++)
        {
            threads.Add(await alice.CreateThreadAsync());
        }

        // All at once, each on its own thread: only the per-user cap can refuse them.
        using var gate = new SemaphoreSlim(0);
        var starts = threads.Select(async thread =>
        {
            await gate.WaitAsync();
            return await alice.PostAsync($"/api/threads/{thread}/messages", new { content = "go" });
        }).ToList();
        gate.Release(attempts);
        var results = await Task.WhenAll(starts);

        Assert.All(results, r => Assert.True(r.Status is HttpStatusCode.Accepted or HttpStatusCode.TooManyRequests, $"unexpected {r.Status}"));
        Assert.Equal(cap, results.Count(r => r.Status == HttpStatusCode.Accepted));
        var (_, list) = await alice.GetAsync("/api/threads?limit=100");
        Assert.Equal(cap, list.GetProperty("items").EnumerateArray().Count(t => t.Str("last_run_status") is "queued" or "running"));
    }
}
