using Apex.Testing;

namespace Apex.Auth.Tests;

/// <summary>Runs the real <c>apex</c> command; <paramref name="stdin"/> is one line (a passphrase).</summary>
internal static class ApexCli
{
    public static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string? stdin, params string[] args) =>
        ApexProcess.RunAsync(args, stdin is null ? null : stdin + "\n", TimeSpan.FromSeconds(25));
}
