using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Apex.Auth.Passwords;
using Apex.Auth.Tokens;
using Apex.Server;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

// `dotnet run -c Release --project bench/Apex.Bench.Auth [--seconds 8] [--concurrency 32]`
// Everything runs on loopback in this process: the Apex auth node, a bare Kestrel endpoint as the
// ceiling of the stack, and the load generator. Bounded: about a minute with the defaults.
var seconds = ArgInt(args, "--seconds", 8);
var concurrency = ArgInt(args, "--concurrency", 32);
var duration = TimeSpan.FromSeconds(seconds);
var dataDir = Directory.CreateTempSubdirectory("apex-bench-auth-").FullName;
var rows = new List<string[]>();
var profile = new List<string[]>();

try
{
    await using var apex = ApexHost.Build(
    [
        "--urls=http://127.0.0.1:0",
        "--environment=Production",
        $"--Apex:DataDir={dataDir}",
        "--Apex:Role=Auth",
        "--Logging:LogLevel:Default=Warning",
        "--Auth:Abuse:PerIpPerMinute=100000000",
        "--Auth:Abuse:PerAccountPerMinute=100000000",
        "--Auth:Abuse:FailuresBeforeLockout=1000",
    ]);
    await ApexHost.PrepareAsync(apex);
    await apex.StartAsync();
    var apexUrl = AddressOf(apex);

    using var client = NewClient(concurrency);
    const string email = "bench@example.com";
    const string password = "a benchmark passphrase 2026";
    using (var register = await client.PostAsJsonAsync(new Uri(apexUrl, "/auth/register"), new { email, password }))
    {
        register.EnsureSuccessStatusCode();
    }

    var token = await LoginAsync(client, apexUrl, email, password);
    using var validateProbe = await SendValidateAsync(client, new Uri(apexUrl, "/auth/validate"), token);
    var validateBody = await validateProbe.Content.ReadAsByteArrayAsync();
    if (validateProbe.StatusCode != HttpStatusCode.OK)
    {
        throw new InvalidOperationException($"/auth/validate answered {(int)validateProbe.StatusCode}: {Encoding.UTF8.GetString(validateBody)}");
    }

    // 1. Local validation on one core: the validator every protected request runs. Distinct tokens
    // pay the ES256 signature check each time; a token seen before hits the verified-signature cache.
    var validator = apex.Services.GetRequiredService<IAccessTokenValidator>();
    var tokenService = apex.Services.GetRequiredService<TokenService>();
    var distinct = new List<string>();
    for (var i = 0; i < 20_000; i++)
    {
        var minted = await tokenService.CreateAsync("access", "usr_bench", email, "ses_bench", DateTimeOffset.UtcNow.AddMinutes(15), CancellationToken.None);
        distinct.Add(minted.Token);
    }

    var coldRate = await Task.Factory.StartNew(() => LocalValidationRate(validator, distinct, TimeSpan.FromSeconds(3)), TaskCreationOptions.LongRunning);
    var warmRate = await Task.Factory.StartNew(() => LocalValidationRate(validator, [token], TimeSpan.FromSeconds(3)), TaskCreationOptions.LongRunning);
    rows.Add(["local validation, distinct tokens (1 core)", Rate(coldRate), "tokens/s", "", ""]);
    rows.Add(["local validation, repeated token (1 core)", Rate(warmRate), "tokens/s", "", ""]);

    // 2. The same JSON from a bare Kestrel endpoint: the ceiling of the HTTP stack on this machine.
    await using var bare = BareServer.Build(validateBody);
    await bare.StartAsync();
    var bareUrl = new Uri(AddressOf(bare), "/validate");
    var validateUrl = new Uri(apexUrl, "/auth/validate");

    await Load.RunAsync(client, () => SendValidateAsync(client, bareUrl, token), concurrency, TimeSpan.FromSeconds(2));
    await Load.RunAsync(client, () => SendValidateAsync(client, validateUrl, token), concurrency, TimeSpan.FromSeconds(2));
    var bareResult = await Load.RunAsync(client, () => SendValidateAsync(client, bareUrl, token), concurrency, duration);
    var validateResult = await Load.RunAsync(client, () => SendValidateAsync(client, validateUrl, token), concurrency, duration);
    rows.Add(["bare Kestrel, same JSON (ceiling)", Rate(bareResult.PerSecond), "req/s", Ms(bareResult.P50), Ms(bareResult.P99)]);
    rows.Add(["POST /auth/validate (Bearer)", Rate(validateResult.PerSecond), "req/s", Ms(validateResult.P50), Ms(validateResult.P99)]);
    rows.Add(["  /auth/validate vs ceiling", (validateResult.PerSecond / bareResult.PerSecond).ToString("P0", CultureInfo.InvariantCulture), "", "", ""]);

    // 3. Refresh-token rotation with reuse detection: each worker owns one session and presents the
    // refresh token it was given last, as a client does; every answer is a new pair (one conditional
    // UPDATE on the session row, two ES256 signatures). The ceiling is the bare endpoint answering
    // a refresh answer's bytes. Sessions come from real logins (the hash makes those slow, so the
    // workers are few; rotation is bound by the database write, not by the worker count).
    var refreshWorkers = Math.Min(concurrency, 8);
    var refreshUrl = new Uri(apexUrl, "/auth/refresh");
    var refreshTokens = new string[refreshWorkers];
    for (var w = 0; w < refreshWorkers; w++)
    {
        refreshTokens[w] = await LoginRefreshTokenAsync(client, apexUrl, email, password);
    }

    var firstRefreshToken = refreshTokens[0];
    using var refreshProbe = await client.PostAsJsonAsync(refreshUrl, new { refresh_token = refreshTokens[0] });
    var refreshBody = await refreshProbe.Content.ReadAsByteArrayAsync();
    refreshProbe.EnsureSuccessStatusCode();
    refreshTokens[0] = JsonDocument.Parse(refreshBody).RootElement.GetProperty("refresh_token").GetString()!;
    await using var bareRefresh = BareServer.Build(refreshBody);
    await bareRefresh.StartAsync();
    var bareRefreshUrl = new Uri(AddressOf(bareRefresh), "/validate");
    async Task<HttpResponseMessage> RotateAsync(int worker)
    {
        var response = await client.PostAsJsonAsync(refreshUrl, new { refresh_token = refreshTokens[worker] });
        if (response.IsSuccessStatusCode)
        {
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            refreshTokens[worker] = json.RootElement.GetProperty("refresh_token").GetString()!;
        }

        return response;
    }

    var refreshLocks = Enumerable.Range(0, refreshWorkers).Select(_ => new SemaphoreSlim(1, 1)).ToArray();
    async Task<HttpResponseMessage> RotateOneAsync()
    {
        // Any free session: a session is never presented twice at once (that would be reuse).
        while (true)
        {
            for (var w = 0; w < refreshWorkers; w++)
            {
                if (refreshLocks[w].Wait(0))
                {
                    try
                    {
                        return await RotateAsync(w);
                    }
                    finally
                    {
                        refreshLocks[w].Release();
                    }
                }
            }

            await Task.Yield();
        }
    }

    await Load.RunAsync(client, () => client.PostAsync(bareRefreshUrl, new ByteArrayContent([])), refreshWorkers, TimeSpan.FromSeconds(2));
    await Load.RunAsync(client, RotateOneAsync, refreshWorkers, TimeSpan.FromSeconds(2));
    var bareRefreshResult = await Load.RunAsync(client, () => client.PostAsync(bareRefreshUrl, new ByteArrayContent([])), refreshWorkers, duration);
    var refreshCpu = Process.GetCurrentProcess().TotalProcessorTime;
    var refreshResult = await Load.RunAsync(client, RotateOneAsync, refreshWorkers, duration);
    refreshCpu = Process.GetCurrentProcess().TotalProcessorTime - refreshCpu;
    rows.Add([$"bare Kestrel, refresh answer's bytes ({refreshWorkers} concurrent)", Rate(bareRefreshResult.PerSecond), "req/s", Ms(bareRefreshResult.P50), Ms(bareRefreshResult.P99)]);
    rows.Add([$"POST /auth/refresh, rotation ({refreshWorkers} concurrent)", Rate(refreshResult.PerSecond), "refreshes/s", Ms(refreshResult.P50), Ms(refreshResult.P99)]);
    rows.Add(["  refreshes per second of CPU (whole process)", Rate(refreshResult.PerSecond * duration.TotalSeconds / refreshCpu.TotalSeconds), "refreshes/s", "", ""]);
    rows.Add(["  /auth/refresh vs ceiling", (refreshResult.PerSecond / bareRefreshResult.PerSecond).ToString("P0", CultureInfo.InvariantCulture), "", "", ""]);

    // Reuse detection still holds after the run: the first token of session 0 was rotated away, so
    // presenting it again is refused and ends that session.
    using (var reuse = await client.PostAsJsonAsync(refreshUrl, new { refresh_token = firstRefreshToken }))
    using (var afterReuse = await client.PostAsJsonAsync(refreshUrl, new { refresh_token = refreshTokens[0] }))
    {
        Console.Error.WriteLine($"reuse check: old token answered {(int)reuse.StatusCode}, the session's current token then answered {(int)afterReuse.StatusCode} (401 and 401 expected)");
        if (reuse.StatusCode != HttpStatusCode.Unauthorized || afterReuse.StatusCode != HttpStatusCode.Unauthorized)
        {
            throw new InvalidOperationException("Refresh-token reuse was not detected.");
        }
    }

    if (refreshResult.Failures > 0)
    {
        Console.Error.WriteLine($"non-2xx refresh answers: {refreshResult.Failures}");
    }

    await bareRefresh.StopAsync();

    // 3b. Where a rotation's time goes: each step alone on one thread in this process, no HTTP. The
    // full in-process rotation is SessionService.RefreshAsync in its own DI scope, as a request runs it.
    var profileRefresh = await LoginRefreshTokenAsync(client, apexUrl, email, password);
    var scopes = apex.Services.GetRequiredService<IServiceScopeFactory>();
    var profileVerify = await tokenService.CheckAsync(profileRefresh, "refresh", CancellationToken.None);
    var profileUserId = profileVerify.Token?.UserId ?? throw new InvalidOperationException("The profile session's refresh token was refused: " + profileVerify.Failure);
    profile.Add(await Profile.RunAsync("verify one refresh token (ES256, claims)", 1_000, async () =>
    {
        var (ok, failure) = await tokenService.CheckAsync(profileRefresh, "refresh", CancellationToken.None);
        _ = ok ?? throw new InvalidOperationException(failure);
    }));
    profile.Add(await Profile.RunAsync("sign one token (ES256)", 1_000, async () =>
        await tokenService.CreateAsync("refresh", profileUserId, email, "ses_bench", DateTimeOffset.UtcNow.AddDays(1), CancellationToken.None)));
    profile.Add(await Profile.RunAsync("DI scope + open and close the pooled database connection", 1_000, async () =>
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Apex.Auth.Data.AuthDbContext>();
        await db.Database.OpenConnectionAsync();
        await db.Database.CloseConnectionAsync();
    }));
    profile.Add(await Profile.RunAsync("DI scope + AuthDbContext ready, connection not opened", 1_000, async () =>
    {
        await using var scope = scopes.CreateAsyncScope();
        _ = scope.ServiceProvider.GetRequiredService<Apex.Auth.Data.AuthDbContext>().Database.GetDbConnection();
        await Task.CompletedTask;
    }));
    var profileSession = (await tokenService.CheckAsync(profileRefresh, "refresh", CancellationToken.None)).Token!.SessionId!;
    await using (var scope = scopes.CreateAsyncScope())
    {
        // One open connection, so that the rows below differ only in the commit: SQLite's own setting
        // as Apex runs it, then synchronous = NORMAL (no fsync per commit in WAL mode) for comparison.
        var db = scope.ServiceProvider.GetRequiredService<Apex.Auth.Data.AuthDbContext>();
        await db.Database.OpenConnectionAsync();
        await using var pragma = db.Database.GetDbConnection().CreateCommand();
        pragma.CommandText = "PRAGMA synchronous;";
        var synchronous = Convert.ToInt64(await pragma.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
        Task OneUpdate() => db.Sessions.Where(x => x.Id == profileSession && x.RevokedAt == null)
            .ExecuteUpdateAsync(x => x.SetProperty(r => r.CurrentTokenId, r => r.CurrentTokenId));
        profile.Add(await Profile.RunAsync($"one conditional UPDATE of a session row and its commit (synchronous = {synchronous})", 1_000, OneUpdate));
        pragma.CommandText = "PRAGMA synchronous = NORMAL;";
        await pragma.ExecuteNonQueryAsync();
        try
        {
            profile.Add(await Profile.RunAsync("the same UPDATE with synchronous = NORMAL (for comparison only)", 1_000, OneUpdate));
        }
        finally
        {
            // The pooled connection goes back to the pool with Apex's setting.
            pragma.CommandText = $"PRAGMA synchronous = {synchronous};";
            await pragma.ExecuteNonQueryAsync();
        }

        await db.Database.CloseConnectionAsync();
    }

    profile.Add(await Profile.RunAsync("DI scope + one EF Core point read (the user)", 1_000, async () =>
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Apex.Auth.Data.AuthDbContext>();
        _ = await db.Users.AsNoTracking().Where(u => u.Id == profileUserId).FirstAsync();
    }));
    profile.Add(await Profile.RunAsync("whole rotation in process (SessionService.RefreshAsync)", 1_000, async () =>
    {
        await using var scope = scopes.CreateAsyncScope();
        var (pair, failure) = await scope.ServiceProvider.GetRequiredService<SessionService>().RefreshAsync(profileRefresh, CancellationToken.None);
        profileRefresh = pair?.Refresh.Token ?? throw new InvalidOperationException("An in-process rotation was refused: " + failure);
    }));

    // 4. Login at the configured hash cost (PBKDF2-HMAC-SHA512).
    var passwords = apex.Services.GetRequiredService<PasswordService>();
    var hash = passwords.Hash(password);
    var hashWatch = Stopwatch.StartNew();
    var verifies = 0;
    while (hashWatch.Elapsed < TimeSpan.FromSeconds(2))
    {
        passwords.Verify(hash, password);
        verifies++;
    }

    rows.Add([$"password verify, {passwords.Iterations:N0} iterations (1 core)", Rate(verifies / hashWatch.Elapsed.TotalSeconds), "hashes/s", "", ""]);
    var loginUrl = new Uri(apexUrl, "/auth/login");
    var loginResult = await Load.RunAsync(client, async () =>
    {
        var response = await client.PostAsJsonAsync(loginUrl, new { email, password });
        return response;
    }, Environment.ProcessorCount, duration);
    rows.Add([$"POST /auth/login ({Environment.ProcessorCount} concurrent)", Rate(loginResult.PerSecond), "logins/s", Ms(loginResult.P50), Ms(loginResult.P99)]);
    if (loginResult.Failures > 0 || validateResult.Failures > 0 || bareResult.Failures > 0)
    {
        Console.Error.WriteLine($"non-2xx answers: login {loginResult.Failures}, validate {validateResult.Failures}, bare {bareResult.Failures}");
    }

    await bare.StopAsync();
    await apex.StopAsync();
}
finally
{
    try
    {
        Directory.Delete(dataDir, recursive: true);
    }
    catch (IOException)
    {
        // Left to the OS temp cleaner.
    }
}

Console.WriteLine();
Console.WriteLine($"Apex auth benchmark: {Environment.ProcessorCount} cores, {RuntimeInfo()}, {concurrency} concurrent HTTP/1.1 connections, {seconds} s per HTTP row");
if (File.Exists("/proc/loadavg"))
{
    // Numbers from a busy machine are only comparable within the same run.
    Console.WriteLine($"load average at the end of the run: {File.ReadAllText("/proc/loadavg").Trim()}");
}

Table.Print(["measurement", "rate", "unit", "p50 ms", "p99 ms"], rows);
Console.WriteLine();
Console.WriteLine("Refresh rotation, step by step (one thread, in process, no HTTP):");
Console.WriteLine();
Table.Print(["step", "wall µs/op", "process CPU µs/op"], profile);
return 0;

static double LocalValidationRate(IAccessTokenValidator validator, IReadOnlyList<string> tokens, TimeSpan duration)
{
    if (tokens.Count == 1)
    {
        for (var i = 0; i < 2_000; i++)
        {
            _ = validator.ValidateAsync(tokens[0], CancellationToken.None).AsTask().GetAwaiter().GetResult();
        }
    }

    var count = 0;
    var watch = Stopwatch.StartNew();
    while (watch.Elapsed < duration && (tokens.Count == 1 || count < tokens.Count))
    {
        for (var i = 0; i < 100; i++)
        {
            var token = tokens[(count + i) % tokens.Count];
            var result = validator.ValidateAsync(token, CancellationToken.None).AsTask().GetAwaiter().GetResult();
            if (!result.IsValid)
            {
                throw new InvalidOperationException("The benchmark token was refused: " + result.FailureReason);
            }
        }

        count += 100;
    }

    return count / watch.Elapsed.TotalSeconds;
}

static async Task<string> LoginAsync(HttpClient client, Uri baseUrl, string email, string password)
{
    using var response = await client.PostAsJsonAsync(new Uri(baseUrl, "/auth/login"), new { email, password });
    response.EnsureSuccessStatusCode();
    using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
    return json.RootElement.GetProperty("access_token").GetString()!;
}

static async Task<string> LoginRefreshTokenAsync(HttpClient client, Uri baseUrl, string email, string password)
{
    using var response = await client.PostAsJsonAsync(new Uri(baseUrl, "/auth/login"), new { email, password });
    response.EnsureSuccessStatusCode();
    using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
    return json.RootElement.GetProperty("refresh_token").GetString()!;
}

static Task<HttpResponseMessage> SendValidateAsync(HttpClient client, Uri url, string token)
{
    var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent([]) };
    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
    return client.SendAsync(request);
}

static HttpClient NewClient(int connections) => new(new SocketsHttpHandler
{
    MaxConnectionsPerServer = connections,
    PooledConnectionLifetime = TimeSpan.FromMinutes(10),
    UseCookies = false,
    UseProxy = false,
})
{
    Timeout = TimeSpan.FromSeconds(30),
};

static Uri AddressOf(WebApplication app) =>
    new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

static string Rate(double perSecond) => perSecond.ToString("N0", CultureInfo.InvariantCulture);

static string Ms(double ms) => ms.ToString("F2", CultureInfo.InvariantCulture);

static string RuntimeInfo() => System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription;

static int ArgInt(string[] args, string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], CultureInfo.InvariantCulture, out var v) ? v : fallback;
}

/// <summary>A Kestrel app with nothing but one endpoint answering fixed bytes: the HTTP ceiling.</summary>
internal static class BareServer
{
    public static WebApplication Build(byte[] body)
    {
        var builder = WebApplication.CreateSlimBuilder(["--urls=http://127.0.0.1:0", "--Logging:LogLevel:Default=Warning"]);
        var app = builder.Build();
        app.MapPost("/validate", async context =>
        {
            context.Response.ContentType = "application/json; charset=utf-8";
            context.Response.ContentLength = body.Length;
            await context.Response.Body.WriteAsync(body);
        });
        return app;
    }
}

/// <summary>Times one step of a rotation alone: wall time and the whole process's CPU time per call.</summary>
internal static class Profile
{
    public static async Task<string[]> RunAsync(string name, int count, Func<Task> step)
    {
        for (var i = 0; i < count / 10; i++)
        {
            await step();
        }

        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            await step();
        }

        watch.Stop();
        cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
        return [name, Us(watch.Elapsed.TotalMicroseconds / count), Us(cpu.TotalMicroseconds / count)];
    }

    private static string Us(double us) => us.ToString("N0", CultureInfo.InvariantCulture);
}

internal sealed record LoadResult(double PerSecond, double P50, double P99, long Failures);

/// <summary>Closed-loop load: each worker sends the next request when the previous answer is read.</summary>
internal static class Load
{
    public static async Task<LoadResult> RunAsync(HttpClient client, Func<Task<HttpResponseMessage>> send, int workers, TimeSpan duration)
    {
        var latencies = new List<double>[workers];
        long failures = 0;
        var stopAt = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var watch = Stopwatch.StartNew();
        var tasks = Enumerable.Range(0, workers).Select(async w =>
        {
            var mine = latencies[w] = new List<double>(100_000);
            while (Stopwatch.GetTimestamp() < stopAt)
            {
                var start = Stopwatch.GetTimestamp();
                using var response = await send();
                await response.Content.LoadIntoBufferAsync();
                mine.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                if (!response.IsSuccessStatusCode)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        }).ToArray();
        await Task.WhenAll(tasks);
        watch.Stop();
        var all = latencies.SelectMany(l => l).Order().ToArray();
        return new LoadResult(all.Length / watch.Elapsed.TotalSeconds, Percentile(all, 0.50), Percentile(all, 0.99), failures);
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}

internal static class Table
{
    public static void Print(string[] header, List<string[]> rows)
    {
        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Max(r => r[i].Length))).ToArray();
        string Line(string[] cells) => "| " + string.Join(" | ", cells.Select((c, i) => i == 0 ? c.PadRight(widths[i]) : c.PadLeft(widths[i]))) + " |";
        Console.WriteLine(Line(header));
        Console.WriteLine("|" + string.Join("|", widths.Select((w, i) => i == 0 ? new string('-', w + 2) : new string('-', w + 1) + ":")) + "|");
        foreach (var row in rows)
        {
            Console.WriteLine(Line(row));
        }
    }
}
