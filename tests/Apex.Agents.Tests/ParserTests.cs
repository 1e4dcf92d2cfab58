using System.Text;
using System.Text.Json;
using Apex.Agents.Analysis;
using Apex.Agents.Catalog;
using Apex.Agents.Data;

namespace Apex.Agents.Tests;

public sealed class ParserTests
{
    private static UsageColumns Decode(UsageParseResult parsed)
    {
        var columns = new UsageColumns();
        foreach (var chunk in parsed.Chunks)
        {
            columns.AppendEncoded(chunk);
        }

        return columns;
    }

    [Fact(Timeout = 30_000)]
    public async Task Reads_bom_crlf_quotes_any_header_case_and_ignores_unknown_columns()
    {
        await Task.Yield();
        var csv = "\uFEFFTIMESTAMP,Model,Input_Tokens,OUTPUT_TOKENS,Feature,notes,cost_usd\r\n" +
                  "2026-11-01T10:00:00Z,gpt-4o,1000,100,\"support, tier 1\",\"said \"\"hi\"\"\",0.5\r\n" +
                  "2026-11-01T11:00:00+02:00,gpt-4o-mini,2000,200,search,,\r\n";
        var parsed = TestSupport.ParseCsv(csv);
        Assert.Null(parsed.Error);
        Assert.Equal(2, parsed.Rows);
        Assert.Contains(parsed.Warnings, w => w.Contains("notes", StringComparison.Ordinal));
        var rows = Decode(parsed);
        Assert.Equal("support, tier 1", rows.Strings[rows.Feature[0]]);
        Assert.Equal(0.5, rows.Cost[0]);
        // Priced from the catalog: gpt-4o-mini 0.15 in, 0.60 out per million.
        Assert.Equal((2000 * 0.15 + 200 * 0.6) / 1e6, rows.Cost[1], 12);
        Assert.Equal(new DateTimeOffset(2026, 11, 1, 9, 0, 0, TimeSpan.Zero), parsed.PeriodStart);
    }

    [Fact(Timeout = 30_000)]
    public async Task Skips_bad_rows_with_line_numbers_and_keeps_the_good_ones()
    {
        await Task.Yield();
        var csv = "timestamp,model,input_tokens,output_tokens,status\n" +
                  "2026-11-01T10:00:00Z,gpt-4o,100,10,ok\n" +          // line 2 ok
                  "2026-11-01T10:00:00Z,gpt-4o,-5,10,ok\n" +           // line 3 negative
                  "2030-01-01T00:00:00Z,gpt-4o,100,10,ok\n" +          // line 4 future
                  "not a date,gpt-4o,100,10,ok\n" +                    // line 5 bad timestamp
                  "2026-11-01T10:00:00Z,gpt-4o,100\n" +                // line 6 too few columns
                  "2026-11-01T10:00:00Z,,100,10,ok\n" +                // line 7 no model
                  "2026-11-01T10:00:00Z,gpt-4o,lots,10,ok\n" +         // line 8 not a number
                  "2026-11-02T10:00:00Z,gpt-4o,100,10,error\n";        // line 9 ok
        var parsed = TestSupport.ParseCsv(csv);
        Assert.Null(parsed.Error);
        Assert.Equal(2, parsed.Rows);
        Assert.Contains("Line 3: skipped, input_tokens is negative.", parsed.Warnings);
        Assert.Contains("Line 4: skipped, timestamp is in the future.", parsed.Warnings);
        Assert.Contains("Line 5: skipped, timestamp is not ISO 8601.", parsed.Warnings);
        Assert.Contains("Line 6: skipped, expected 5 columns, found 3.", parsed.Warnings);
        Assert.Contains("Line 7: skipped, model is missing.", parsed.Warnings);
        Assert.Contains("Line 8: skipped, input_tokens is not a whole number.", parsed.Warnings);
        Assert.Contains("6 row(s) skipped in total.", parsed.Warnings);
        Assert.Equal(UsageFlags.Error, (byte)(Decode(parsed).Flags[1] & UsageFlags.Error));
    }

    [Fact(Timeout = 30_000)]
    public async Task Caps_the_warning_list_and_says_how_many_more()
    {
        await Task.Yield();
        var csv = new StringBuilder("timestamp,model,input_tokens,output_tokens\n2026-11-01T10:00:00Z,gpt-4o,1,1\n");
        for (var i = 0; i < 500; i++)
        {
            csv.Append("2026-11-01T10:00:00Z,gpt-4o,-1,1\n");
        }

        var parsed = TestSupport.ParseCsv(csv.ToString());
        Assert.Equal(1, parsed.Rows);
        Assert.Equal(UsageFileParser.MaxListedWarnings, parsed.Warnings.Count(w => w.StartsWith("Line ", StringComparison.Ordinal)));
        Assert.Contains($"... and {500 - UsageFileParser.MaxListedWarnings} more skipped rows (the first {UsageFileParser.MaxListedWarnings} are listed).", parsed.Warnings);
    }

    [Fact(Timeout = 30_000)]
    public async Task Unknown_models_are_reported_and_never_priced_at_zero()
    {
        await Task.Yield();
        var csv = "timestamp,model,input_tokens,output_tokens,cost_usd\n" +
                  "2026-11-01T10:00:00Z,house-model-7b,1000,100,\n" +
                  "2026-11-01T10:00:00Z,house-model-7b,1000,100,0.25\n";
        var parsed = TestSupport.ParseCsv(csv);
        Assert.Contains(parsed.Warnings, w => w.Contains("'house-model-7b'", StringComparison.Ordinal) && w.Contains("unknown", StringComparison.Ordinal));
        var rows = Decode(parsed);
        Assert.True(double.IsNaN(rows.Cost[0]));
        Assert.Equal(0.25, rows.Cost[1]);
        var summary = new UsageAnalyzer(UsageTable.FromColumns(rows, PriceCatalog.LoadBuiltIn()), PriceCatalog.LoadBuiltIn(), new AnalysisOptions()).Summarize(CancellationToken.None);
        Assert.Equal(1, summary.UnpricedCalls);
        Assert.Equal(0.25, summary.CostUsd);
    }

    [Fact(Timeout = 30_000)]
    public async Task No_valid_row_empty_binary_and_missing_columns_are_errors()
    {
        await Task.Yield();
        Assert.NotNull(TestSupport.ParseCsv("").Error);
        Assert.NotNull(TestSupport.ParseCsv("timestamp,model,input_tokens,output_tokens\n").Error);
        Assert.NotNull(TestSupport.ParseCsv("timestamp,model,input_tokens,output_tokens\n2026-11-01T10:00:00Z,gpt-4o,-1,1\n").Error);
        Assert.Contains("input_tokens", TestSupport.ParseCsv("timestamp,model,tokens\n2026-11-01T10:00:00Z,gpt-4o,1\n").Error, StringComparison.Ordinal);
        var garbage = new byte[4096];
        new Random(7).NextBytes(garbage);
        var binary = TestSupport.ParseBytes(garbage);
        Assert.Contains("not text", binary.Error, StringComparison.Ordinal);
        Assert.Empty(binary.Chunks);
    }

    [Fact(Timeout = 30_000)]
    public async Task Json_lines_and_json_rows_use_the_same_rules()
    {
        var jsonl = "{\"timestamp\":\"2026-11-01T10:00:00Z\",\"model\":\"gpt-4o\",\"input_tokens\":100,\"output_tokens\":10,\"prompt\":\"hi\"}\n" +
                    "{not json}\n" +
                    "{\"timestamp\":\"2026-11-01T10:00:00Z\",\"model\":\"gpt-4o\",\"input_tokens\":-1,\"output_tokens\":10}\n";
        var parser = new UsageFileParser(PriceCatalog.LoadBuiltIn(), TimeProvider.System);
        var parsed = await parser.ParseJsonLinesAsync(new MemoryStream(Encoding.UTF8.GetBytes(jsonl)), CancellationToken.None);
        Assert.Equal(1, parsed.Rows);
        Assert.Contains("Line 2: skipped, not a JSON object.", parsed.Warnings);
        Assert.Contains("Line 3: skipped, input_tokens is negative.", parsed.Warnings);
        Assert.NotEqual(0UL, Decode(parsed).Prompt[0]);

        using var doc = JsonDocument.Parse("""[{"timestamp":"2026-11-01T10:00:00Z","model":"gpt-4o","input_tokens":"100","output_tokens":10},{"model":"gpt-4o"}]""");
        var rows = new UsageFileParser(PriceCatalog.LoadBuiltIn(), TimeProvider.System).ParseJsonRows(doc.RootElement, CancellationToken.None);
        Assert.Equal(1, rows.Rows);
        Assert.Contains("Row 2: skipped, timestamp is missing.", rows.Warnings);
    }

    [Fact(Timeout = 30_000)]
    public async Task Chunks_round_trip_every_column()
    {
        await Task.Yield();
        var source = new UsageColumns();
        for (var i = 0; i < UsageColumns.ChunkRows + 10; i++)
        {
            source.Add(new UsageRow
            {
                TimestampMs = 1_700_000_000_000 + i, Model = i % 2 == 0 ? "a" : "b", Feature = "f" + (i % 3), UserTier = "pro",
                InputTokens = i, OutputTokens = i * 2, CachedInputTokens = i / 2, LatencyMs = i % 7 == 0 ? -1 : i, CostUsd = i * 0.001,
                PromptHash = (ulong)i * 31, Flags = (byte)(i % 16),
            });
        }

        var decoded = new UsageColumns();
        decoded.AppendEncoded(source.Encode());
        Assert.Equal(source.Count, decoded.Count);
        for (var i = 0; i < source.Count; i += 997)
        {
            Assert.Equal(source.Timestamp[i], decoded.Timestamp[i]);
            Assert.Equal(source.Strings[source.Model[i]], decoded.Strings[decoded.Model[i]]);
            Assert.Equal(source.Strings[source.Feature[i]], decoded.Strings[decoded.Feature[i]]);
            Assert.Equal(source.Cost[i], decoded.Cost[i]);
            Assert.Equal(source.Prompt[i], decoded.Prompt[i]);
            Assert.Equal(source.Latency[i], decoded.Latency[i]);
            Assert.Equal(source.Flags[i], decoded.Flags[i]);
        }
    }
}
