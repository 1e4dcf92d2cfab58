using Apex.Testing;

namespace Apex.Verify.Tests;

/// <summary>Deliberately broken deployments: the right check fails with a useful detail, exit code 1.</summary>
public sealed class BrokenDeploymentTests
{
    [Fact(Timeout = 120_000)]
    public async Task Auth_role_down_fails_the_auth_health_check()
    {
        var (auth, api) = await Deployments.SplitAsync();
        await using var _ = api;
        var authUrl = auth.BaseAddress;
        await auth.DisposeAsync();
        using var harness = new VerifyHarness();

        var code = await harness.RunAsync(harness.Settings(api.BaseAddress, authUrl));

        Assert.True(code == ExitCodes.Failed, $"exit {code}\n{harness.Output}");
        var (result, detail) = harness.Check("health.auth");
        Assert.Equal("fail", result);
        Assert.Contains($"cannot connect to {authUrl.GetLeftPart(UriPartial.Authority)}", detail, StringComparison.Ordinal);
        Assert.Equal("pass", harness.Check("health.api").Result);
        var (signIn, why) = harness.Check("auth.sign_in");
        Assert.Equal("skip", signIn);
        Assert.Contains("health.auth failed", why, StringComparison.Ordinal);
    }

    [Fact(Timeout = 120_000)]
    public async Task WebSocket_refusing_the_subprotocol_fails_the_subprotocol_check()
    {
        await using var server = await Deployments.SingleAsync(configure: Deployments.RefuseSubprotocols);
        using var harness = new VerifyHarness();

        var code = await harness.RunAsync(harness.Settings(server.BaseAddress) with { Only = new HashSet<string> { "ws" } });

        Assert.True(code == ExitCodes.Failed, $"exit {code}\n{harness.Output}");
        Assert.Equal("pass", harness.Check("ws.handshake").Result);
        var (result, detail) = harness.Check("ws.subprotocol");
        Assert.Equal("fail", result);
        Assert.Contains("offering jwt-auth + jwt.<token>: upgrade refused with HTTP 400", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("eyJ", detail, StringComparison.Ordinal);
    }

    [Fact(Timeout = 120_000)]
    public async Task Missing_CORS_for_the_web_origin_fails_the_preflight_check()
    {
        await using var web = await StaticWebApp.StartAsync();
        await using var server = await Deployments.SingleAsync();
        using var harness = new VerifyHarness();

        var code = await harness.RunAsync(harness.Settings(server.BaseAddress, webUrl: web.Address) with { Only = new HashSet<string> { "health", "web", "cors" } });

        Assert.True(code == ExitCodes.Failed, $"exit {code}\n{harness.Output}");
        Assert.Equal("pass", harness.Check("web.page").Result);
        var (result, detail) = harness.Check("cors.api");
        Assert.Equal("fail", result);
        Assert.Contains($"from {web.Origin}", detail, StringComparison.Ordinal);
        Assert.Contains("no Access-Control-Allow-Origin", detail, StringComparison.Ordinal);
        Assert.Equal("pass", harness.Check("cors.foreign_origin").Result);
    }

    [Fact(Timeout = 120_000)]
    public async Task An_agent_that_never_sends_its_terminal_event_fails_the_completion_check()
    {
        var agent = new ScriptedAgent { Mode = ScriptMode.NeverTerminates };
        await using var server = await Deployments.SingleAsync(configure: b => Deployments.Agent(b, agent));
        using var harness = new VerifyHarness();

        var code = await harness.RunAsync(harness.Settings(server.BaseAddress) with
        {
            Only = new HashSet<string> { "agent", "resume" },
            AgentCompletionTimeout = TimeSpan.FromSeconds(2),
        });

        Assert.True(code == ExitCodes.Failed, $"exit {code}\n{harness.Output}");
        Assert.Equal("pass", harness.Check("agent.first_event").Result);
        var (result, detail) = harness.Check("agent.completion");
        Assert.Equal("fail", result);
        Assert.Contains("no terminal event within 2 s", detail, StringComparison.Ordinal);
        Assert.Contains("agent_thinking", detail, StringComparison.Ordinal);
        Assert.Equal("skip", harness.Check("agent.order").Result);
        Assert.Equal("skip", harness.Check("resume.reconnect").Result);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_server_leaking_events_across_users_fails_the_isolation_check()
    {
        var agent = new ScriptedAgent();
        await using var server = await Deployments.SingleAsync(configure: b =>
        {
            Deployments.Agent(b, agent);
            Deployments.LeakEventsAcrossUsers(b);
        });
        using var harness = new VerifyHarness();

        var code = await harness.RunAsync(harness.Settings(server.BaseAddress) with { Only = new HashSet<string> { "isolation" } });

        Assert.True(code == ExitCodes.Failed, $"exit {code}\n{harness.Output}");
        Assert.Equal("pass", harness.Check("agent.completion").Result);
        var (result, detail) = harness.Check("isolation.events");
        Assert.Equal("fail", result);
        Assert.Contains("of user A's events", detail, StringComparison.Ordinal);
        Assert.Contains("agent_started", detail, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Nothing_listening_is_a_connection_error_with_exit_code_2()
    {
        using var harness = new VerifyHarness();
        var port = Deployments.FreePort();

        var code = await harness.RunAsync(harness.Settings(new Uri($"http://127.0.0.1:{port}")));

        Assert.Equal(ExitCodes.UsageOrConnection, code);
        Assert.Contains("cannot reach the deployment", harness.Output, StringComparison.Ordinal);
        Assert.Equal("fail", harness.Check("health.api").Result);
    }
}
