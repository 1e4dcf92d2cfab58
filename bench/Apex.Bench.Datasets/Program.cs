using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Apex.Agents.Runtime;
using Apex.Contracts;
using Apex.Testing;
using Microsoft.Extensions.DependencyInjection;
using nietras.SeparatedValues;
using Spectre.Console;

// Datasets and analysis benchmark: a 1,000,000-row usage CSV through the real server (upload over
// HTTP, parse, store in SQLite) and the real agent (load from the database, every tool, the plan and
// the report), against the baseline of parsing the same file with Sep and doing nothing else.
// Usage: dotnet run -c Release --project bench/Apex.Bench.Datasets [-- rows]
var rows = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
var work = Directory.CreateTempSubdirectory("apex-bench-");
var csvPath = Path.Combine(work.FullName, "usage.csv");
using var overall = new CancellationTokenSource(TimeSpan.FromMinutes(5));
var ct = overall.Token;

try
{
    var generate = Stopwatch.StartNew();
    var bytes = Generator.Write(csvPath, rows);
    AnsiConsole.MarkupLine($"Generated {rows:N0} rows ({bytes / 1024d / 1024d:N1} MB) in {generate.Elapsed.TotalSeconds:N1} s: {csvPath}");

    var results = new List<(string Phase, TimeSpan Time, TimeSpan Cpu, long PeakWorkingSet, long PeakManaged, string Note)>();

    // Baseline: Sep over the same file, touching every column and nothing else. Best of three.
    var baseline = TimeSpan.MaxValue;
    var baselineMemory = default(MemoryPeak.Result);
    long cols = 0;
    for (var i = 0; i < 3; i++)
    {
        using var peak = MemoryPeak.Start();
        var watch = Stopwatch.StartNew();
        cols = 0;
        using (var reader = Sep.Reader(o => o with { Unescape = true }).FromFile(csvPath))
        {
            foreach (var row in reader)
            {
                for (var c = 0; c < row.ColCount; c++)
                {
                    cols += row[c].Span.Length;
                }
            }
        }

        watch.Stop();
        if (watch.Elapsed < baseline)
        {
            baseline = watch.Elapsed;
            baselineMemory = peak.Stop();
        }
    }

    results.Add(("Baseline: Sep parse only", baseline, baselineMemory.Cpu, baselineMemory.WorkingSet, baselineMemory.Managed, $"{cols:N0} chars read"));

    // The upload path alone (format recognition, validation, pricing, encoding), in-process.
    {
        GC.Collect();
        using var peak = MemoryPeak.Start();
        var watch = Stopwatch.StartNew();
        await using var file = File.OpenRead(csvPath);
        var parsed = await new Apex.Agents.Data.Import.UsageImporter(Apex.Agents.Catalog.PriceCatalog.LoadBuiltIn(), TimeProvider.System).ImportAsync(file, null, ct);
        watch.Stop();
        var m = peak.Stop();
        results.Add(("Parse + validate + encode (in-process)", watch.Elapsed, m.Cpu, m.WorkingSet, m.Managed,
            $"{parsed.Rows:N0} rows, {parsed.Chunks.Sum(c => (long)c.Length) / 1024d / 1024d:N1} MB compressed"));
    }

    await using var server = await ApexTestServer.StartAsync(new Dictionary<string, string?>
    {
        ["Datasets:MaxUploadBytes"] = (bytes + 1024 * 1024).ToString(CultureInfo.InvariantCulture),
        ["Logging:LogLevel:Default"] = "Warning",
    }, ct: ct);
    var user = await server.RegisterUserAsync(ct: ct);
    using var client = server.CreateClient(user);
    client.Timeout = TimeSpan.FromMinutes(4);

    // Upload + parse + store, over HTTP into the real server.
    string datasetId;
    {
        GC.Collect();
        using var peak = MemoryPeak.Start();
        var watch = Stopwatch.StartNew();
        await using var file = File.OpenRead(csvPath);
        using var content = new MultipartFormDataContent();
        var part = new StreamContent(file, 1 << 16);
        part.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        content.Add(part, "file", "usage.csv");
        using var response = await client.PostAsync("/api/datasets", content, ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        watch.Stop();
        if ((int)response.StatusCode != 201)
        {
            throw new InvalidOperationException($"Upload failed: {(int)response.StatusCode} {body}");
        }

        using var json = JsonDocument.Parse(body);
        datasetId = json.RootElement.GetProperty("id").GetString()!;
        var stored = json.RootElement.GetProperty("rows").GetInt32();
        var m = peak.Stop();
        results.Add(("Upload + parse + store (HTTP, SQLite)", watch.Elapsed, m.Cpu, m.WorkingSet, m.Managed, $"{stored:N0} rows stored"));
    }

    // Full analysis: the real agent over the stored dataset (load, every tool, plan, report, answer).
    var runtime = server.Services.GetRequiredService<IAgentRuntime>();
    var best = TimeSpan.MaxValue;
    var analysisMemory = default(MemoryPeak.Result);
    string summary = "";
    var toolLine = "";
    for (var i = 0; i < 2; i++)
    {
        GC.Collect();
        using var peak = MemoryPeak.Start();
        var watch = Stopwatch.StartNew();
        var request = new AgentRunRequest
        {
            RunId = ApexIds.New(ApexIds.Run), ThreadId = ApexIds.New(ApexIds.Thread), UserId = user.Id,
            UserText = "Analyse the usage file I uploaded and give me a 4-week plan.", DatasetId = datasetId,
        };
        AgentEvent? last = null;
        var tools = 0;
        var toolTimes = new List<string>();
        await foreach (var e in runtime.RunAsync(request, ct))
        {
            last = e;
            if (e.Type == EventTypes.ToolCompleted)
            {
                tools++;
                toolTimes.Add($"{e.Payload.GetProperty("tool_name").GetString()} {e.Payload.GetProperty("duration_ms").GetInt64()} ms");
            }
        }

        watch.Stop();
        var m = peak.Stop();
        if (last is null || !last.IsTerminal || last.Type != EventTypes.AgentCompleted)
        {
            throw new InvalidOperationException("The run did not complete.");
        }

        summary = last.Payload.GetProperty("report").GetProperty("summary").GetString() ?? "";
        if (watch.Elapsed < best)
        {
            best = watch.Elapsed;
            analysisMemory = m;
            toolLine = string.Join(", ", toolTimes);
        }

        _ = tools;
    }

    results.Add(("Full analysis (agent run, 7 tools)", best, analysisMemory.Cpu, analysisMemory.WorkingSet, analysisMemory.Managed, "best of 2"));

    var baselineCpu = results[0].Cpu;
    var table = new Table().AddColumns("Phase", "Wall", "CPU", "Wall vs parse", "CPU vs parse", "Peak WS", "Peak heap", "Note");
    foreach (var (phase, time, cpu, ws, managed, note) in results)
    {
        table.AddRow(phase, $"{time.TotalMilliseconds:N0} ms", $"{cpu.TotalMilliseconds:N0} ms", $"{time / baseline:N2}x", $"{cpu / baselineCpu:N2}x",
            $"{ws / 1024d / 1024d:N0} MB", $"{managed / 1024d / 1024d:N0} MB", Markup.Escape(note));
    }

    AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 160);
    AnsiConsole.Write(table);
    AnsiConsole.MarkupLine($"Report summary: {Markup.Escape(summary)}");
    AnsiConsole.MarkupLine($"Tool wall times in the best analysis run: {Markup.Escape(toolLine)}");
    AnsiConsole.MarkupLine($"Process peak working set overall: {Process.GetCurrentProcess().PeakWorkingSet64 / 1024d / 1024d:N0} MB; {Environment.ProcessorCount} cores; .NET {Environment.Version}");
}
finally
{
    try
    {
        work.Delete(recursive: true);
    }
    catch (IOException)
    {
        // Left for the OS temp cleaner.
    }
}

/// <summary>Samples the process working set and managed heap every 5 ms while a phase runs.</summary>
internal sealed class MemoryPeak : IDisposable
{
    private readonly Thread _thread;
    private volatile bool _stop;
    private long _workingSet;
    private long _managed;

    private readonly TimeSpan _cpuStart = Process.GetCurrentProcess().TotalProcessorTime;

    private MemoryPeak()
    {
        _thread = new Thread(() =>
        {
            using var process = Process.GetCurrentProcess();
            while (!_stop)
            {
                process.Refresh();
                _workingSet = Math.Max(_workingSet, process.WorkingSet64);
                _managed = Math.Max(_managed, GC.GetTotalMemory(false));
                Thread.Sleep(5);
            }
        })
        {
            IsBackground = true,
        };
        _thread.Start();
    }

    /// <summary>CPU is the process's (all threads): on a shared machine it is steadier than wall time.</summary>
    public readonly record struct Result(long WorkingSet, long Managed, TimeSpan Cpu);

    public static MemoryPeak Start() => new();

    public Result Stop()
    {
        _stop = true;
        _thread.Join();
        return new Result(_workingSet, _managed, Process.GetCurrentProcess().TotalProcessorTime - _cpuStart);
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join();
    }
}

/// <summary>A realistic week of usage: five models, twelve features, repeats, failures, long prompts and batch jobs.</summary>
internal static class Generator
{
    private static readonly string[] Models = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4", "gpt-4.1-mini", "in-house-7b"];
    private static readonly string[] Features =
        ["support-chat", "search", "summarise-ticket", "nightly-report", "classify-intent", "draft-reply", "extract-fields",
         "code-review", "translate", "batch-embeddings-prep", "sales-email", "qa-bot"];

    public static long Write(string path, int rows)
    {
        var random = new Random(42);
        var start = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        var span = 7L * 24 * 3600 * 1000;
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
        writer.Write("timestamp,model,input_tokens,output_tokens,cached_input_tokens,latency_ms,cost_usd,feature,prompt_hash,status,user_tier,interactive\n");
        var line = new StringBuilder(256);
        for (var i = 0; i < rows; i++)
        {
            var ts = DateTimeOffset.FromUnixTimeMilliseconds(start + span * i / rows);
            var feature = Features[random.Next(Features.Length)];
            var model = Models[random.Next(100) switch { < 35 => 0, < 65 => 1, < 80 => 2, < 95 => 3, _ => 4 }];
            var input = feature is "nightly-report" or "summarise-ticket" ? 1500 + random.Next(3000) : 200 + random.Next(1200);
            var output = random.Next(100) < 3 ? 2000 + random.Next(4000) : 50 + random.Next(400);
            var cached = random.Next(100) < 20 ? input / 2 : 0;
            var prompt = random.Next(100) < 15 ? random.Next(2000) : random.Next(10_000_000);
            line.Clear();
            line.Append(ts.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)).Append(',')
                .Append(model).Append(',').Append(input).Append(',').Append(output).Append(',').Append(cached).Append(',')
                .Append(150 + random.Next(3000)).Append(',')
                .Append(model == "in-house-7b" && random.Next(2) == 0 ? (input * 0.0000002).ToString("0.########", CultureInfo.InvariantCulture) : string.Empty).Append(',')
                .Append(feature).Append(',').Append('h').Append(prompt.ToString("x", CultureInfo.InvariantCulture)).Append(',')
                .Append(random.Next(100) < 2 ? "error" : "ok").Append(',')
                .Append(random.Next(3) switch { 0 => "free", 1 => "pro", _ => "enterprise" }).Append(',')
                .Append(feature == "nightly-report" ? "false" : "true").Append('\n');
            writer.Write(line);
        }

        writer.Flush();
        return writer.BaseStream.Length;
    }
}
