using System.Net.Http.Json;
using System.Text.Json;
using System.Xml.Linq;
using Apex.Testing;

namespace Apex.Verify.Tests;

/// <summary>The checker against healthy deployments: every check passes, all three reports are written.</summary>
public sealed class DeploymentTests
{
    [Fact(Timeout = 120_000)]
    public async Task Single_process_passes_every_check_and_writes_all_reports()
    {
        await using var server = await Deployments.SingleAsync();
        using var harness = new VerifyHarness();

        var code = await harness.RunAsync(harness.Settings(server.BaseAddress));

        Assert.True(code == ExitCodes.Pass, $"exit {code}\n{harness.Failures()}\n{harness.Output}");
        Assert.Contains("Verdict: **pass**", harness.Markdown, StringComparison.Ordinal);
        foreach (var phase in new[] { "## 1. Health", "## 4. Auth", "## 5. REST API", "## 6. WebSocket", "## 7. Agent run", "## 8. Resume", "## 9. Isolation" })
        {
            Assert.Contains(phase, harness.Markdown, StringComparison.Ordinal);
        }

        using var json = JsonDocument.Parse(harness.Json);
        Assert.Equal("pass", json.RootElement.GetProperty("verdict").GetString());
        Assert.Equal(0, json.RootElement.GetProperty("exit_code").GetInt32());
        var results = json.RootElement.GetProperty("iterations")[0].GetProperty("checks").EnumerateArray()
            .ToDictionary(c => c.GetProperty("id").GetString()!, c => c.GetProperty("result").GetString());
        foreach (var id in new[] { "auth.sign_in", "api.other_user", "ws.subprotocol", "agent.completion", "agent.stored", "resume.replay", "isolation.events" })
        {
            Assert.Equal("pass", results[id]);
        }

        // The web app is served when it was built into the server's wwwroot (CI builds it first).
        var webBuilt = File.Exists(Path.Combine(AppContext.BaseDirectory, "wwwroot", "index.html"));
        foreach (var id in new[] { "web.page", "web.headers", "web.assets" })
        {
            Assert.True(results[id] == (webBuilt ? "pass" : "skip"), $"{id}: {harness.Check(id)}");
        }

        var junit = XDocument.Load(harness.JUnitPath);
        Assert.Equal("0", junit.Root!.Attribute("failures")!.Value);
        Assert.True(int.Parse(junit.Root.Attribute("tests")!.Value, System.Globalization.CultureInfo.InvariantCulture) >= 40);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_slow_run_is_cut_mid_run_and_resumes_without_gap_or_duplicate()
    {
        // Each event 150 ms apart: the probe cuts the socket after the first one while the run goes on.
        var agent = new ScriptedAgent { Delay = TimeSpan.FromMilliseconds(150) };
        await using var server = await Deployments.SingleAsync(configure: b => Deployments.Agent(b, agent));
        using var harness = new VerifyHarness();

        var code = await harness.RunAsync(harness.Settings(server.BaseAddress) with { Only = new HashSet<string> { "agent", "resume", "isolation" } });

        Assert.True(code == ExitCodes.Pass, $"exit {code}\n{harness.Failures()}\n{harness.Output}");
        var (_, replay) = harness.Check("resume.replay");
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(replay, @"[1-9]\d* replayed, [1-9]\d* live"), harness.Output);
        Assert.Equal("pass", harness.Check("agent.tool_pairs").Result);
        Assert.Equal("pass", harness.Check("isolation.foreign_run").Result);
        Assert.Equal(2, agent.Requests.Count);
    }

    [Fact(Timeout = 120_000)]
    public async Task Split_auth_and_api_roles_with_a_separate_web_origin_pass_every_check()
    {
        await using var web = await StaticWebApp.StartAsync();
        var (auth, api) = await Deployments.SplitAsync(web.Origin);
        await using var _ = auth;
        await using var __ = api;
        using var harness = new VerifyHarness();

        var code = await harness.RunAsync(harness.Settings(api.BaseAddress, auth.BaseAddress, web.Address));

        Assert.True(code == ExitCodes.Pass, $"exit {code}\n{harness.Failures()}\n{harness.Output}");
        Assert.Equal("pass", harness.Check("cors.api").Result);
        Assert.Equal("pass", harness.Check("cors.auth").Result);
        Assert.Equal("pass", harness.Check("web.assets").Result);
        Assert.Equal("pass", harness.Check("isolation.events").Result);
        Assert.True(File.Exists(harness.JUnitPath));
    }

    [Fact(Timeout = 120_000)]
    public async Task Existing_user_sign_in_never_prints_the_password_or_tokens()
    {
        await using var server = await Deployments.SingleAsync();
        var email = $"operator+{Guid.NewGuid():N}@example.com";
        var password = "Operator-" + Guid.NewGuid().ToString("N");
        using var register = await server.Client.PostAsJsonAsync("/auth/register", new { email, password });
        Assert.Equal(System.Net.HttpStatusCode.Created, register.StatusCode);
        var token = (await register.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString()!;
        using var harness = new VerifyHarness();

        var code = await harness.RunAsync(harness.Settings(server.BaseAddress) with
        {
            CredentialMode = ProbeCredentialMode.Password,
            Email = email,
            Password = password,
        });

        Assert.Equal("pass", harness.Check("auth.sign_in").Result);
        Assert.Equal("pass", harness.Check("auth.logout").Result);
        Assert.Equal("skip", harness.Check("auth.second_user").Result);
        Assert.Equal("skip", harness.Check("isolation.observer").Result);
        Assert.True(code == ExitCodes.Pass, $"exit {code}\n{harness.Failures()}\n{harness.Output}");
        foreach (var text in new[] { harness.Output, harness.Markdown, harness.Json, File.ReadAllText(harness.JUnitPath) })
        {
            Assert.DoesNotContain(password, text, StringComparison.Ordinal);
            Assert.DoesNotContain(token[..40], text, StringComparison.Ordinal);
            Assert.DoesNotContain("eyJ", text, StringComparison.Ordinal);
        }
    }

    [Fact(Timeout = 120_000)]
    public async Task A_given_token_signs_in_and_the_checks_needing_a_password_say_why_they_are_skipped()
    {
        await using var server = await Deployments.SingleAsync();
        var email = $"operator+{Guid.NewGuid():N}@example.com";
        using var register = await server.Client.PostAsJsonAsync("/auth/register", new { email, password = "Operator-" + Guid.NewGuid().ToString("N") });
        var token = (await register.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("access_token").GetString()!;
        using var harness = new VerifyHarness();

        var code = await harness.RunAsync(harness.Settings(server.BaseAddress) with
        {
            CredentialMode = ProbeCredentialMode.Token,
            Token = token,
            Only = new HashSet<string> { "auth", "api", "ws" },
        });

        Assert.True(code == ExitCodes.Pass, $"exit {code}\n{harness.Failures()}\n{harness.Output}");
        Assert.Contains(email, harness.Check("auth.sign_in").Detail, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("--token given", harness.Check("auth.logout").Detail, StringComparison.Ordinal);
        Assert.Equal("skip", harness.Check("api.other_user").Result);
        Assert.DoesNotContain(token[20..60], harness.Markdown + harness.Json + harness.Output, StringComparison.Ordinal);
    }

    [Fact(Timeout = 180_000)]
    public async Task Repeat_reports_percentiles_and_a_breached_threshold_degrades_the_verdict()
    {
        await using var server = await Deployments.SingleAsync();
        using var harness = new VerifyHarness();
        var settings = harness.Settings(server.BaseAddress) with
        {
            Repeat = 2,
            Only = new HashSet<string> { "health", "ws" },
            Thresholds = Thresholds.Parse("""{"max_ms": {"ws.ping": 0.001}}"""),
        };

        var code = await harness.RunAsync(settings);

        Assert.Equal(ExitCodes.Failed, code);
        Assert.Contains("Verdict: **degraded**", harness.Markdown, StringComparison.Ordinal);
        Assert.Equal("slow", harness.Check("ws.ping").Result);
        Assert.Contains("over the 0 ms threshold", harness.Check("ws.ping").Detail, StringComparison.Ordinal);
        Assert.Contains("| ws.ping | 2 | 0 | 2 |", harness.Markdown, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(harness.Json);
        Assert.Equal(2, json.RootElement.GetProperty("iterations").GetArrayLength());
        var stats = json.RootElement.GetProperty("stats").EnumerateArray().Single(s => s.GetProperty("id").GetString() == "health.api");
        Assert.Equal(2, stats.GetProperty("runs").GetInt32());
        Assert.True(stats.GetProperty("p95_ms").GetDouble() >= stats.GetProperty("p50_ms").GetDouble());
        // Only the selected phases and the auth phase they need ran.
        Assert.DoesNotContain("## 7. Agent run", harness.Markdown, StringComparison.Ordinal);
        Assert.Contains("## 4. Auth", harness.Markdown, StringComparison.Ordinal);
    }
}
