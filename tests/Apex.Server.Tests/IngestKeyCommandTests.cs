using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using Apex.Testing;

namespace Apex.Server.Tests;

/// <summary><c>apex ingest-key add|list|revoke</c> run as real processes on a data directory a real server uses.</summary>
public sealed partial class IngestKeyCommandTests
{

    [Fact(Timeout = 180_000)]
    public async Task A_key_made_by_the_command_line_sends_spans_until_the_command_line_revokes_it()
    {
        var dataDir = Directory.CreateTempSubdirectory("apex-cli-ingest-").FullName;
        var data = $"--Apex:DataDir={dataDir}";
        var (code, _, stderr) = await RunAsync(AuthTestExtensions.DefaultPassword + "\n", "user", "add", "--email", "ops@example.com", data);
        Assert.True(code == 0, stderr);

        (code, var stdout, stderr) = await RunAsync(null, "ingest-key", "add", "--email", "ops@example.com", "--name", "prod-app", data);
        Assert.True(code == 0, stderr);
        var key = Assert.Single(KeyPattern().Matches(stdout)).Value;
        Assert.Contains("created ingest key", stderr, StringComparison.Ordinal);

        (code, stdout, _) = await RunAsync(null, "ingest-key", "list", "--email", "ops@example.com", data);
        Assert.Equal(0, code);
        var line = Assert.Single(stdout.Split('\n'), l => l.StartsWith("ik_", StringComparison.Ordinal));
        var columns = line.Split('\t');
        Assert.Equal("prod-app", columns[1]);
        Assert.Equal(key[..12] + "…", columns[2]);
        Assert.DoesNotContain(key, stdout, StringComparison.Ordinal);

        (code, _, stderr) = await RunAsync(null, "ingest-key", "add", "--email", "nobody@example.com", "--name", "x", data);
        Assert.Equal(3, code);
        Assert.Contains("no such account", stderr, StringComparison.Ordinal);

        await using var server = await ApexTestServer.StartAsync(dataDir: dataDir);
        var span = "{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":\"chat\",\"startTimeUnixNano\":\""
            + (DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeMilliseconds() * 1_000_000) + "\",\"attributes\":["
            + "{\"key\":\"gen_ai.request.model\",\"value\":{\"stringValue\":\"gpt-4o\"}},"
            + "{\"key\":\"gen_ai.usage.input_tokens\",\"value\":{\"intValue\":\"10\"}},"
            + "{\"key\":\"gen_ai.usage.output_tokens\",\"value\":{\"intValue\":\"5\"}}]}]}]}]}";
        Assert.Equal(HttpStatusCode.OK, await PostAsync(server, key, span));

        (code, stdout, stderr) = await RunAsync(null, "ingest-key", "revoke", columns[0], data);
        Assert.True(code == 0, stderr);
        Assert.Contains("revoked " + columns[0], stdout, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, await PostAsync(server, key, span));

        (code, _, stderr) = await RunAsync(null, "ingest-key", "revoke", "ik_missing", data);
        Assert.Equal(3, code);
        Assert.Contains("no such ingest key", stderr, StringComparison.Ordinal);
    }

    private static async Task<HttpStatusCode> PostAsync(ApexTestServer server, string key, string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/traces") { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await server.Client.SendAsync(request);
        return response.StatusCode;
    }

    private static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string? stdin, params string[] args) =>
        ApexProcess.RunAsync(args, stdin);

    [GeneratedRegex("apx_ik_[A-Za-z0-9_-]{43}")]
    private static partial Regex KeyPattern();
}
