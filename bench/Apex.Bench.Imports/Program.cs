using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Runtime;
using System.Text;
using System.Text.Json;
using Apex.Agents.Catalog;
using Apex.Agents.Data.Import;
using Apex.Testing;
using DuckDB.NET.Data;
using Spectre.Console;

// Imports benchmark: a 1,000,000-row LiteLLM spend-log CSV and a 1,000,000-line Helicone JSONL
// through Apex (the importer alone, and upload + parse + store over HTTP into a real server) beside
// DuckDB loading the same file into a table, all in the same run and the same process.
// Usage: dotnet run -c Release --project bench/Apex.Bench.Imports [-- rows [litellm|helicone]]
// (the second argument measures one file alone, in a fresh process)
var rows = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
var only = args.Length > 1 ? args[1] : null;
var started = Stopwatch.StartNew();
var budget = TimeSpan.FromMinutes(9);
using var overall = new CancellationTokenSource(budget);
var ct = overall.Token;
var work = Directory.CreateTempSubdirectory("apex-bench-imports-");

try
{
    var files = new List<(string Label, string Path, string ContentType, string DuckSql, long Bytes)>();
    {
        var csv = Path.Combine(work.FullName, "litellm_spend_logs.csv");
        var watch = Stopwatch.StartNew();
        var bytes = Generator.WriteLiteLlm(csv, rows);
        AnsiConsole.MarkupLine($"Generated LiteLLM spend logs: {rows:N0} rows, {bytes / 1024d / 1024d:N0} MB in {watch.Elapsed.TotalSeconds:N1} s");
        files.Add(("LiteLLM CSV", csv, "text/csv", $"CREATE TABLE t AS SELECT * FROM read_csv('{csv}')", bytes));

        var jsonl = Path.Combine(work.FullName, "helicone_export.jsonl");
        watch.Restart();
        bytes = Generator.WriteHelicone(jsonl, rows);
        AnsiConsole.MarkupLine($"Generated Helicone JSONL: {rows:N0} lines, {bytes / 1024d / 1024d:N0} MB in {watch.Elapsed.TotalSeconds:N1} s");
        files.Add(("Helicone JSONL", jsonl, "application/x-ndjson", $"CREATE TABLE t AS SELECT * FROM read_json('{jsonl}', format='newline_delimited')", bytes));
    }

    if (only is not null)
    {
        files.RemoveAll(f => !f.Label.StartsWith(only, StringComparison.OrdinalIgnoreCase));
        if (files.Count == 0)
        {
            throw new ArgumentException($"Unknown file '{only}': use litellm or helicone.");
        }
    }

    var results = new List<Row>();
    long idleWorkingSet = 0;

    // Apex first (both files), DuckDB after: the process working set is sampled, and native memory
    // DuckDB's allocator keeps after a run would otherwise sit under the Apex rows.
    var importer = new UsageImporter(PriceCatalog.LoadBuiltIn(), TimeProvider.System);
    var maxBytes = files.Max(f => f.Bytes) + (64L * 1024 * 1024);
    await using (var server = await ApexTestServer.StartAsync(new Dictionary<string, string?>
    {
        ["Datasets:MaxUploadBytes"] = Math.Min(maxBytes, 2L * 1024 * 1024 * 1024).ToString(CultureInfo.InvariantCulture),
        ["Logging:LogLevel:Default"] = "Warning",
    }, ct: ct))
    {
        var user = await server.RegisterUserAsync(ct: ct);
        using var client = server.CreateClient(user);
        client.Timeout = TimeSpan.FromMinutes(5);
        using (var idle = await client.GetAsync("/api/datasets", ct))
        {
            idle.EnsureSuccessStatusCode();
        }

        GC.Collect();
        using (var process = Process.GetCurrentProcess())
        {
            idleWorkingSet = process.WorkingSet64;
        }

        foreach (var file in files)
        {
            // (c) The importer alone: recognition, parse, validation, pricing, encoding; no HTTP, no store.
            var parse = await BestOfAsync(3, async () =>
            {
                await using var stream = File.OpenRead(file.Path);
                var parsed = await importer.ImportAsync(stream, null, ct);
                if (parsed.Rows == 0)
                {
                    throw new InvalidOperationException($"The importer read no rows from {file.Label}: {parsed.Error}");
                }

                return $"{parsed.Rows:N0} rows, {parsed.SourceFormat}, {parsed.Warnings.Count} warnings, {parsed.Chunks.Sum(c => (long)c.Length) / 1024d / 1024d:N1} MB encoded";
            });
            results.Add(new Row(file.Label, "Apex importer alone (parse, no HTTP/store)", parse));

            // (b) Upload + parse + store: multipart over HTTP like a user, until the 201 answer.
            var upload = await BestOfAsync(3, async () =>
            {
                await using var stream = File.OpenRead(file.Path);
                using var content = new MultipartFormDataContent();
                var part = new StreamContent(stream, 1 << 16);
                part.Headers.ContentType = new MediaTypeHeaderValue(file.ContentType);
                content.Add(part, "file", Path.GetFileName(file.Path));
                using var response = await client.PostAsync("/api/datasets", content, ct);
                var body = await response.Content.ReadAsStringAsync(ct);
                if ((int)response.StatusCode != 201)
                {
                    throw new InvalidOperationException($"Upload of {file.Label} failed: {(int)response.StatusCode} {body[..Math.Min(body.Length, 500)]}");
                }

                using var json = JsonDocument.Parse(body);
                var id = json.RootElement.GetProperty("id").GetString()!;
                var stored = json.RootElement.GetProperty("rows").GetInt32();

                // Each run stores a fresh dataset; the previous one is deleted (outside the timed part
                // would be nicer, but the delete is small next to the upload).
                return (Note: $"{stored:N0} rows stored", Cleanup: (Func<Task>)(async () =>
                {
                    using var deleted = await client.DeleteAsync($"/api/datasets/{id}", ct);
                }));
            });
            results.Add(new Row(file.Label, "Apex upload + parse + store (HTTP, SQLite)", upload));
        }
    }

    string? duckFailure = null;
    foreach (var file in files)
    {
        if (duckFailure is not null)
        {
            break;
        }

        try
        {
            var duck = await BestOfAsync(3, () =>
            {
                using var connection = new DuckDBConnection("DataSource=:memory:");
                connection.Open();
                using var command = connection.CreateCommand();
                command.CommandText = file.DuckSql;
                command.ExecuteNonQuery();
                command.CommandText = "SELECT count(*) FROM t";
                var count = Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
                return Task.FromResult($"{count:N0} rows in table t");
            });
            results.Insert(results.FindIndex(r => r.File == file.Label), new Row(file.Label, "DuckDB CREATE TABLE AS read_* (baseline)", duck));
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or BadImageFormatException or EntryPointNotFoundException)
        {
            duckFailure = $"DuckDB's native library failed to load: {e.GetType().Name}: {e.Message}";
        }
    }

    var table = new Table().AddColumns("File", "Phase", "Wall (best)", "Runs", "CPU", "vs DuckDB", "Peak WS", "WS at start", "Peak heap", "Note");
    foreach (var r in results)
    {
        var duck = results.FirstOrDefault(x => x.File == r.File && x.Phase.StartsWith("DuckDB", StringComparison.Ordinal));
        var ratio = duck is null ? "n/a" : $"{r.M.Wall / duck.M.Wall:N2}x";
        table.AddRow(r.File, r.Phase, $"{r.M.Wall.TotalMilliseconds:N0} ms", r.M.Runs.ToString(CultureInfo.InvariantCulture), $"{r.M.Cpu.TotalMilliseconds:N0} ms", ratio,
            $"{r.M.PeakWorkingSet / 1024d / 1024d:N0} MB", $"{r.M.StartWorkingSet / 1024d / 1024d:N0} MB", $"{r.M.PeakManaged / 1024d / 1024d:N0} MB", Markup.Escape(r.M.Note));
    }

    AnsiConsole.Profile.Width = Math.Max(AnsiConsole.Profile.Width, 200);
    AnsiConsole.Write(table);
    if (duckFailure is not null)
    {
        AnsiConsole.MarkupLine($"[red]{Markup.Escape(duckFailure)}[/]");
    }

    // The aims: Apex's upload + parse + store no slower than DuckDB's load, peak working set at most 300 MB.
    foreach (var file in files)
    {
        var apex = results.First(r => r.File == file.Label && r.Phase.StartsWith("Apex upload", StringComparison.Ordinal));
        var duck = results.FirstOrDefault(r => r.File == file.Label && r.Phase.StartsWith("DuckDB", StringComparison.Ordinal));
        var timeAim = duck is null ? "time aim not measurable (no DuckDB)"
            : apex.M.Wall <= duck.M.Wall ? $"time aim met ({apex.M.Wall / duck.M.Wall:N2}x DuckDB)" : $"time aim NOT met ({apex.M.Wall / duck.M.Wall:N2}x DuckDB)";
        var memoryAim = apex.M.PeakWorkingSet <= 300L * 1024 * 1024 ? "memory aim met" : "memory aim NOT met";
        AnsiConsole.MarkupLine($"{Markup.Escape(file.Label)}: {timeAim}; {memoryAim} (peak working set {apex.M.PeakWorkingSet / 1024d / 1024d:N0} MB, whole process: server and client)");
    }

    AnsiConsole.MarkupLine($"Process working set with the server started and idle (before any import): {idleWorkingSet / 1024d / 1024d:N0} MB");
    AnsiConsole.MarkupLine($"Total {started.Elapsed.TotalSeconds:N0} s; {Environment.ProcessorCount} cores; .NET {Environment.Version}; DuckDB.NET.Data.Full 1.5.6.1");
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

// Runs up to `count` times and keeps the fastest; stops repeating when a run is slow or the budget is
// running out, so the whole benchmark stays bounded on a busy machine.
async Task<Measurement> BestOfAsync<T>(int count, Func<Task<T>> run)
{
    Measurement? best = null;
    for (var i = 0; i < count; i++)
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var peak = MemoryPeak.Start();
        var watch = Stopwatch.StartNew();
        var value = await run();
        watch.Stop();
        var m = peak.Stop();
        string note;
        if (value is ValueTuple<string, Func<Task>> withCleanup)
        {
            note = withCleanup.Item1;
            await withCleanup.Item2();
        }
        else
        {
            note = value?.ToString() ?? "";
        }

        if (best is null || watch.Elapsed < best.Wall)
        {
            best = new Measurement(watch.Elapsed, m.Cpu, m.WorkingSet, m.StartWorkingSet, m.Managed, note, 0);
        }

        best = best with { Runs = i + 1 };
        var remaining = budget - started.Elapsed;
        if (watch.Elapsed > TimeSpan.FromSeconds(45) || remaining < TimeSpan.FromMinutes(4))
        {
            break;
        }
    }

    return best!;
}

internal sealed record Measurement(TimeSpan Wall, TimeSpan Cpu, long PeakWorkingSet, long StartWorkingSet, long PeakManaged, string Note, int Runs);

internal sealed record Row(string File, string Phase, Measurement M);

/// <summary>Samples the process working set and managed heap every 5 ms while a phase runs.</summary>
internal sealed class MemoryPeak : IDisposable
{
    private readonly Thread _thread;
    private readonly long _startWorkingSet;
    private volatile bool _stop;
    private long _workingSet;
    private long _managed;

    private readonly TimeSpan _cpuStart = Process.GetCurrentProcess().TotalProcessorTime;

    private MemoryPeak()
    {
        using (var current = Process.GetCurrentProcess())
        {
            _startWorkingSet = current.WorkingSet64;
        }

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
        { IsBackground = true };
        _thread.Start();
    }

    /// <summary>CPU is the process's (all threads): on a shared machine it is steadier than wall time.</summary>
    public readonly record struct Result(long WorkingSet, long StartWorkingSet, long Managed, TimeSpan Cpu);

    public static MemoryPeak Start() => new();

    public Result Stop()
    {
        _stop = true;
        _thread.Join();
        return new Result(_workingSet, _startWorkingSet, _managed, Process.GetCurrentProcess().TotalProcessorTime - _cpuStart);
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join();
    }
}

/// <summary>
/// A month of gateway traffic in two vendors' export shapes (tests/fixtures/imports/): six models over
/// three providers, ten features as tags, several teams and keys, about 3 % failures (timeouts, rate
/// limits, server errors), prompt-cache reads and Anthropic cache writes, a few gateway cache hits.
/// Deterministic (fixed seed).
/// </summary>
internal static class Generator
{
    private sealed record Model(string Name, string Group, string Provider, string ApiBase, double InPerM, double OutPerM, bool Anthropic);

    private static readonly Model[] Models =
    [
        new("gpt-4o-2024-08-06", "gpt-4o", "openai", "https://api.openai.com/v1", 2.5, 10, false),
        new("gpt-4o-mini", "gpt-4o-mini", "openai", "https://api.openai.com/v1", 0.15, 0.6, false),
        new("gpt-4.1-mini", "gpt-4.1-mini", "openai", "https://api.openai.com/v1", 0.4, 1.6, false),
        new("claude-sonnet-4-20250514", "claude-sonnet-4", "anthropic", "https://api.anthropic.com/v1", 3, 15, true),
        new("claude-3-5-haiku-20241022", "claude-haiku", "anthropic", "https://api.anthropic.com/v1", 0.8, 4, true),
        new("gemini-2.0-flash", "gemini-flash", "gemini", "https://generativelanguage.googleapis.com/v1beta", 0.1, 0.4, false),
    ];

    private static readonly string[] Features =
        ["faq-bot", "search", "report-gen", "triage", "support", "summarise", "extract", "code-review", "translate", "nightly-batch"];

    private static readonly string[] Teams = ["platform", "growth", "support-eng", "data"];

    private static readonly string[] Keys =
    [
        "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
        "3f1a9c0e5b7d2468ace013579bdf2468ace013579bdf2468ace013579bdf2468",
        "c0ffee0ddba11cafe5eed5a1adbadf00d0123456789abcdef0123456789abcde",
        "5a5a5a5a1b1b1b1b2c2c2c2c3d3d3d3d4e4e4e4e5f5f5f5f6a6a6a6a7b7b7b7b",
    ];

    private readonly record struct Call(
        long StartMs, Model Model, string Feature, string Team, int KeyIndex, int Input, int Output, int CacheRead, int CacheWrite,
        int LatencyMs, int TtftMs, int ErrorStatus, bool CacheHit, double Cost, int User);

    private static Call Next(Random random, int i, int rows)
    {
        var start = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds();
        var span = 30L * 24 * 3600 * 1000;
        var model = Models[random.Next(100) switch { < 30 => 0, < 60 => 1, < 70 => 2, < 85 => 3, < 95 => 4, _ => 5 }];
        var feature = Features[random.Next(Features.Length)];
        var input = feature is "report-gen" or "summarise" or "nightly-batch" ? 1500 + random.Next(6000) : 200 + random.Next(1800);
        var output = random.Next(100) < 3 ? 2000 + random.Next(4000) : 30 + random.Next(500);
        var cacheRead = 0;
        var cacheWrite = 0;
        if (input >= 1024 && random.Next(100) < 25)
        {
            cacheRead = input / 2 / 128 * 128;
        }
        else if (model.Anthropic && random.Next(100) < 5)
        {
            cacheWrite = input / 2;
        }

        var status = random.Next(1000) switch { < 12 => 429, < 20 => 500, < 30 => 408, _ => 0 };
        if (status != 0)
        {
            output = 0;
        }

        var latency = status == 408 ? 30_000 + random.Next(200) : 150 + (output * (2 + random.Next(20))) + random.Next(800);
        var cacheHit = status == 0 && random.Next(100) < 2;
        // Anthropic's usage counts cache reads and writes apart from the prompt; OpenAI's inside it.
        var cost = cacheHit ? 0
            : ((input - cacheRead) * model.InPerM / 1e6) + (cacheRead * model.InPerM * 0.25 / 1e6) + (cacheWrite * model.InPerM * 1.25 / 1e6) + (output * model.OutPerM / 1e6);
        return new Call(start + (span * i / rows) + random.Next(1000), model, feature, Teams[random.Next(Teams.Length)], random.Next(Keys.Length),
            input, output, cacheRead, cacheWrite, cacheHit ? 3 + random.Next(10) : latency, Math.Min(latency, 120 + random.Next(600)), status, cacheHit, cost,
            random.Next(5000));
    }

    private static string Money(double v) => Math.Round(v, 8).ToString("0.########", CultureInfo.InvariantCulture);

    /// <summary>LiteLLM <c>LiteLLM_SpendLogs</c> as a CSV dump (metadata and request_tags are JSON in cells).</summary>
    public static long WriteLiteLlm(string path, int rows)
    {
        var random = new Random(42);
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
        writer.Write("request_id,call_type,api_key,spend,total_tokens,prompt_tokens,completion_tokens,startTime,endTime,completionStartTime,model,model_id,model_group,"
            + "custom_llm_provider,api_base,user,metadata,cache_hit,cache_key,request_tags,team_id,end_user,requester_ip_address,messages,response,session_id,status,proxy_server_request\n");
        var line = new StringBuilder(1024);
        for (var i = 0; i < rows; i++)
        {
            var c = Next(random, i, rows);
            var m = c.Model;
            // Anthropic-style usage puts cache tokens beside the prompt; OpenAI-style inside it.
            var prompt = m.Anthropic ? c.Input - c.CacheRead - c.CacheWrite : c.Input;
            var total = prompt + c.Output;
            var failed = c.ErrorStatus != 0;
            var startText = Time(c.StartMs, ' ');
            line.Clear();
            line.Append("chatcmpl-").Append(random.NextInt64().ToString("x16", CultureInfo.InvariantCulture)).Append(',')
                .Append(i % 50 == 0 ? "aembedding," : "acompletion,")
                .Append(Keys[c.KeyIndex]).Append(',')
                .Append(Money(c.Cost)).Append(',').Append(total).Append(',').Append(prompt).Append(',').Append(c.Output).Append(',')
                .Append(startText).Append(',').Append(Time(c.StartMs + c.LatencyMs, ' ')).Append(',').Append(Time(c.StartMs + c.TtftMs, ' ')).Append(',')
                .Append(m.Name).Append(',').Append(',').Append(m.Group).Append(',').Append(m.Provider).Append(',').Append(m.ApiBase).Append(',')
                .Append("u_").Append(c.User).Append(',');

            // metadata: a JSON object in a quoted cell (quotes doubled).
            line.Append("\"{\"\"user_api_key_alias\"\": \"\"").Append(c.KeyIndex switch { 0 => "prod", 1 => "staging", 2 => "batch", _ => "analytics" })
                .Append("\"\", \"\"user_api_key_team_alias\"\": \"\"").Append(c.Team)
                .Append("\"\", \"\"usage_object\"\": {\"\"prompt_tokens\"\": ").Append(prompt)
                .Append(", \"\"completion_tokens\"\": ").Append(c.Output).Append(", \"\"total_tokens\"\": ").Append(total);
            if (m.Anthropic)
            {
                line.Append(", \"\"cache_read_input_tokens\"\": ").Append(c.CacheRead).Append(", \"\"cache_creation_input_tokens\"\": ").Append(c.CacheWrite);
            }
            else
            {
                line.Append(", \"\"prompt_tokens_details\"\": {\"\"cached_tokens\"\": ").Append(c.CacheRead).Append('}');
            }

            line.Append("}, \"\"status\"\": \"\"").Append(failed ? "failure" : "success").Append("\"\"");
            if (failed)
            {
                line.Append(", \"\"error_information\"\": {\"\"error_code\"\": \"\"").Append(c.ErrorStatus).Append("\"\", \"\"error_class\"\": \"\"")
                    .Append(c.ErrorStatus switch { 429 => "RateLimitError", 408 => "Timeout", _ => "InternalServerError" })
                    .Append("\"\", \"\"error_message\"\": \"\"")
                    .Append(c.ErrorStatus switch { 429 => "litellm.RateLimitError: Rate limit reached", 408 => "litellm.Timeout: Request timed out", _ => "litellm.InternalServerError: upstream 500" })
                    .Append("\"\"}");
            }

            line.Append("}\",")
                .Append(c.CacheHit ? "True," : "False,")
                .Append(c.CacheHit ? random.NextInt64().ToString("x16", CultureInfo.InvariantCulture) : string.Empty).Append(',')
                .Append("\"[\"\"").Append(c.Feature).Append("\"\", \"\"").Append(c.KeyIndex == 1 ? "staging" : "prod").Append("\"\"]\",")
                .Append("team-").Append(c.Team).Append(',')
                .Append(c.User % 7 == 0 ? "customer_" + (c.User % 300).ToString(CultureInfo.InvariantCulture) : string.Empty).Append(',')
                .Append("10.0.").Append(c.KeyIndex).Append('.').Append(c.User % 250).Append(',')
                .Append("{},{},")
                .Append(c.Feature is "support" or "faq-bot" ? "sess-" + (c.User * 31 % 100_000).ToString(CultureInfo.InvariantCulture) : string.Empty).Append(',')
                .Append(failed ? "failure" : "success").Append(',')
                .Append("{}\n");
            writer.Write(line);
        }

        writer.Flush();
        return writer.BaseStream.Length;
    }

    /// <summary>Helicone <c>HeliconeRequest</c> records, one JSON object a line.</summary>
    public static long WriteHelicone(string path, int rows)
    {
        var random = new Random(7);
        using var writer = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 20);
        var line = new StringBuilder(1024);
        for (var i = 0; i < rows; i++)
        {
            var c = Next(random, i, rows);
            var m = c.Model;
            var time = Time(c.StartMs, 'T') + "Z";
            var status = c.ErrorStatus == 0 ? 200 : c.ErrorStatus;
            line.Clear();
            line.Append("{\"response_id\": \"resp-").Append(i).Append("\", \"response_created_at\": \"").Append(Time(c.StartMs + c.LatencyMs, 'T')).Append("Z\", ")
                .Append("\"response_status\": ").Append(status).Append(", \"response_model\": \"").Append(m.Name).Append("\", ")
                .Append("\"request_id\": \"req-").Append(i).Append("\", \"request_created_at\": \"").Append(time).Append("\", ")
                .Append("\"request_user_id\": \"user_").Append(c.User).Append("\", ")
                .Append("\"request_properties\": {\"Feature\": \"").Append(c.Feature).Append("\", \"Team\": \"").Append(c.Team).Append("\"}, ")
                .Append("\"request_model\": \"").Append(m.Name).Append("\", \"model\": \"").Append(m.Name).Append("\", ")
                .Append("\"request_path\": \"").Append(m.Anthropic ? "/v1/messages" : "/v1/chat/completions").Append("\", ")
                .Append("\"delay_ms\": ").Append(c.LatencyMs).Append(", \"time_to_first_token\": ");
            if (c.ErrorStatus == 0)
            {
                line.Append(c.TtftMs);
            }
            else
            {
                line.Append("null");
            }

            line.Append(", \"total_tokens\": ").Append(c.Input + c.Output).Append(", \"prompt_tokens\": ").Append(c.Input)
                .Append(", \"completion_tokens\": ").Append(c.Output)
                .Append(", \"prompt_cache_write_tokens\": ").Append(c.CacheWrite).Append(", \"prompt_cache_read_tokens\": ").Append(c.CacheRead)
                .Append(", \"provider\": \"").Append(m.Provider.ToUpperInvariant()).Append("\", \"country_code\": \"").Append(c.User % 5 == 0 ? "DE" : "US").Append("\", ")
                .Append("\"cost\": ").Append(Money(c.Cost)).Append(", \"costUSD\": ").Append(Money(c.Cost))
                .Append(", \"properties\": {}, \"scores\": {}}\n");
            writer.Write(line);
        }

        writer.Flush();
        return writer.BaseStream.Length;
    }

    private static string Time(long ms, char separator) =>
        DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime.ToString(separator == 'T' ? "yyyy-MM-dd'T'HH:mm:ss.fff" : "yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture);
}
