using Apex.Testing;
using System.Diagnostics;

namespace Apex.Server.Tests;

/// <summary>The <c>apex</c> command run as a real process, as an operator runs it.</summary>
public sealed class CommandTests
{

    [Fact(Timeout = 60_000)]
    public async Task Check_config_accepts_the_defaults()
    {
        var dataDir = Directory.CreateTempSubdirectory("apex-cli-").FullName;
        var (code, stdout, stderr) = await RunAsync("check-config", $"--Apex:DataDir={dataDir}");
        Assert.True(code == 0, stderr);
        Assert.Contains("configuration ok", stdout, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Check_config_names_the_wrong_key()
    {
        var (code, _, stderr) = await RunAsync("check-config", "--Database:Provider=Postgres");
        Assert.Equal(1, code);
        Assert.Contains("Database:ConnectionString", stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Check_config_rejects_a_value_of_the_wrong_type()
    {
        var (code, _, stderr) = await RunAsync("check-config", "--Database:Provider=Oracle");
        Assert.Equal(1, code);
        Assert.Contains("Oracle", stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 120_000)]
    public async Task Migrate_creates_the_sqlite_database()
    {
        var dataDir = Directory.CreateTempSubdirectory("apex-cli-").FullName;
        var (code, stdout, stderr) = await RunAsync("migrate", $"--Apex:DataDir={dataDir}");
        Assert.True(code == 0, stderr);
        Assert.Contains("migrated", stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(dataDir, "apex.db")));
    }

    private static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args) => ApexProcess.RunAsync(args);
}
