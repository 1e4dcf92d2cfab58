using System.Globalization;
using System.Text;
using System.Text.Json;
using Apex.Agents.Catalog;
using Apex.Agents.Data.Import;
using nietras.SeparatedValues;

namespace Apex.Agents.Data;

/// <summary>
/// Reads Apex's own usage columns (CSV with Sep, JSON Lines, JSON rows) as a stream into stored chunks:
/// the fast path <see cref="Import.UsageImporter"/> takes when it recognises them. A bad
/// row never fails the upload: it is skipped and reported with its line number. Rules (the shared ones
/// are <see cref="Import.UsageRowBuilder"/>'s): required fields are timestamp, model, input_tokens and output_tokens; negative numbers and
/// timestamps in the future are skipped; a row without <c>cost_usd</c> is priced from the catalog,
/// and when its model is not in the catalog its cost is unknown (NaN): the analysis counts the call
/// but leaves it out of every dollar figure and says how many calls that is, never treating it as $0.
/// </summary>
public sealed class UsageFileParser
{
    public const int MaxListedWarnings = UsageRowBuilder.MaxListedWarnings;
    private static readonly string[] Required = ["timestamp", "model", "input_tokens", "output_tokens"];
    private static readonly string[] Known =
        ["timestamp", "model", "input_tokens", "output_tokens", "cached_input_tokens", "latency_ms", "cost_usd",
         "feature", "prompt_hash", "prompt", "status", "user_tier", "interactive"];

    private readonly PriceCatalog _catalog;
    private readonly TimeProvider _time;
    private UsageRowBuilder _builder = null!;

    public UsageFileParser(PriceCatalog catalog, TimeProvider time)
    {
        _catalog = catalog;
        _time = time;
    }

    /// <summary>CSV (any case of header names, quoted fields, BOM, CRLF; the separator is detected from the header).</summary>
    public UsageParseResult ParseCsv(Stream stream, CancellationToken ct)
    {
        if (LooksBinary(stream))
        {
            return Fail([], "The file is not text: upload a CSV or JSON Lines usage export.");
        }

        using var text = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);

        SepReader reader;
        try
        {
            reader = Sep.Reader(o => o with
            {
                HasHeader = true,
                Unescape = true,
                Trim = SepTrim.All,
                DisableColCountCheck = true,
                ColNameComparer = StringComparer.OrdinalIgnoreCase,
            }).From(text);
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or NotSupportedException)
        {
            return Fail([], "The CSV header cannot be read: " + e.Message);
        }

        using (reader)
        {
            var header = reader.Header;
            var names = header.ColNames.Select(n => n.Trim()).ToList();
            _builder = new UsageRowBuilder(_catalog, _time, names);
            if (names.Count == 0 || names.All(string.IsNullOrEmpty))
            {
                return Fail(names, "The file is empty: it needs a header row and at least one usage row.");
            }

            var missing = Required.Where(r => !names.Contains(r, StringComparer.OrdinalIgnoreCase)).ToList();
            if (missing.Count > 0)
            {
                return Fail(names, $"Missing required column(s): {string.Join(", ", missing)}. Expected a header with at least {string.Join(", ", Required)}.");
            }

            ReportIgnoredColumns(names);
            int Index(string name)
            {
                for (var i = 0; i < names.Count; i++)
                {
                    if (string.Equals(names[i], name, StringComparison.OrdinalIgnoreCase)) return i;
                }

                return -1;
            }

            int ts = Index("timestamp"), model = Index("model"), input = Index("input_tokens"), output = Index("output_tokens"),
                cached = Index("cached_input_tokens"), latency = Index("latency_ms"), cost = Index("cost_usd"), feature = Index("feature"),
                promptHash = Index("prompt_hash"), prompt = Index("prompt"), status = Index("status"), tier = Index("user_tier"),
                interactive = Index("interactive");
            var columnCount = names.Count;
            var count = 0;
            try
            {
                foreach (var row in reader)
                {
                    if ((++count & 0x3FFF) == 0)
                    {
                        ct.ThrowIfCancellationRequested();
                    }

                    var line = row.LineNumberFrom;
                    if (row.ColCount != columnCount)
                    {
                        if (row.ColCount == 1 && row[0].Span.IsWhiteSpace())
                        {
                            continue;
                        }

                        Skip(line, $"expected {columnCount} columns, found {row.ColCount}");
                        continue;
                    }

                    var raw = new RawRow
                    {
                        Timestamp = row[ts].Span,
                        Model = row[model].Span,
                        Input = row[input].Span,
                        Output = row[output].Span,
                        Cached = cached >= 0 ? row[cached].Span : default,
                        Latency = latency >= 0 ? row[latency].Span : default,
                        Cost = cost >= 0 ? row[cost].Span : default,
                        Feature = feature >= 0 ? row[feature].Span : default,
                        PromptHash = promptHash >= 0 ? row[promptHash].Span : default,
                        Prompt = prompt >= 0 ? row[prompt].Span : default,
                        Status = status >= 0 ? row[status].Span : default,
                        Tier = tier >= 0 ? row[tier].Span : default,
                        Interactive = interactive >= 0 ? row[interactive].Span : default,
                    };
                    AddRow(ref raw, line);
                }
            }
            catch (InvalidDataException e)
            {
                // Sep refuses a structurally broken file (e.g. an unterminated quote running to the end).
                Skip(-1, "the rest of the file could not be read: " + e.Message);
            }

            return Finish("CSV");
        }
    }

    /// <summary>JSON Lines: one object per line with the same field names as the CSV header.</summary>
    public async Task<UsageParseResult> ParseJsonLinesAsync(Stream stream, CancellationToken ct)
    {
        if (LooksBinary(stream))
        {
            return Fail([], "The file is not text: upload a CSV or JSON Lines usage export.");
        }

        using var text = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);

        var columns = new List<string>();
        var seenColumns = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        _builder = new UsageRowBuilder(_catalog, _time, columns);
        var lineNumber = 0;
        while (await text.ReadLineAsync(ct) is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(line);
            }
            catch (JsonException)
            {
                Skip(lineNumber, "not a JSON object");
                continue;
            }

            using (doc)
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                {
                    Skip(lineNumber, "not a JSON object");
                    continue;
                }

                foreach (var p in doc.RootElement.EnumerateObject())
                {
                    if (seenColumns.Add(p.Name))
                    {
                        columns.Add(p.Name);
                    }
                }

                AddJsonRow(doc.RootElement, lineNumber);
            }
        }

        if (columns.Count > 0)
        {
            ReportIgnoredColumns(columns);
        }

        return Finish("JSON Lines");
    }

    /// <summary>The <c>rows</c> array of a JSON upload; warnings name the row's 1-based position.</summary>
    public UsageParseResult ParseJsonRows(JsonElement rows, CancellationToken ct)
    {
        var columns = new List<string>();
        var seenColumns = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        _builder = new UsageRowBuilder(_catalog, _time, columns);
        var n = 0;
        foreach (var row in rows.EnumerateArray())
        {
            n++;
            if ((n & 0x3FFF) == 0)
            {
                ct.ThrowIfCancellationRequested();
            }

            if (row.ValueKind != JsonValueKind.Object)
            {
                Skip(n, "not a JSON object", "row");
                continue;
            }

            foreach (var p in row.EnumerateObject())
            {
                if (seenColumns.Add(p.Name))
                {
                    columns.Add(p.Name);
                }
            }

            AddJsonRow(row, n, "row");
        }

        if (columns.Count > 0)
        {
            ReportIgnoredColumns(columns);
        }

        return Finish("JSON");
    }

    private void AddJsonRow(JsonElement obj, long position, string unit = "line")
    {
        string? Get(string name)
        {
            foreach (var p in obj.EnumerateObject())
            {
                if (string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase))
                {
                    return p.Value.ValueKind switch
                    {
                        JsonValueKind.String => p.Value.GetString(),
                        JsonValueKind.Number => p.Value.GetRawText(),
                        JsonValueKind.True => "true",
                        JsonValueKind.False => "false",
                        _ => null,
                    };
                }
            }

            return null;
        }

        var raw = new RawRow
        {
            Timestamp = Get("timestamp"),
            Model = Get("model"),
            Input = Get("input_tokens"),
            Output = Get("output_tokens"),
            Cached = Get("cached_input_tokens"),
            Latency = Get("latency_ms"),
            Cost = Get("cost_usd"),
            Feature = Get("feature"),
            PromptHash = Get("prompt_hash"),
            Prompt = Get("prompt"),
            Status = Get("status"),
            Tier = Get("user_tier"),
            Interactive = Get("interactive"),
        };
        AddRow(ref raw, position, unit);
    }

    private ref struct RawRow
    {
        public ReadOnlySpan<char> Timestamp;
        public ReadOnlySpan<char> Model;
        public ReadOnlySpan<char> Input;
        public ReadOnlySpan<char> Output;
        public ReadOnlySpan<char> Cached;
        public ReadOnlySpan<char> Latency;
        public ReadOnlySpan<char> Cost;
        public ReadOnlySpan<char> Feature;
        public ReadOnlySpan<char> PromptHash;
        public ReadOnlySpan<char> Prompt;
        public ReadOnlySpan<char> Status;
        public ReadOnlySpan<char> Tier;
        public ReadOnlySpan<char> Interactive;
    }

    private void AddRow(ref RawRow raw, long position, string unit = "line")
    {
        if (!UsageValues.TryParseTimestamp(raw.Timestamp.Trim(), out var ts))
        {
            Skip(position, raw.Timestamp.IsWhiteSpace() ? "timestamp is missing" : "timestamp is not ISO 8601", unit);
            return;
        }

        var modelSpan = raw.Model.Trim();
        if (modelSpan.IsEmpty)
        {
            Skip(position, "model is missing", unit);
            return;
        }

        if (!UsageValues.TryParseCount(raw.Input, required: true, out var input, out var inputError))
        {
            Skip(position, "input_tokens " + inputError, unit);
            return;
        }

        if (!UsageValues.TryParseCount(raw.Output, required: true, out var output, out var outputError))
        {
            Skip(position, "output_tokens " + outputError, unit);
            return;
        }

        if (!UsageValues.TryParseCount(raw.Cached, required: false, out var cached, out var cachedError))
        {
            Skip(position, "cached_input_tokens " + cachedError, unit);
            return;
        }

        var latency = -1;
        if (!raw.Latency.IsWhiteSpace() && !UsageValues.TryParseDuration(raw.Latency, 1, out latency))
        {
            Skip(position, "latency_ms is not a non-negative number", unit);
            return;
        }

        var cost = double.NaN;
        if (!raw.Cost.IsWhiteSpace() && !UsageValues.TryParseMoney(raw.Cost, 1, out cost))
        {
            Skip(position, "cost_usd is not a non-negative number", unit);
            return;
        }

        var status = raw.Status.Trim();
        var interactive = raw.Interactive.Trim();
        var hashSource = raw.PromptHash.Trim();
        if (hashSource.IsEmpty)
        {
            hashSource = raw.Prompt;
        }

        var row = ImportedRow.New();
        row.TimestampMs = ts;
        row.Model = _builder.Intern(modelSpan);
        row.Feature = _builder.Intern(raw.Feature.Trim());
        row.UserTier = _builder.Intern(raw.Tier.Trim());
        row.InputTokens = input;
        row.OutputTokens = output;
        row.CacheReadTokens = cached;
        row.LatencyMs = latency;
        row.CostUsd = cost;
        row.PromptHash = hashSource.IsEmpty ? 0 : UsageValues.Hash(hashSource);
        row.Error = status.Equals("error", StringComparison.OrdinalIgnoreCase) || status.Equals("failed", StringComparison.OrdinalIgnoreCase)
            || status.Equals("fail", StringComparison.OrdinalIgnoreCase) || status.Equals("timeout", StringComparison.OrdinalIgnoreCase);
        if (!interactive.IsEmpty)
        {
            if (interactive.Equals("false", StringComparison.OrdinalIgnoreCase) || interactive.SequenceEqual("0")
                || interactive.Equals("no", StringComparison.OrdinalIgnoreCase))
            {
                row.Interactive = false;
            }
            else if (UsageValues.IsTrue(interactive))
            {
                row.Interactive = true;
            }
        }

        _builder.Add(ref row, position, unit);
    }

    private UsageParseResult Finish(string format) => _builder.Finish(format);

    private UsageParseResult Fail(IReadOnlyList<string> columns, string error)
    {
        // A refusal before the header was read has no builder yet.
        var builder = ReferenceEquals(_builder, null) ? new UsageRowBuilder(_catalog, _time, columns) : _builder;
        _builder = builder;
        return builder.Fail(error);
    }

    private void Skip(long position, string reason, string unit = "line") => _builder.Skip(position, reason, unit);

    private void ReportIgnoredColumns(IReadOnlyList<string> names)
    {
        var ignored = names.Where(n => n.Length > 0 && !Known.Contains(n, StringComparer.OrdinalIgnoreCase)).ToList();
        if (ignored.Count > 0)
        {
            _builder.Result.Warnings.Add($"Column(s) not used by the analysis: {string.Join(", ", ignored.Take(20))}{(ignored.Count > 20 ? ", ..." : string.Empty)}.");
        }
    }

    /// <summary>A NUL, invalid UTF-8 or many control characters in the first block means binary content, not a text export.</summary>
    internal static bool LooksBinary(Stream stream)
    {
        if (!stream.CanSeek)
        {
            return false;
        }

        var position = stream.Position;
        var bytes = new byte[4096];
        var read = stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
        stream.Position = position;
        var block = bytes.AsSpan(0, read);
        if (block.Contains((byte)0))
        {
            return true;
        }

        var control = 0;
        foreach (var b in block)
        {
            if (b < 0x09 || (b > 0x0D && b < 0x20))
            {
                control++;
            }
        }

        var chars = new char[read];
        var status = System.Text.Unicode.Utf8.ToUtf16(block, chars, out _, out _, replaceInvalidSequences: false, isFinalBlock: false);
        return control > read / 20 || status == System.Buffers.OperationStatus.InvalidData;
    }

    /// <summary>FNV-1a over the text: stable across processes (string.GetHashCode is not), and stored.</summary>
    public static ulong Hash(ReadOnlySpan<char> text) => UsageValues.Hash(text);
}
