using System.CommandLine;
using Apex.Server.Commands;

namespace Apex.Verify.Tests;

/// <summary>The command line: usage errors exit with 2 before anything is contacted.</summary>
public sealed class CommandLineTests
{
    [Theory(Timeout = 30_000)]
    [InlineData("verify --register-probe")]
    [InlineData("verify --base-url http://127.0.0.1:9")]
    [InlineData("verify --base-url http://127.0.0.1:9 --register-probe --token abc")]
    [InlineData("verify --base-url http://127.0.0.1:9 --email a@example.com")]
    [InlineData("verify --base-url ftp://127.0.0.1:9 --register-probe")]
    [InlineData("verify --base-url http://127.0.0.1:9 --register-probe --repeat 0")]
    [InlineData("verify --base-url http://127.0.0.1:9 --register-probe --repeat many")]
    [InlineData("verify --base-url http://127.0.0.1:9 --register-probe --only nothing")]
    [InlineData("verify --base-url http://127.0.0.1:9 --register-probe --thresholds /no/such/file.json")]
    [InlineData("verify --base-url http://127.0.0.1:9 --register-probe --surprise")]
    public async Task Usage_errors_exit_with_2(string line)
    {
        var root = new RootCommand { VerifyCommand.Create() };
        var code = await root.Parse(line.Split(' ')).InvokeAsync();
        Assert.Equal(ExitCodes.UsageOrConnection, code);
    }

    [Fact(Timeout = 30_000)]
    public async Task Options_bind_into_settings()
    {
        var root = new RootCommand { VerifyCommand.Create() };
        var result = root.Parse([
            "verify", "--base-url", "https://apex.example.com", "--auth-url", "https://auth.example.com", "--ws-url", "wss://ws.example.com",
            "--email", "ops@example.com", "--password", "correct-horse-battery", "--repeat", "3", "--interval", "1.5",
            "--only", "agent,resume", "--agent-timeout", "7", "--report", "w.md",
        ]);
        var errors = new List<string>();

        var settings = VerifyCommand.Bind(result, errors);

        Assert.Empty(errors);
        Assert.NotNull(settings);
        Assert.Equal(ProbeCredentialMode.Password, settings.CredentialMode);
        Assert.Equal(new Uri("wss://ws.example.com"), settings.WsUrl);
        Assert.Equal(3, settings.Repeat);
        Assert.Equal(TimeSpan.FromSeconds(1.5), settings.Interval);
        Assert.Equal(TimeSpan.FromSeconds(7), settings.AgentCompletionTimeout);
        Assert.Equal(["agent", "resume"], settings.Only!.Order());
        Assert.Equal("w.md", settings.MarkdownReportPath);
        await Task.CompletedTask;
    }
}
