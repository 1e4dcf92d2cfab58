using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Apex.Testing;

/// <summary>
/// A real OpenID Connect provider (the certified <c>oidc-provider</c> npm package,
/// tests/Apex.Auth.Tests/oidc-idp/idp.mjs) in its own Node process on a free loopback port, with
/// one client whose redirect URI is an Apex server's <c>/auth/callback</c>.
/// </summary>
public sealed partial class OidcTestProvider : IAsyncDisposable
{
    public const string ClientId = "apex-test";
    public const string ClientSecret = "apex-test-client-secret-0123456789";

    private static readonly SemaphoreSlim InstallLock = new(1, 1);
    private readonly Dictionary<string, object> accounts;
    private Process? process;
    private string redirectUri = "";

    private OidcTestProvider(int port, Dictionary<string, object> accounts)
    {
        Port = port;
        this.accounts = accounts;
    }

    public int Port { get; }

    public string Issuer => $"http://127.0.0.1:{Port}";

    /// <summary>The kid the provider signs with now.</summary>
    public string KeyId { get; private set; } = "idp-key-1";

    /// <summary>Picks the port; <see cref="StartAsync"/> runs the provider once the Apex server's address is known.</summary>
    public static OidcTestProvider Create() => new(FreePort(), new Dictionary<string, object>(StringComparer.Ordinal));

    /// <summary>Configuration for an Apex server that signs in through this provider under <paramref name="name"/>.</summary>
    public Dictionary<string, string?> Settings(string name = "idp", string? displayName = "Test IdP") => new()
    {
        [$"Auth:Oidc:Providers:{name}:Authority"] = Issuer,
        [$"Auth:Oidc:Providers:{name}:ClientId"] = ClientId,
        [$"Auth:Oidc:Providers:{name}:ClientSecret"] = ClientSecret,
        [$"Auth:Oidc:Providers:{name}:DisplayName"] = displayName,
    };

    /// <summary>An account of the provider: signing in with <paramref name="login"/> gives these claims.</summary>
    public OidcTestProvider WithAccount(string login, string email, bool emailVerified = true, string? name = null)
    {
        accounts[login] = new Dictionary<string, object?> { ["email"] = email, ["email_verified"] = emailVerified, ["name"] = name };
        return this;
    }

    public async Task StartAsync(Uri apexBase, CancellationToken ct = default)
    {
        redirectUri = new Uri(apexBase, "/auth/callback").AbsoluteUri;
        await StartProcessAsync(ct);
    }

    /// <summary>Restarts the provider with a new signing key: its JWKS then holds only that key.</summary>
    public async Task RotateKeyAsync(string newKeyId, CancellationToken ct = default)
    {
        await StopAsync();
        KeyId = newKeyId;
        await StartProcessAsync(ct);
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    /// <summary>The folder of idp.mjs, with its npm packages installed.</summary>
    public static async Task<string> ScriptDirectoryAsync(CancellationToken ct = default)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "tests", "Apex.Auth.Tests", "oidc-idp", "idp.mjs")))
        {
            dir = dir.Parent;
        }

        var script = dir is null ? throw new InvalidOperationException("tests/Apex.Auth.Tests/oidc-idp/idp.mjs not found above the test binaries.")
            : Path.Combine(dir.FullName, "tests", "Apex.Auth.Tests", "oidc-idp");
        await InstallLock.WaitAsync(ct);
        try
        {
            if (!Directory.Exists(Path.Combine(script, "node_modules", "oidc-provider")))
            {
                // scripts/deps.sh installs it; this covers a test run without it.
                using var npm = Process.Start(new ProcessStartInfo("npm", "ci --no-audit --no-fund --loglevel=error") { WorkingDirectory = script })!;
                await npm.WaitForExitAsync(ct);
                if (npm.ExitCode != 0)
                {
                    throw new InvalidOperationException($"npm ci in {script} failed ({npm.ExitCode}).");
                }
            }
        }
        finally
        {
            InstallLock.Release();
        }

        return script;
    }

    private async Task StartProcessAsync(CancellationToken ct)
    {
        var script = await ScriptDirectoryAsync(ct);
        var info = new ProcessStartInfo("node", "idp.mjs")
        {
            WorkingDirectory = script,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.Environment["IDP_PORT"] = Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        info.Environment["IDP_KID"] = KeyId;
        info.Environment["IDP_ACCOUNTS"] = JsonSerializer.Serialize(accounts);
        info.Environment["IDP_CLIENTS"] = JsonSerializer.Serialize(new[]
        {
            new Dictionary<string, object> { ["client_id"] = ClientId, ["client_secret"] = ClientSecret, ["redirect_uris"] = new[] { redirectUri } },
        });
        var started = Process.Start(info) ?? throw new InvalidOperationException("node did not start.");
        process = started;
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        started.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.StartsWith("ready ", StringComparison.Ordinal) == true)
            {
                ready.TrySetResult();
            }
        };
        started.ErrorDataReceived += (_, _) => { };
        started.Exited += (_, _) => ready.TrySetException(new InvalidOperationException("The test identity provider exited before it was ready."));
        started.EnableRaisingEvents = true;
        started.BeginOutputReadLine();
        started.BeginErrorReadLine();
        await ready.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);
    }

    private async Task StopAsync()
    {
        if (process is { } p)
        {
            process = null;
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
                await p.WaitForExitAsync();
            }

            p.Dispose();
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// Signs in through the provider's own pages like a browser: follows redirects with the
    /// client's cookies, posts the login form (any password) and the consent form. Returns the
    /// first response that is not a redirect, or a redirect to <paramref name="stopAt"/>'s host
    /// with a fragment (the Apex hand-off) or, with <paramref name="stopAtCallback"/>, to its
    /// <c>/auth/callback</c> (a 302 stands for the response then).
    /// </summary>
    public static async Task<(Uri Url, HttpResponseMessage Response)> BrowseAsync(
        HttpClient client, Uri start, string login, Uri stopAt, bool stopAtCallback = false, CancellationToken ct = default)
    {
        var url = start;
        HttpContent? form = null;
        for (var hop = 0; hop < 20; hop++)
        {
            using var request = new HttpRequestMessage(form is null ? HttpMethod.Get : HttpMethod.Post, url) { Content = form };
            form = null;
            var response = await client.SendAsync(request, ct);
            if ((int)response.StatusCode is >= 300 and < 400 && response.Headers.Location is { } location)
            {
                url = new Uri(url, location);
                response.Dispose();
                if (url.Authority == stopAt.Authority && (!string.IsNullOrEmpty(url.Fragment) || (stopAtCallback && url.AbsolutePath == "/auth/callback")))
                {
                    return (url, new HttpResponseMessage(HttpStatusCode.Found));
                }

                continue;
            }

            if (response.StatusCode != HttpStatusCode.OK || url.Authority == stopAt.Authority)
            {
                return (url, response);
            }

            var html = await response.Content.ReadAsStringAsync(ct);
            var action = FormAction().Match(html);
            if (!action.Success)
            {
                return (url, response);
            }

            var fields = HiddenInput().Matches(html).ToDictionary(m => WebUtility.HtmlDecode(m.Groups["name"].Value), m => WebUtility.HtmlDecode(m.Groups["value"].Value));
            if (html.Contains("name=\"login\"", StringComparison.Ordinal))
            {
                fields["login"] = login;
                fields["password"] = "any password";
            }

            response.Dispose();
            url = new Uri(url, WebUtility.HtmlDecode(action.Groups["action"].Value));
            form = new FormUrlEncodedContent(fields);
        }

        throw new InvalidOperationException("Too many redirects while signing in at the provider.");
    }

    [GeneratedRegex("<form[^>]*action=\"(?<action>[^\"]+)\"")]
    private static partial Regex FormAction();

    [GeneratedRegex("<input type=\"hidden\" name=\"(?<name>[^\"]+)\" value=\"(?<value>[^\"]*)\"")]
    private static partial Regex HiddenInput();
}
