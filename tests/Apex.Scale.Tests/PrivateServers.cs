using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Apex.Scale.Tests;

/// <summary>
/// A redis-server of this test alone, on its own loopback port, so a test can stop and restart it
/// while the shared one stays up. Runs without persistence, like scripts/services.sh: a restart
/// loses every stream.
/// </summary>
internal sealed class PrivateRedis : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("apex-redis-").FullName;
    private Process? _process;

    public int Port { get; } = FreePort();

    public string Configuration => $"127.0.0.1:{Port}";

    public static async Task<PrivateRedis> StartAsync()
    {
        var redis = new PrivateRedis();
        await redis.StartServerAsync();
        return redis;
    }

    public async Task StartServerAsync()
    {
        _process = Process.Start(new ProcessStartInfo("redis-server",
            ["--bind", "127.0.0.1", "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--dir", _dir, "--save", "", "--appendonly", "no"])
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;
        _process.OutputDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        await WaitForPortAsync(Port, open: true);
    }

    /// <summary>Kills the server the hard way (no goodbye to clients).</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false } p)
        {
            p.Kill();
            await p.WaitForExitAsync();
        }

        _process?.Dispose();
        _process = null;
        await WaitForPortAsync(Port, open: false);
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        Directory.Delete(_dir, recursive: true);
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    internal static async Task WaitForPortAsync(int port, bool open)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            using var client = new TcpClient();
            bool connected;
            try
            {
                await client.ConnectAsync(IPAddress.Loopback, port);
                connected = true;
            }
            catch (SocketException)
            {
                connected = false;
            }

            if (connected == open)
            {
                return;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"Port {port} did not become {(open ? "open" : "closed")}.");
    }
}

/// <summary>
/// A PostgreSQL cluster of this test alone (initdb into a temporary directory, trust authentication
/// on loopback), stoppable and restartable. Its tools run as the <c>postgres</c> user when the
/// tests run as root, since PostgreSQL refuses to run as root.
/// </summary>
internal sealed class PrivatePostgres : IAsyncDisposable
{
    private const string BinDirectory = "/usr/lib/postgresql/15/bin";
    private readonly string _dir;

    private PrivatePostgres(string dir) => _dir = dir;

    public int Port { get; } = PrivateRedis.FreePort();

    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Timeout=3;Command Timeout=5";

    public static string? Unavailable =>
        File.Exists(Path.Combine(BinDirectory, "initdb")) ? null : $"PostgreSQL tools not found in {BinDirectory}";

    public static async Task<PrivatePostgres> StartAsync()
    {
        var dir = Path.Combine(Path.GetTempPath(), "apex-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        var pg = new PrivatePostgres(dir);
        if (IsRoot)
        {
            await RunAsync("chown", "postgres:postgres", dir);
        }

        await RunPgAsync("initdb", "-D", Path.Combine(dir, "data"), "-U", "postgres", "--auth=trust", "--no-sync");
        await pg.StartServerAsync();
        return pg;
    }

    public async Task StartServerAsync()
    {
        await RunPgAsync("pg_ctl", "-D", Path.Combine(_dir, "data"), "-w", "-t", "60", "-l", Path.Combine(_dir, "server.log"),
            "-o", $"-p {Port} -c listen_addresses=127.0.0.1 -k {_dir} -c fsync=off -c max_connections=200", "start");
    }

    /// <summary>Stops the server at once, ending every session (as a crash or a failover would).</summary>
    public Task StopServerAsync() => RunPgAsync("pg_ctl", "-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "stop");

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopServerAsync();
        }
        catch (InvalidOperationException)
        {
            // Already stopped.
        }

        Directory.Delete(_dir, recursive: true);
    }

    private static bool IsRoot => Environment.UserName == "root";

    private static Task RunPgAsync(string tool, params string[] args) =>
        IsRoot ? RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(BinDirectory, tool), .. args]) : RunAsync(Path.Combine(BinDirectory, tool), args);

    private static async Task RunAsync(string file, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(file, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(cts.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({process.ExitCode}): {await stderr}{await stdout}");
        }
    }
}
