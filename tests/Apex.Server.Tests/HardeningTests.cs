using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Apex.Testing;

namespace Apex.Server.Tests;

/// <summary>HTTP hardening of every role (issue 14): status order, caching, discovery, metrics, files.</summary>
public sealed class HardeningTests
{
    [Theory(Timeout = 60_000)]
    [InlineData("POST", "/api/threads")]
    [InlineData("PATCH", "/api/threads/thr_x")]
    [InlineData("POST", "/api/threads/thr_x/messages")]
    [InlineData("POST", "/api/runs/run_x/cancel")]
    [InlineData("POST", "/api/datasets")]
    [InlineData("POST", "/auth/logout")]
    public async Task A_wrong_content_type_without_a_token_answers_401_not_415(string method, string path)
    {
        await using var server = await ApexTestServer.StartAsync();
        using var request = new HttpRequestMessage(new HttpMethod(method), path)
        {
            Content = new StringContent("<x/>", Encoding.UTF8, "application/xml"),
        };
        using var response = await server.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact(Timeout = 60_000)]
    public async Task Authenticated_answers_and_token_answers_are_not_cacheable()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        using var client = server.CreateClient(user);
        foreach (var path in new[] { "/api/threads", "/auth/me", "/api/threads/thr_missing", "/api/datasets", "/api/config/public" })
        {
            using var response = await client.GetAsync(new Uri(path, UriKind.Relative));
            Assert.True(response.Headers.CacheControl?.NoStore == true, $"{path} ({(int)response.StatusCode}) has Cache-Control '{response.Headers.CacheControl}'");
        }

        using var login = await server.Client.PostAsync(new Uri("/auth/login", UriKind.Relative),
            new StringContent(JsonSerializer.Serialize(new { email = user.Email, password = user.Password }), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        Assert.True(login.Headers.CacheControl?.NoStore == true);
    }

    [Fact(Timeout = 60_000)]
    public async Task Patch_with_an_empty_json_body_answers_422_problem()
    {
        await using var server = await ApexTestServer.StartAsync();
        var user = await server.RegisterUserAsync();
        using var client = server.CreateClient(user);
        using var created = await client.PostAsync(new Uri("/api/threads", UriKind.Relative), new StringContent("{}", Encoding.UTF8, "application/json"));
        var id = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString();

        using var request = new HttpRequestMessage(HttpMethod.Patch, $"/api/threads/{id}") { Content = new ByteArrayContent([]) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await client.SendAsync(request);
        Assert.Equal((HttpStatusCode)422, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.True(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.TryGetProperty("errors", out _));
    }

    [Fact(Timeout = 60_000)]
    public async Task Discovery_and_public_config_never_take_the_host_header()
    {
        // Any Host accepted, no public URL: the listening address is the only trusted source.
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?> { ["AllowedHosts"] = "*" });
        foreach (var path in new[] { "/.well-known/openid-configuration", "/api/config/public" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Host = "evil.example";
            using var response = await server.Client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.DoesNotContain("evil.example", text, StringComparison.Ordinal);
            Assert.Contains(server.BaseAddress.Authority, text, StringComparison.Ordinal);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task A_host_off_the_allowed_list_gets_a_400_problem()
    {
        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?> { ["AllowedHosts"] = "127.0.0.1;localhost" });
        using var request = new HttpRequestMessage(HttpMethod.Get, "/.well-known/openid-configuration");
        request.Headers.Host = "evil.example";
        using var response = await server.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain("evil.example", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact(Timeout = 60_000)]
    public async Task Production_refuses_to_start_without_a_public_url_or_allowed_hosts()
    {
        var error = await Assert.ThrowsAnyAsync<Exception>(() => ApexTestServer.StartAsync(
            new Dictionary<string, string?> { ["AllowedHosts"] = "*" }, environment: "Production"));
        Assert.Contains("Apex:PublicUrl", error.ToString(), StringComparison.Ordinal);

        await using var withUrl = await ApexTestServer.StartAsync(
            new Dictionary<string, string?> { ["AllowedHosts"] = "*", ["Apex:PublicUrl"] = "https://apex.example.com" }, environment: "Production");
        using var discovery = await withUrl.Client.GetAsync(new Uri("/.well-known/openid-configuration", UriKind.Relative));
        Assert.Equal("https://apex.example.com/.well-known/jwks.json",
            JsonDocument.Parse(await discovery.Content.ReadAsStringAsync()).RootElement.GetProperty("jwks_uri").GetString());

        await using var withHosts = await ApexTestServer.StartAsync(
            new Dictionary<string, string?> { ["AllowedHosts"] = "127.0.0.1;apex.internal" }, environment: "Production");
        using var health = await withHosts.Client.GetAsync(new Uri("/health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact(Timeout = 60_000)]
    public async Task Metrics_are_off_the_public_port_in_production_unless_configured()
    {
        await using (var plain = await ApexTestServer.StartAsync(
            new Dictionary<string, string?> { ["Apex:PublicUrl"] = "https://apex.example.com" }, environment: "Production"))
        {
            using var response = await plain.Client.GetAsync(new Uri("/metrics", UriKind.Relative));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        await using (var withToken = await ApexTestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Apex:PublicUrl"] = "https://apex.example.com",
            ["Service:Metrics:BearerToken"] = "metrics-token-0123456789abcdef",
        }, environment: "Production"))
        {
            using (var anonymous = await withToken.Client.GetAsync(new Uri("/metrics", UriKind.Relative)))
            {
                Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            }

            using var client = withToken.CreateClient("metrics-token-0123456789abcdef");
            using var response = await client.GetAsync(new Uri("/metrics", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains("# TYPE", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        var port = FreePort();
        await using var withPort = await ApexTestServer.StartAsync(new Dictionary<string, string?>
        {
            ["Apex:PublicUrl"] = "https://apex.example.com",
            ["Service:Metrics:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["urls"] = $"http://127.0.0.1:0;http://127.0.0.1:{port}",
        }, environment: "Production");
        using (var onPublic = await withPort.Client.GetAsync(new Uri("/metrics", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.NotFound, onPublic.StatusCode);
        }

        // The port is the listening socket's, not the Host header's.
        using (var spoofed = new HttpRequestMessage(HttpMethod.Get, "/metrics"))
        {
            spoofed.Headers.Host = $"127.0.0.1:{port}";
            using var response = await withPort.Client.SendAsync(spoofed);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        using var management = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        using var metrics = await management.GetAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
    }

    [Fact(Timeout = 60_000)]
    public async Task The_data_directory_is_0700_and_the_database_files_0600()
    {
        if (OperatingSystem.IsWindows() || ApexTestServer.UsesPostgres)
        {
            return;
        }

        var parent = Directory.CreateTempSubdirectory("apex-perm-").FullName;
        await using var server = await ApexTestServer.StartAsync(dataDir: Path.Combine(parent, "data"));
        await server.RegisterUserAsync();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(server.DataDir));

        // SQLite's side files (write-ahead log and its index, or the rollback journal) take the
        // database file's mode: hold a write transaction open in WAL mode and look at them.
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(server.DataDir, "apex.db")};Pooling=False");
        await connection.OpenAsync();
        await using (var wal = connection.CreateCommand())
        {
            wal.CommandText = "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS perm_probe (x INTEGER); INSERT INTO perm_probe VALUES (1);";
            await wal.ExecuteNonQueryAsync();
        }

        var files = Directory.GetFiles(server.DataDir, "apex.db*");
        Assert.Contains(files, f => f.EndsWith("apex.db-wal", StringComparison.Ordinal));
        Assert.Contains(files, f => f.EndsWith("apex.db-shm", StringComparison.Ordinal));
        foreach (var file in files)
        {
            Assert.True(File.GetUnixFileMode(file) == (UnixFileMode.UserRead | UnixFileMode.UserWrite), $"{file}: {File.GetUnixFileMode(file)}");
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task The_sqlite_database_runs_in_write_ahead_log_mode()
    {
        if (ApexTestServer.UsesPostgres)
        {
            return;
        }

        // The file is created 0600 before EF Core sees it, so EF Core's own switch to WAL for files it
        // creates never runs; in rollback-journal mode readers and writers block each other and
        // concurrent runs fail to store events with "database is locked" (found by bench/Apex.Bench.Soak).
        await using var server = await ApexTestServer.StartAsync();
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(server.DataDir, "apex.db")};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", (string?)await command.ExecuteScalarAsync());
    }

    [Fact(Timeout = 60_000)]
    public async Task A_write_that_waits_out_a_locked_sqlite_database_answers_503_not_500()
    {
        if (ApexTestServer.UsesPostgres)
        {
            return;
        }

        await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?> { ["Database:CommandTimeoutSeconds"] = "1" });
        var user = await server.RegisterUserAsync();
        using var client = server.CreateClient(user);

        // Another writer holds the database (as many concurrent runs can on a loaded machine).
        await using var holder = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(server.DataDir, "apex.db")};Pooling=False");
        await holder.OpenAsync();
        await using (var begin = holder.CreateCommand())
        {
            begin.CommandText = "BEGIN EXCLUSIVE;";
            await begin.ExecuteNonQueryAsync();
        }

        using var response = await client.PostAsync(new Uri("/api/threads", UriKind.Relative),
            new StringContent("{\"title\":\"locked\"}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.NotNull(response.Headers.RetryAfter);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_shared_directory_like_tmp_is_never_tightened()
    {
        if (OperatingSystem.IsWindows() || ApexTestServer.UsesPostgres)
        {
            return;
        }

        // Design-time tools point SQLite at the temporary directory: its mode belongs to everyone.
        const UnixFileMode shared = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute | UnixFileMode.StickyBit;
        var dir = Directory.CreateTempSubdirectory("apex-shared-").FullName;
        File.SetUnixFileMode(dir, shared);
        Apex.Hosting.Database.Configure(new Microsoft.EntityFrameworkCore.DbContextOptionsBuilder(),
            new Apex.Hosting.ApexOptions { DataDir = dir }, new Apex.Hosting.DatabaseOptions(), "__migrations_probe");

        Assert.Equal(shared, File.GetUnixFileMode(dir));
        Directory.Delete(dir, recursive: true);
    }

    /// <summary>
    /// A URL or headers over Apex's limits (Http:MaxRequestTargetBytes, Http:MaxRequestHeadersBytes)
    /// reach the application, which answers 414 / 431 with problem JSON and closes the connection.
    /// </summary>
    [Theory(Timeout = 60_000)]
    [InlineData("URL longer than the limit", 414)]
    [InlineData("headers larger than the limit", 431)]
    public async Task Requests_over_apex_limits_get_414_or_431_problem_json(string what, int status)
    {
        await using var server = await ApexTestServer.StartAsync();
        var host = $"Host: {server.BaseAddress.Authority}\r\n";
        var request = what == "URL longer than the limit"
            ? $"GET /health/live?q={new string('a', 10_000)} HTTP/1.1\r\n" + host + "\r\n"
            : "GET /health/live HTTP/1.1\r\n" + host + $"X-Large: {new string('a', 40_000)}\r\n\r\n";
        var answer = await RawExchangeAsync(server.BaseAddress, request);
        var head = answer.Split("\r\n\r\n", 2);
        Assert.StartsWith($"HTTP/1.1 {status} ", head[0], StringComparison.Ordinal);
        Assert.Contains("application/problem+json", head[0], StringComparison.OrdinalIgnoreCase);
        Assert.Contains("\r\nConnection: close", head[0], StringComparison.OrdinalIgnoreCase);
        // The body may come chunked: the JSON object is between its first and last brace.
        using var problem = JsonDocument.Parse(head[1][head[1].IndexOf('{', StringComparison.Ordinal)..(head[1].LastIndexOf('}') + 1)]);
        Assert.Equal(status, problem.RootElement.GetProperty("status").GetInt32());
        Assert.Contains(status == 414 ? "URL is longer than 8192 bytes" : "headers are larger than 32768 bytes", problem.RootElement.GetProperty("detail").GetString(), StringComparison.Ordinal);
        // Nothing of the request comes back.
        Assert.DoesNotContain("aaaaaaaa", head[1], StringComparison.Ordinal);

        // Just under the limits, the same server serves the request.
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        using var ok = new HttpRequestMessage(HttpMethod.Get, $"/health/live?q={new string('a', 8_000)}");
        ok.Headers.Add("X-Large", new string('a', 30_000));
        using var served = await http.SendAsync(ok);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
    }

    /// <summary>
    /// Requests Kestrel itself refuses while reading the request line and headers: malformed ones, and
    /// ones over its ceilings (far above Apex's own limits). It writes the answer during connection
    /// teardown, before any middleware or other application code runs (there is no hook for it: the
    /// exception handler, status code pages and connection features never see the request; only a
    /// connection middleware rewriting Kestrel's output bytes could add one, which Apex does not do),
    /// so these answers carry the right status and Connection: close but no body, not problem JSON.
    /// This test pins that down; should Kestrel ever let an application shape them, it fails and the
    /// answers can be made problem JSON like every other error.
    /// </summary>
    [Theory(Timeout = 60_000)]
    [InlineData("bad request line", 400)]
    [InlineData("header without a colon", 400)]
    [InlineData("URL longer than the request line ceiling", 414)]
    [InlineData("headers larger than the header ceiling", 431)]
    public async Task Requests_kestrel_refuses_before_the_application_get_the_status_and_an_empty_body(string what, int status)
    {
        await using var server = await ApexTestServer.StartAsync();
        var host = $"Host: {server.BaseAddress.Authority}\r\n";
        var request = what switch
        {
            "bad request line" => "GET /api/threads HTTP/1.1 trailing\r\n" + host + "\r\n",
            "header without a colon" => "GET /health/live HTTP/1.1\r\n" + host + "NoColonHere\r\n\r\n",
            "URL longer than the request line ceiling" => $"GET /health/live?q={new string('a', 70_000)} HTTP/1.1\r\n" + host + "\r\n",
            _ => "GET /health/live HTTP/1.1\r\n" + host + $"X-Large: {new string('a', 270_000)}\r\n\r\n",
        };
        var answer = await RawExchangeAsync(server.BaseAddress, request);
        var head = answer.Split("\r\n\r\n", 2);
        Assert.StartsWith($"HTTP/1.1 {status} ", head[0], StringComparison.Ordinal);
        Assert.Contains("\r\nContent-Length: 0", head[0], StringComparison.OrdinalIgnoreCase);
        Assert.Contains("\r\nConnection: close", head[0], StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Content-Type", head[0], StringComparison.OrdinalIgnoreCase);
        Assert.Equal(string.Empty, head.Length > 1 ? head[1] : string.Empty);

        // The same server answers a request that reaches the application with problem JSON.
        var reached = await RawExchangeAsync(server.BaseAddress, "GET /api/no/such/route HTTP/1.1\r\n" + host + "Connection: close\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 404 ", reached, StringComparison.Ordinal);
        Assert.Contains("application/problem+json", reached, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Writes raw bytes on a fresh connection and reads until the server closes it.</summary>
    private static async Task<string> RawExchangeAsync(Uri baseAddress, string request)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(baseAddress.Host, baseAddress.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var read = new MemoryStream();
        var buffer = new byte[8192];
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer)) > 0)
            {
                read.Write(buffer, 0, n);
            }
        }
        catch (IOException)
        {
            // A reset after the answer (the server closed while request bytes were still unread).
        }

        return Encoding.ASCII.GetString(read.ToArray());
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
