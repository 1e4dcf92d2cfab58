using System.Net;
using Apex.Testing;

namespace Apex.Auth.Tests;

public sealed class CliTests
{
    [SqliteOnlyFact(Timeout = 90_000, Because = "the CLI child process opens the server's SQLite database")]
    public async Task User_add_list_and_disable_work_against_the_servers_database()
    {
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?> { ["Auth:RevocationPollMilliseconds"] = "200" });
        var dir = $"--Apex:DataDir={server.DataDir}";

        var (exit, stdout, stderr) = await ApexCli.RunAsync("a fine cli passphrase 7", "user", "add", "--email", "Cli@Example.com", "--name", "Cli User", dir);
        Assert.True(exit == 0, stderr);
        Assert.StartsWith("usr_", stdout.Trim().Split('\n')[^1], StringComparison.Ordinal);

        (exit, _, stderr) = await ApexCli.RunAsync("short", "user", "add", "--email", "weak@example.com", dir);
        Assert.NotEqual(0, exit);
        Assert.Contains("characters", stderr, StringComparison.Ordinal);
        (exit, _, _) = await ApexCli.RunAsync("a fine cli passphrase 7", "user", "add", "--email", "cli@example.com", dir);
        Assert.Equal(3, exit);

        var user = await server.LoginAsync("cli@example.com", "a fine cli passphrase 7");
        (exit, stdout, _) = await ApexCli.RunAsync(null, "user", "list", dir);
        Assert.Equal(0, exit);
        var row = stdout.Split('\n').Single(l => l.Contains("\tcli@example.com\t", StringComparison.Ordinal));
        Assert.Equal([user.Id, "cli@example.com", "Cli User"], row.Split('\t')[..3]);

        (exit, stdout, stderr) = await ApexCli.RunAsync(null, "user", "disable", "cli@example.com", dir);
        Assert.True(exit == 0, stderr);
        Assert.Contains("ended 1 sessions", stdout, StringComparison.Ordinal);

        // The running server learns of the revocation from the database and refuses the token.
        Assert.True(await Http.EventuallyAsync(async () =>
        {
            using var me = await server.GetMeAsync(user.AccessToken);
            return me.StatusCode == HttpStatusCode.Unauthorized;
        }, TimeSpan.FromSeconds(2)));
        using var login = await server.PostAsync("/auth/login", new { email = "cli@example.com", password = "a fine cli passphrase 7" });
        Assert.Equal(HttpStatusCode.Unauthorized, login.StatusCode);
    }
}
