using System.Diagnostics;
using Apex.Testing;

namespace Apex.Web.Tests;

/// <summary>
/// Finds the built web app (web/ → src/Apex.Server/wwwroot), building it once with npm when it is
/// missing, and starts real Apex servers that serve it.
/// </summary>
internal static class WebApp
{
    private static readonly SemaphoreSlim BuildLock = new(1, 1);
    private static bool built;

    public static string RepoRoot { get; } = FindRepoRoot();

    public static string WebRoot => Path.Combine(RepoRoot, "src", "Apex.Server", "wwwroot");

    public static string ResultsDir
    {
        get
        {
            var dir = Path.Combine(RepoRoot, "TestResults", "web");
            Directory.CreateDirectory(dir);
            return dir;
        }
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Apex.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"Apex.slnx not found above {AppContext.BaseDirectory}.");
    }

    public static async Task EnsureBuiltAsync()
    {
        await BuildLock.WaitAsync();
        try
        {
            if (built || File.Exists(Path.Combine(WebRoot, "index.html")))
            {
                built = true;
                return;
            }

            var web = Path.Combine(RepoRoot, "web");
            if (!Directory.Exists(Path.Combine(web, "node_modules")))
            {
                await RunAsync("npm", "ci --no-audit --no-fund", web);
            }

            await RunAsync("npm", "run build", web);
            built = true;
        }
        finally
        {
            BuildLock.Release();
        }
    }

    private static async Task RunAsync(string file, string args, string cwd)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args)
        {
            WorkingDirectory = cwd,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await p.WaitForExitAsync(cts.Token);
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {args} failed ({p.ExitCode}): {await stdout}{await stderr}");
        }
    }

    public static async Task<ApexTestServer> StartServerAsync(IDictionary<string, string?>? settings = null)
    {
        await EnsureBuiltAsync();
        var all = new Dictionary<string, string?> { ["Web:Root"] = WebRoot };
        if (settings is not null)
        {
            foreach (var kv in settings)
            {
                all[kv.Key] = kv.Value;
            }
        }

        return await ApexTestServer.StartAsync(all);
    }
}
