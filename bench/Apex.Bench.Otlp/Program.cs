using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Apex.Testing;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Spectre.Console;

// OTLP ingest benchmark: GenAI spans sent by the OpenTelemetry .NET SDK (OTLP/HTTP protobuf exporter,
// batches of 512) to (1) a bare Kestrel endpoint that only decodes the same ExportTraceServiceRequest
// (the ceiling of HTTP + protobuf on this machine) and (2) Apex's /v1/traces on a real server (key
// check, decode, GenAI mapping, pricing, append to the live dataset in SQLite, budget check), in one
// process on loopback. Usage: dotnet run -c Release --project bench/Apex.Bench.Otlp [-- spans [exporters]]
var spans = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 100_000;
var exporters = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2;
using var overall = new CancellationTokenSource(TimeSpan.FromMinutes(8));
var ct = overall.Token;
var results = new List<(string Label, int Spans, double Wall, double Cpu)>();

// (1) Baseline: decode only.
long decoded = 0;
var bare = WebApplication.CreateSlimBuilder();
bare.WebHost.UseUrls("http://127.0.0.1:0");
bare.Logging.ClearProviders();
await using (var app = bare.Build())
{
    var empty = new ExportTraceServiceResponse().ToByteArray();
    app.MapPost("/v1/traces", async (HttpContext http) =>
    {
        using var buffer = new MemoryStream();
        await http.Request.Body.CopyToAsync(buffer, http.RequestAborted);
        var request = ExportTraceServiceRequest.Parser.ParseFrom(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
        var n = 0;
        foreach (var resource in request.ResourceSpans)
        {
            foreach (var scope in resource.ScopeSpans)
            {
                n += scope.Spans.Count;
            }
        }

        Interlocked.Add(ref decoded, n);
        http.Response.ContentType = "application/x-protobuf";
        await http.Response.Body.WriteAsync(empty, http.RequestAborted);
    });
    await app.StartAsync(ct);
    var url = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/v1/traces");
    await SendAsync(url, "none", spans / 10, exporters, ct); // warm-up
    decoded = 0;
    var (wall, cpu) = await SendAsync(url, "none", spans, exporters, ct);
    if (Interlocked.Read(ref decoded) != spans)
    {
        throw new InvalidOperationException($"The baseline decoded {decoded} spans of {spans}.");
    }

    results.Add(("bare Kestrel, decode only (ceiling)", spans, wall, cpu));
    await app.StopAsync(ct);
}

// (2) Apex.
await using (var server = await ApexTestServer.StartAsync(new Dictionary<string, string?>
{
    ["Logging:LogLevel:Default"] = "Warning",
    ["Live:RequestsPerSecond"] = "100000",
    ["Live:Burst"] = "100000",
}, ct: ct))
{
    var user = await server.RegisterUserAsync(ct: ct);
    using var client = server.CreateClient(user);
    var url = new Uri(server.BaseAddress, "/v1/traces");
    async Task<(string Key, string Dataset)> KeyAsync(string name)
    {
        using var created = await client.PostAsJsonAsync("/api/ingest-keys", new { name }, ct);
        created.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await created.Content.ReadAsStringAsync(ct));
        return (json.RootElement.GetProperty("key").GetString()!, json.RootElement.GetProperty("dataset_id").GetString()!);
    }

    var warm = await KeyAsync("warm-up");
    await SendAsync(url, warm.Key, spans / 10, exporters, ct);
    var (key, dataset) = await KeyAsync("bench");
    var (wall, cpu) = await SendAsync(url, key, spans, exporters, ct);
    using var info = await client.GetAsync($"/api/datasets/{dataset}", ct);
    using var summary = JsonDocument.Parse(await info.Content.ReadAsStringAsync(ct));
    var stored = summary.RootElement.GetProperty("rows").GetInt32();
    if (stored != spans)
    {
        throw new InvalidOperationException($"Apex stored {stored} rows of {spans} spans.");
    }

    results.Add(("Apex POST /v1/traces", spans, wall, cpu));
}

AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 140);
var table = new Table().AddColumns("target", "spans", "wall s", "CPU s", "spans/s", "spans/s per core (CPU)", "vs ceiling");
var ceiling = results[0].Spans / results[0].Cpu;
foreach (var (label, n, wall, cpu) in results)
{
    table.AddRow(label, n.ToString("N0", CultureInfo.InvariantCulture), wall.ToString("N2", CultureInfo.InvariantCulture), cpu.ToString("N2", CultureInfo.InvariantCulture),
        (n / wall).ToString("N0", CultureInfo.InvariantCulture), (n / cpu).ToString("N0", CultureInfo.InvariantCulture), $"{n / cpu / ceiling:P0}");
}

AnsiConsole.Write(table);
AnsiConsole.MarkupLine($"{Environment.ProcessorCount} cores, {exporters} concurrent SDK exporters, batches of 512 spans; CPU = this process (client SDK + server), load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}.");
return 0;

// Emits the spans through the SDK (each exporter its own tracer provider, as separate app instances
// are) and waits until every batch is acknowledged; returns wall and process CPU seconds.
static async Task<(double Wall, double Cpu)> SendAsync(Uri url, string key, int spans, int exporters, CancellationToken ct)
{
    using var process = Process.GetCurrentProcess();
    var cpuBefore = process.TotalProcessorTime;
    var watch = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, exporters).Select(e => Task.Run(() =>
    {
        var name = $"bench.{e}.{Guid.NewGuid():N}";
        using var source = new ActivitySource(name);
        using var provider = Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(ResourceBuilder.CreateEmpty().AddService(e % 2 == 0 ? "support-chat" : "faq-bot"))
            .AddSource(name)
            .SetSampler(new AlwaysOnSampler())
            .AddOtlpExporter(o =>
            {
                o.Protocol = OtlpExportProtocol.HttpProtobuf;
                o.Endpoint = url;
                o.Headers = "Authorization=Bearer " + key;
                o.ExportProcessorType = ExportProcessorType.Batch;
                o.BatchExportProcessorOptions = new BatchExportProcessorOptions<Activity>
                {
                    MaxQueueSize = 8192,
                    MaxExportBatchSize = 512,
                    ScheduledDelayMilliseconds = 50,
                };
            })
            .Build()!;
        var share = spans / exporters + (e < spans % exporters ? 1 : 0);
        var start = DateTimeOffset.UtcNow.AddMinutes(-1);
        string[] models = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4"];
        for (var i = 0; i < share; i++)
        {
            ct.ThrowIfCancellationRequested();
            using (var activity = source.StartActivity("chat", ActivityKind.Client, default(ActivityContext), startTime: start))
            {
                activity!.SetTag("gen_ai.operation.name", "chat");
                activity.SetTag("gen_ai.request.model", models[i % 3]);
                activity.SetTag("gen_ai.usage.input_tokens", 800 + (i % 400));
                activity.SetTag("gen_ai.usage.output_tokens", 100 + (i % 200));
                activity.SetEndTime(start.AddMilliseconds(300 + (i % 900)).UtcDateTime);
            }

            // Flush before the queue (8,192) fills so no span is dropped: the SDK drops, it does not block.
            if ((i + 1) % 4096 == 0 && !provider.ForceFlush(120_000))
            {
                throw new InvalidOperationException("An export flush timed out.");
            }
        }

        if (!provider.ForceFlush(120_000))
        {
            throw new InvalidOperationException("The last export flush timed out.");
        }
    }, ct)));
    watch.Stop();
    process.Refresh();
    return (watch.Elapsed.TotalSeconds, (process.TotalProcessorTime - cpuBefore).TotalSeconds);
}
