using System.IO.Compression;
using System.Text;
using Apex.Agents.Catalog;
using Apex.Agents.Data;
using Apex.Agents.Data.Import;
using Microsoft.Extensions.Time.Testing;

namespace Apex.Agents.Tests;

/// <summary>
/// The import readers on the fixtures of tests/fixtures/imports (one per vendor schema, see its README):
/// recognition without being told the format, and meaning (request counts, cents, seconds, failures,
/// cache reads and writes) on the stored rows.
/// </summary>
public sealed class ImportTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 15, 0, 0, 0, TimeSpan.Zero);

    private static async Task<(UsageParseResult Parsed, UsageColumns Rows)> ImportAsync(string fixture, IReadOnlyDictionary<string, string>? mapping = null) =>
        await ImportBytesAsync(await File.ReadAllBytesAsync(Fixture(fixture)), mapping);

    private static async Task<(UsageParseResult Parsed, UsageColumns Rows)> ImportBytesAsync(byte[] bytes, IReadOnlyDictionary<string, string>? mapping = null)
    {
        var parsed = await new UsageImporter(PriceCatalog.LoadBuiltIn(), new FakeTimeProvider(Now)).ImportAsync(new MemoryStream(bytes), mapping, CancellationToken.None);
        var rows = new UsageColumns();
        foreach (var chunk in parsed.Chunks)
        {
            rows.AppendEncoded(chunk);
        }

        return (parsed, rows);
    }

    private static string Model(UsageColumns rows, int i) => rows.Strings[rows.Model[i]];

    private static string Feature(UsageColumns rows, int i) => rows.Strings[rows.Feature[i]];

    private static bool Has(UsageColumns rows, int i, byte flag) => (rows.Flags[i] & flag) != 0;

    [Fact(Timeout = 30_000)]
    public async Task OpenAI_activity_rows_are_buckets_with_their_request_counts_and_cached_tokens()
    {
        var (parsed, rows) = await ImportAsync("openai_activity_2026-11.csv");
        Assert.Null(parsed.Error);
        Assert.Equal("openai_usage_csv", parsed.SourceFormat);
        Assert.True(parsed.Aggregated);
        Assert.Equal(5, rows.Count);
        Assert.Equal(412 + 1530 + 388 + 1611 + 97, parsed.Calls);
        Assert.Equal(412, rows.Requests[0]);
        Assert.Equal(1_893_400, rows.Input[0]);
        Assert.Equal(640_000, rows.Cached[0]);
        Assert.Equal("gpt-4o-2024-08-06", Model(rows, 0));
        Assert.Equal("support-bot", Feature(rows, 0));
        Assert.All(Enumerable.Range(0, rows.Count), i => Assert.True(Has(rows, i, UsageFlags.Aggregated | UsageFlags.CostFromCatalog)));
        // gpt-4o at 2.50 in, 1.25 cached, 10 out per million.
        Assert.Equal(((1_893_400 - 640_000) * 2.5 + 640_000 * 1.25 + 201_330 * 10) / 1e6, rows.Cost[0], 9);
    }

    [Fact(Timeout = 30_000)]
    public async Task OpenAI_usage_api_buckets_are_flattened_with_the_bucket_start()
    {
        var (parsed, rows) = await ImportAsync("openai_usage_completions.json");
        Assert.Equal("openai_usage_api", parsed.SourceFormat);
        Assert.Equal(3, rows.Count);
        Assert.Equal(301 + 880 + 277, parsed.Calls);
        Assert.Equal(new DateTimeOffset(2026, 11, 2, 0, 0, 0, TimeSpan.Zero), parsed.PeriodStart);
        Assert.Equal(new DateTimeOffset(2026, 11, 4, 0, 0, 0, TimeSpan.Zero), parsed.PeriodEnd);
        Assert.Equal(512_000, rows.Cached[0]);
    }

    [Fact(Timeout = 30_000)]
    public async Task Anthropic_usage_csv_adds_cache_reads_and_writes_to_the_uncached_input()
    {
        var (parsed, rows) = await ImportAsync("claude_api_tokens_2026_11.csv");
        Assert.Equal("anthropic_usage_csv", parsed.SourceFormat);
        Assert.True(parsed.Aggregated);
        Assert.Equal(4, rows.Count);
        Assert.Equal(201_118 + 12_800 + 25_600 + 1_100_321, rows.Input[1]);
        Assert.Equal(12_800 + 25_600, rows.CacheWrite[1]);
        Assert.Equal(1_100_321, rows.Cached[1]);
        Assert.Equal(70_113, rows.Output[1]);
        Assert.Equal(new DateTimeOffset(2026, 11, 9, 10, 0, 0, TimeSpan.Zero).ToUnixTimeMilliseconds(), rows.Timestamp[1]);
        Assert.Contains(parsed.Warnings, w => w.Contains("no request counts", StringComparison.Ordinal));
    }

    [Fact(Timeout = 30_000)]
    public async Task Anthropic_usage_api_reads_the_nested_cache_creation_counts()
    {
        var (parsed, rows) = await ImportAsync("anthropic_usage_report_messages.json");
        Assert.Equal("anthropic_usage_api", parsed.SourceFormat);
        Assert.Equal(3, rows.Count);
        Assert.Equal(52_000, rows.CacheWrite[0]);
        Assert.Equal(30_100, rows.CacheWrite[2]);
        Assert.Equal(120_998 + 30_100 + 700_402, rows.Input[2]);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("openai_cost_2026-11.csv", "openai_cost_csv", 6)]
    [InlineData("anthropic_cost_2026_11.csv", "anthropic_cost_csv", 6)]
    public async Task Cost_exports_are_a_spend_breakdown_with_a_warning(string fixture, string format, int lines)
    {
        var (parsed, rows) = await ImportAsync(fixture);
        Assert.Equal(format, parsed.SourceFormat);
        Assert.True(parsed.CostOnly);
        Assert.Equal(0, parsed.Calls);
        Assert.Equal(lines, rows.Count);
        Assert.All(Enumerable.Range(0, rows.Count), i =>
        {
            Assert.True(Has(rows, i, UsageFlags.CostOnly));
            Assert.Equal(0, rows.Input[i] + rows.Output[i]);
            Assert.False(double.IsNaN(rows.Cost[i]));
        });
        Assert.Contains(parsed.Warnings, w => w.Contains("usage export instead", StringComparison.Ordinal));
        Assert.DoesNotContain(parsed.Warnings, w => w.StartsWith("Unknown model", StringComparison.Ordinal));
    }

    [Theory(Timeout = 30_000)]
    [InlineData("litellm_spend_logs.csv")]
    [InlineData("litellm_spend_logs.json")]
    public async Task LiteLLM_spend_logs_keep_spend_latency_failures_tags_and_cached_tokens(string fixture)
    {
        var (parsed, rows) = await ImportAsync(fixture);
        Assert.Null(parsed.Error);
        Assert.Equal("litellm_spend_logs", parsed.SourceFormat);
        Assert.False(parsed.Aggregated);
        Assert.Equal(7, rows.Count);
        Assert.Equal(0.00695, rows.Cost[0], 9);
        Assert.False(Has(rows, 0, UsageFlags.CostFromCatalog));
        Assert.Equal(1820, rows.Latency[0]);
        Assert.Equal(1024, rows.Cached[0]);
        Assert.Equal("faq-bot", Feature(rows, 0));
        Assert.Equal("gpt-4o-2024-08-06", Model(rows, 0));
        Assert.Equal([2, 6], Enumerable.Range(0, rows.Count).Where(i => Has(rows, i, UsageFlags.Error)));
        Assert.Equal(30_000, rows.Latency[2]);
    }

    [Fact(Timeout = 30_000)]
    public async Task Langfuse_latency_is_seconds_errors_are_level_error_and_spans_are_left_out()
    {
        var (parsed, rows) = await ImportAsync("langfuse_generations.csv");
        Assert.Equal("langfuse_generations", parsed.SourceFormat);
        Assert.Equal(4, rows.Count);
        Assert.Equal(1843, rows.Latency[0]);
        Assert.Equal(12_500, rows.Latency[2]);
        Assert.True(Has(rows, 2, UsageFlags.Error));
        Assert.False(Has(rows, 0, UsageFlags.Error));
        Assert.Equal("summarise-ticket", Feature(rows, 2));
        Assert.DoesNotContain(parsed.Warnings, w => w.Contains("skipped", StringComparison.Ordinal));
    }

    [Theory(Timeout = 30_000)]
    [InlineData("helicone_export.jsonl")]
    [InlineData("helicone_export.csv")]
    public async Task Helicone_status_400_and_above_is_a_failure_and_delay_is_latency(string fixture)
    {
        var (parsed, rows) = await ImportAsync(fixture);
        Assert.Equal("helicone_requests", parsed.SourceFormat);
        Assert.Equal(5, rows.Count);
        Assert.Equal([2, 4], Enumerable.Range(0, rows.Count).Where(i => Has(rows, i, UsageFlags.Error)));
        Assert.Equal(1320, rows.Latency[0]);
        Assert.Equal(512, rows.Cached[0]);
        Assert.Equal(0.0061, rows.Cost[0], 9);
        Assert.Equal("support", Feature(rows, 0));
    }

    [Fact(Timeout = 30_000)]
    public async Task OpenRouter_cancelled_is_a_failure_and_permaslugs_are_kept()
    {
        var (parsed, rows) = await ImportAsync("openrouter_activity.csv");
        Assert.Equal("openrouter_activity", parsed.SourceFormat);
        Assert.Equal(4, rows.Count);
        Assert.True(Has(rows, 2, UsageFlags.Error));
        Assert.Equal(1, Enumerable.Range(0, rows.Count).Count(i => Has(rows, i, UsageFlags.Error)));
        Assert.Equal("anthropic/claude-3.5-sonnet", Model(rows, 0));
        Assert.Equal(420, rows.Reasoning[3]);
        Assert.Equal(1024, rows.Cached[3]);
        Assert.Equal(4210, rows.Latency[0]);
    }

    [Fact(Timeout = 30_000)]
    public async Task Portkey_cost_is_in_cents()
    {
        var (parsed, rows) = await ImportAsync("portkey_logs.jsonl");
        Assert.Equal("portkey_logs", parsed.SourceFormat);
        Assert.Equal(0.006, rows.Cost[0], 9);
        Assert.Equal(0.01, rows.Cost[2], 9);
        Assert.True(Has(rows, 2, UsageFlags.Error));
        Assert.Equal("faq", Feature(rows, 0));
        Assert.Equal(812, rows.Latency[0]);
    }

    [Fact(Timeout = 30_000)]
    public async Task Bedrock_logs_keep_inference_profile_ids_cache_counts_and_error_codes()
    {
        var (parsed, rows) = await ImportAsync("bedrock_invocation_logs.jsonl");
        Assert.Equal("bedrock_invocation_logs", parsed.SourceFormat);
        Assert.Equal(4, rows.Count);
        Assert.Equal("us.anthropic.claude-3-5-sonnet-20241022-v2:0", Model(rows, 0));
        Assert.Equal(2210 + 4096, rows.Input[1]);
        Assert.Equal(4096, rows.Cached[1]);
        Assert.Equal(900 + 2048, rows.Input[3]);
        Assert.Equal(2048, rows.CacheWrite[3]);
        Assert.True(Has(rows, 2, UsageFlags.Error));
        Assert.Equal(2310, rows.Latency[0]);
        Assert.Equal(-1, rows.Latency[2]);
    }

    [Fact(Timeout = 30_000)]
    public async Task Otlp_genai_spans_give_service_feature_duration_and_error_status()
    {
        var (parsed, rows) = await ImportAsync("otel_genai_spans.json");
        Assert.Equal("otel_genai_spans", parsed.SourceFormat);
        Assert.Equal(3, rows.Count);
        Assert.Equal("gpt-4o-2024-08-06", Model(rows, 0));
        Assert.Equal("faq-bot", Feature(rows, 0));
        Assert.Equal(1432, rows.Latency[0]);
        Assert.True(Has(rows, 1, UsageFlags.Error));
        Assert.Equal("ticket-summariser", Feature(rows, 2));
        Assert.Equal(2048, rows.Cached[2]);
    }

    [Fact(Timeout = 30_000)]
    public async Task Azure_request_response_logs_are_refused_with_no_token_counts()
    {
        var (parsed, _) = await ImportAsync("azure_openai_requestresponse.jsonl");
        Assert.Equal("no_token_counts", parsed.ErrorCode);
        Assert.Empty(parsed.Chunks);
        Assert.Contains("no token counts", parsed.Error, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task An_unknown_csv_lists_its_columns_and_reads_with_a_mapping()
    {
        var (refused, _) = await ImportAsync("custom_billing_report.csv");
        Assert.Equal("unrecognized_format", refused.ErrorCode);
        Assert.Equal(["Date", "Model", "Prompt Tokens", "Completion Tokens", "Cost", "App", "Outcome"], refused.Columns);
        Assert.Equal(MappedFormat.FieldsNeeded, refused.FieldsNeeded);

        var (parsed, rows) = await ImportAsync("custom_billing_report.csv", new Dictionary<string, string>
        {
            ["timestamp"] = "Date",
            ["model"] = "Model",
            ["input_tokens"] = "Prompt Tokens",
            ["output_tokens"] = "Completion Tokens",
            ["cost_usd"] = "Cost",
            ["status"] = "Outcome",
            ["feature"] = "App",
        });
        Assert.Null(parsed.Error);
        Assert.Equal("custom_mapping", parsed.SourceFormat);
        Assert.Equal(3, rows.Count);
        Assert.True(Has(rows, 1, UsageFlags.Error));
        Assert.Equal("crm", Feature(rows, 0));
    }

    [Fact(Timeout = 30_000)]
    public async Task Gzip_uploads_are_detected_by_their_magic_bytes()
    {
        using var packed = new MemoryStream();
        await using (var gzip = new GZipStream(packed, CompressionLevel.Fastest, leaveOpen: true))
        {
            await gzip.WriteAsync(await File.ReadAllBytesAsync(Fixture("portkey_logs.jsonl")));
        }

        var (parsed, rows) = await ImportBytesAsync(packed.ToArray());
        Assert.Equal("portkey_logs", parsed.SourceFormat);
        Assert.Equal(4, rows.Count);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_truncated_gzip_upload_is_refused_not_stored_in_part()
    {
        var csv = new StringBuilder("timestamp,model,input_tokens,output_tokens\n");
        for (var i = 0; i < 50_000; i++)
        {
            csv.Append(FormattableString.Invariant($"2026-11-01T10:00:00Z,gpt-4o,{i},10\n"));
        }

        using var packed = new MemoryStream();
        await using (var gzip = new GZipStream(packed, CompressionLevel.Fastest, leaveOpen: true))
        {
            await gzip.WriteAsync(Encoding.UTF8.GetBytes(csv.ToString()));
        }

        var (parsed, _) = await ImportBytesAsync(packed.ToArray()[..(int)(packed.Length * 2 / 3)]);
        Assert.NotNull(parsed.Error);
        Assert.Empty(parsed.Chunks);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_file_cost_three_times_the_catalog_price_is_flagged_and_the_files_figure_used()
    {
        // 1,000 gpt-4o input and 100 output tokens cost $0.0035 at catalog prices; the file says $0.035 (10x). gpt-4o-mini at 2x its price is not flagged.
        var csv = "request_id,call_type,spend,prompt_tokens,completion_tokens,startTime,endTime,model,status\n" +
                  "r1,acompletion,0.035,1000,100,2026-11-16T09:00:00Z,2026-11-16T09:00:01Z,gpt-4o,success\n" +
                  "r2,acompletion,0.00042,1000,100,2026-11-16T09:00:00Z,2026-11-16T09:00:01Z,gpt-4o-mini,success\n";
        var (parsed, rows) = await ImportBytesAsync(Encoding.UTF8.GetBytes(csv));
        Assert.Equal(0.035, rows.Cost[0], 9);
        var warning = Assert.Single(parsed.Warnings, w => w.Contains("differ from the catalog price", StringComparison.Ordinal));
        Assert.Contains("'gpt-4o'", warning, StringComparison.Ordinal);
        Assert.Contains("$0.035", warning, StringComparison.Ordinal);
        Assert.Contains("$0.0035", warning, StringComparison.Ordinal);
        Assert.Contains("Apex uses the file's figure", warning, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Unknown_models_without_a_cost_are_unknown_not_free_and_bad_rows_keep_their_line_numbers()
    {
        var csv = "start_time_iso,model,num_model_requests,input_tokens,output_tokens,input_cached_tokens\n" +
                  "2026-11-02T00:00:00Z,in-house-llm,10,1000,100,0\n" +
                  "2026-11-02T00:00:00Z,gpt-4o,-3,1000,100,0\n" +
                  "2026-11-02T00:00:00Z,gpt-4o,5,1000,100,0\n";
        var (parsed, rows) = await ImportBytesAsync(Encoding.UTF8.GetBytes(csv));
        Assert.Equal(2, rows.Count);
        Assert.True(double.IsNaN(rows.Cost[0]));
        Assert.Contains(parsed.Warnings, w => w.StartsWith("Unknown model 'in-house-llm' (10 calls)", StringComparison.Ordinal));
        Assert.Contains("Line 3: skipped, num_model_requests is negative.", parsed.Warnings);
    }

    internal static string Fixture(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "tests", "fixtures", "imports", name);
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new FileNotFoundException("Fixture not found above the test binaries.", name);
    }
}
