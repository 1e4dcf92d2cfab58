using Apex.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Apex.Testing;

/// <summary>
/// A real Apex server (the same composition as <c>apex serve</c>) on Kestrel, bound to a free
/// loopback port, with its own SQLite file in a temporary data directory.
/// </summary>
public sealed class ApexTestServer : IAsyncDisposable
{
    private ApexTestServer(WebApplication app, string dataDir, Uri baseAddress)
    {
        App = app;
        DataDir = dataDir;
        BaseAddress = baseAddress;
        Client = CreateClient();
    }

    public WebApplication App { get; }
    public string DataDir { get; }
    public Uri BaseAddress { get; }

    /// <summary>A client bound to <see cref="BaseAddress"/> with no default headers.</summary>
    public HttpClient Client { get; }

    public IServiceProvider Services => App.Services;

    /// <summary>ws://host:port, for WebSocket tests.</summary>
    public Uri WebSocketBase => new UriBuilder(BaseAddress) { Scheme = BaseAddress.Scheme == "https" ? "wss" : "ws" }.Uri;

    /// <param name="settings">Configuration keys, e.g. <c>["Auth:AccessTokenMinutes"] = "1"</c>.</param>
    /// <param name="configure">Service replacements (for example a scripted agent runtime).</param>
    /// <param name="dataDir">Reuse a data directory (restart tests); a new temporary one by default.</param>
    public static async Task<ApexTestServer> StartAsync(
        IDictionary<string, string?>? settings = null,
        Action<WebApplicationBuilder>? configure = null,
        string? dataDir = null,
        string environment = "Development",
        CancellationToken ct = default)
    {
        dataDir ??= Directory.CreateTempSubdirectory("apex-test-").FullName;
        var args = new List<string>
        {
            "--urls=http://127.0.0.1:0",
            $"--environment={environment}",
            $"--Apex:DataDir={dataDir}",
        };
        if (settings is not null)
        {
            args.AddRange(settings.Select(kv => $"--{kv.Key}={kv.Value}"));
        }

        var app = ApexHost.Build([.. args], configure);
        await ApexHost.PrepareAsync(app, ct);
        await app.StartAsync(ct);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new ApexTestServer(app, dataDir, new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal)));
    }

    public HttpClient CreateClient() => new() { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await App.StopAsync(cts.Token);
        await App.DisposeAsync();
        try
        {
            Directory.Delete(DataDir, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a pooled connection; the OS temp cleaner removes it later.
        }
    }
}
