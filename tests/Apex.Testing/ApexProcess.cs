using System.Diagnostics;
using System.Text;

namespace Apex.Testing;

/// <summary>
/// The real <c>apex</c> command (the built apex.dll) as a separate process: a command run to its end,
/// or <c>apex serve</c> kept running with its console output collected.
/// </summary>
public sealed class ApexProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output;
    private bool _disposed;

    private ApexProcess(Process process, StringBuilder output, Uri baseAddress)
    {
        _process = process;
        _output = output;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    /// <summary>What the server wrote to stdout and stderr so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Runs <c>apex</c> with <paramref name="args"/>, writes <paramref name="stdin"/> as given, and waits for it to exit.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(IEnumerable<string> args, string? stdin = null, TimeSpan? timeout = null)
    {
        using var process = Start(args, redirectInput: true);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }

        process.StandardInput.Close();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(50));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Starts <c>apex serve</c> on a free loopback port and returns once it listens.</summary>
    public static async Task<ApexProcess> StartAsync(IEnumerable<string> settings, CancellationToken ct)
    {
        var process = Start(["serve", "--urls", "http://127.0.0.1:0", .. settings], redirectInput: false);
        var output = new StringBuilder();
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                listening.TrySetException(new InvalidOperationException("apex serve exited:\n" + output));
                return;
            }

            lock (output)
            {
                output.AppendLine(e.Data);
            }

            const string marker = "Now listening on: ";
            var at = e.Data.IndexOf(marker, StringComparison.Ordinal);
            if (at >= 0)
            {
                listening.TrySetResult(new Uri(e.Data[(at + marker.Length)..].Trim()));
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (output)
                {
                    output.AppendLine(e.Data);
                }
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var address = await listening.Task.WaitAsync(TimeSpan.FromSeconds(60), ct);
            return new ApexProcess(process, output, address);
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

    /// <summary>SIGKILL: the process ends at once, no shutdown code of Apex runs.</summary>
    public void Kill()
    {
        _process.Kill();
        _process.WaitForExit();
    }

    public ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return ValueTask.CompletedTask;
        }

        _disposed = true;
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
        return ValueTask.CompletedTask;
    }

    private static Process Start(IEnumerable<string> args, bool redirectInput)
    {
        var dll = typeof(Apex.Server.ApexHost).Assembly.Location;
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = redirectInput,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        return Process.Start(start)!;
    }
}
