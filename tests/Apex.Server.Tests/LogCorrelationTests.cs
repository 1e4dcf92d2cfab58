using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Apex.Testing;

namespace Apex.Server.Tests;

/// <summary>The console logs of a real <c>apex serve</c> carry the trace a request belongs to.</summary>
public sealed class LogCorrelationTests
{
    [Fact(Timeout = 120_000)]
    public async Task A_request_with_a_traceparent_logs_under_that_trace_id()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(110));
        var dataDir = Directory.CreateTempSubdirectory("apex-logs-").FullName;
        await using var server = await ApexProcess.StartAsync(["--environment=Development", $"--Apex:DataDir={dataDir}"], cts.Token);
        using var http = new HttpClient { BaseAddress = server.BaseAddress };

        // A caller's trace (W3C traceparent): the registration's log line must name the same trace id,
        // so an operator can join Apex's logs to the caller's trace.
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        var spanId = ActivitySpanId.CreateRandom().ToHexString();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/auth/register", UriKind.Relative))
        {
            Content = JsonContent.Create(new { email = $"trace-{Guid.NewGuid():N}@example.com", password = "a long enough passphrase" }),
        };
        request.Headers.Add("traceparent", $"00-{traceId}-{spanId}-01");
        using var response = await http.SendAsync(request, cts.Token);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);

        string output;
        do
        {
            output = server.Output;
            if (output.Contains("Registered user", StringComparison.Ordinal))
            {
                break;
            }

            await Task.Delay(50, cts.Token);
        }
        while (true);

        // The console formatter writes the scopes on the line above the message: it names the trace.
        var lines = output.Split('\n');
        var registered = Array.FindIndex(lines, l => l.Contains("Registered user", StringComparison.Ordinal));
        Assert.True(registered > 0, output);
        Assert.Contains($"TraceId:{traceId}", lines[registered - 1], StringComparison.Ordinal);
        Assert.DoesNotContain("a long enough passphrase", output, StringComparison.Ordinal);
    }
}
