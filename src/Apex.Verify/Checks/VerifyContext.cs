using System.Diagnostics;
using System.Net.WebSockets;
using Apex.Verify.Probe;

namespace Apex.Verify.Checks;

/// <summary>A signed-in probe user as the auth service described it.</summary>
internal sealed record ProbeSession(string Email, string? Password, string AccessToken, string? RefreshToken, string? UserId);

/// <summary>The endpoints the checks talk to, resolved from the options and the public config.</summary>
internal sealed class Endpoints
{
    public required Uri Api { get; init; }
    public Uri Auth { get; set; } = null!;
    public Uri Ws { get; set; } = null!;
    public required Uri Web { get; init; }
    public required bool WebExplicit { get; init; }
    public bool AuthExplicit { get; init; }
    public bool WsExplicit { get; init; }

    public static string Origin(Uri uri) => uri.GetLeftPart(UriPartial.Authority);

    public Uri ApiPath(string path) => new(Api, path);
    public Uri AuthPath(string path) => new(Auth, path);

    /// <summary>The WebSocket URL with resume parameters.</summary>
    public Uri WsWith(string? query) => query is null ? Ws : new UriBuilder(Ws) { Query = query }.Uri;

    /// <summary>http(s) origin serving the WebSocket endpoint, for its health.</summary>
    public Uri WsHttpOrigin => new UriBuilder(Ws) { Scheme = Ws.Scheme == "wss" ? "https" : "http", Path = "/", Query = string.Empty }.Uri;

    /// <summary>ws://host/ws from an http base, or the given ws URL (with /ws added when it has no path).</summary>
    public static Uri NormaliseWs(Uri uri)
    {
        var builder = new UriBuilder(uri);
        builder.Scheme = uri.Scheme switch
        {
            "https" or "wss" => "wss",
            _ => "ws",
        };
        if (builder.Port == (uri.Scheme == "https" ? 443 : 80) && uri.IsDefaultPort)
        {
            builder.Port = -1;
        }

        if (builder.Path is "" or "/")
        {
            builder.Path = "/ws";
        }

        return builder.Uri;
    }

    /// <summary>A base URL always ends with '/', so relative paths resolve under it.</summary>
    public static Uri NormaliseBase(Uri uri) =>
        uri.AbsolutePath.EndsWith('/') ? uri : new UriBuilder(uri) { Path = uri.AbsolutePath + "/" }.Uri;
}

/// <summary>State shared by the checks of one iteration, and the bookkeeping of their results.</summary>
internal sealed class VerifyContext : IAsyncDisposable
{
    private readonly List<CheckResult> _results = [];
    private readonly Dictionary<string, string> _facts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _missing = new(StringComparer.Ordinal);
    private readonly IVerifyProgress _progress;
    private readonly Secrets _secrets;

    public VerifyContext(VerifySettings settings, Endpoints endpoints, ProbeHttp http, IReadOnlySet<string> phases, IVerifyProgress progress, Secrets secrets, ProbeAccounts accounts)
    {
        Settings = settings;
        Endpoints = endpoints;
        Http = http;
        Phases = phases;
        _progress = progress;
        _secrets = secrets;
        Accounts = accounts;
    }

    public VerifySettings Settings { get; }
    public Endpoints Endpoints { get; }
    public ProbeHttp Http { get; }
    public IReadOnlySet<string> Phases { get; }
    public ProbeAccounts Accounts { get; }
    public IReadOnlyList<CheckResult> Results => _results;

    public string? ConnectionError { get; set; }
    public string? ServerVersion { get; set; }
    public ProbeSession? UserA { get; set; }
    public ProbeSession? UserB { get; set; }
    public string? ThreadId { get; set; }

    /// <summary>User B's socket, open while user A's runs go, for the isolation phase.</summary>
    public ProbeSocket? Observer { get; set; }
    public TimeSpan ObserverOpenedAt { get; set; }

    /// <summary>Runs and threads of user A that the isolation phase looks for in user B's stream.</summary>
    public HashSet<string> UserARuns { get; } = new(StringComparer.Ordinal);
    public HashSet<string> UserAThreads { get; } = new(StringComparer.Ordinal);

    public void Remember(string? secret) => _secrets.Add(secret);

    public string Redact(string text) => _secrets.Redact(text);

    /// <summary>
    /// Runs one timed check. It is skipped (and says why) when a fact it needs was not established by
    /// an earlier check; on pass it establishes <paramref name="provides"/>.
    /// </summary>
    public async Task<bool> CheckAsync(
        string id, string title, Func<CheckScope, Task<string>> body, CancellationToken ct, string[]? needs = null, string? provides = null)
    {
        var phase = id[..id.IndexOf('.', StringComparison.Ordinal)];
        _progress.CheckStarted(id, title);
        foreach (var need in needs ?? [])
        {
            // A fact whose check was not selected (--only) is assumed; one whose check failed is not.
            if (!_facts.ContainsKey(need) && _missing.TryGetValue(need, out var reason))
            {
                Record(id, phase, title, CheckStatus.Skip, TimeSpan.Zero, reason);
                if (provides is not null)
                {
                    _missing[provides] = $"needs {provides}: {id} was skipped";
                }

                return false;
            }
        }

        var scope = new CheckScope();
        var stopwatch = Stopwatch.StartNew();
        CheckStatus status;
        string detail;
        try
        {
            detail = await body(scope);
            status = CheckStatus.Pass;
        }
        catch (CheckFailedException ex)
        {
            (status, detail) = (CheckStatus.Fail, ex.Message);
        }
        catch (CheckSkippedException ex)
        {
            (status, detail) = (CheckStatus.Skip, ex.Message);
        }
        catch (ProbeConnectionException ex)
        {
            (status, detail) = (CheckStatus.Fail, ex.Message);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or System.Text.Json.JsonException or HttpRequestException or IOException)
        {
            (status, detail) = (CheckStatus.Fail, $"{ex.GetType().Name}: {ex.Message}");
        }

        var elapsed = scope.Measured ?? stopwatch.Elapsed;
        var threshold = Settings.Thresholds.For(id, phase);
        if (status == CheckStatus.Pass && threshold is { } max && elapsed.TotalMilliseconds > max)
        {
            status = CheckStatus.Slow;
            detail += $" (over the {max:0} ms threshold)";
        }

        Record(id, phase, title, status, elapsed, detail, threshold);
        if (provides is not null)
        {
            if (status is CheckStatus.Pass or CheckStatus.Slow)
            {
                _facts[provides] = id;
            }
            else
            {
                _missing[provides] = status == CheckStatus.Fail ? $"needs {provides}: {id} failed" : $"needs {provides}: {id} was skipped";
            }
        }

        return status is CheckStatus.Pass or CheckStatus.Slow;
    }

    /// <summary>Reports a check as skipped without running it (a phase that does not apply).</summary>
    public void Skip(string id, string title, string reason, string? provides = null)
    {
        _progress.CheckStarted(id, title);
        Record(id, id[..id.IndexOf('.', StringComparison.Ordinal)], title, CheckStatus.Skip, TimeSpan.Zero, reason);
        if (provides is not null)
        {
            _missing[provides] = reason;
        }
    }

    public bool Has(string fact) => _facts.ContainsKey(fact);

    /// <summary>True when the fact's check ran and did not pass (as opposed to not being selected).</summary>
    public bool Lacks(string fact) => _missing.ContainsKey(fact);

    public string? WhyMissing(string fact) => _missing.GetValueOrDefault(fact);

    private void Record(string id, string phase, string title, CheckStatus status, TimeSpan elapsed, string detail, double? threshold = null)
    {
        var result = new CheckResult
        {
            Id = id,
            Phase = phase,
            Title = title,
            Status = status,
            Duration = elapsed,
            ThresholdMs = threshold,
            Detail = Redact(detail.ReplaceLineEndings(" ")),
        };
        _results.Add(result);
        _progress.CheckFinished(result);
    }

    public async ValueTask DisposeAsync()
    {
        if (Observer is not null)
        {
            await Observer.DisposeAsync();
            Observer = null;
        }
    }
}

/// <summary>Lets a check report the quantity it measures instead of its own wall time.</summary>
internal sealed class CheckScope
{
    public TimeSpan? Measured { get; set; }
}

/// <summary>Every token and password the probe handles, so that no report or console line shows one.</summary>
internal sealed class Secrets
{
    private readonly HashSet<string> _values = new(StringComparer.Ordinal);

    public void Add(string? secret)
    {
        if (!string.IsNullOrEmpty(secret))
        {
            lock (_values)
            {
                _values.Add(secret);
            }
        }
    }

    public string Redact(string text)
    {
        lock (_values)
        {
            foreach (var secret in _values)
            {
                text = text.Replace(secret, "[redacted]", StringComparison.Ordinal);
            }
        }

        return text;
    }
}

/// <summary>
/// Probe accounts kept across iterations of <c>--repeat</c>: registered once, signed in after.
/// </summary>
internal sealed class ProbeAccounts
{
    public (string Email, string Password)? First { get; set; }
    public (string Email, string Password)? Second { get; set; }
}
