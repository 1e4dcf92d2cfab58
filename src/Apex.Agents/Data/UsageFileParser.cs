using System.Globalization;
using System.Text;
using System.Text.Json;
using Apex.Agents.Catalog;
using nietras.SeparatedValues;

namespace Apex.Agents.Data;

/// <summary>The outcome of parsing an upload: stored chunks plus what the dataset routes answer.</summary>
public sealed class UsageParseResult
{
    public int Rows { get; internal set; }
    public required IReadOnlyList<string> Columns { get; init; }
    public DateTimeOffset? PeriodStart { get; internal set; }
    public DateTimeOffset? PeriodEnd { get; internal set; }
    public List<string> Warnings { get; } = [];
    public List<byte[]> Chunks { get; } = [];

    /// <summary>Set when the upload as a whole is unusable (no header, no valid row): the route answers 422.</summary>
    public string? Error { get; internal set; }
}

/// <summary>
/// Parses usage exports (CSV with Sep, JSON Lines, JSON rows) as a stream into stored chunks. A bad
/// row never fails the upload: it is skipped and reported with its line number. Rules:
/// required fields are timestamp, model, input_tokens and output_tokens; negative numbers and
/// timestamps in the future are skipped; a row without <c>cost_usd</c> is priced from the catalog,
/// and when its model is not in the catalog its cost is unknown (NaN): the analysis counts the call
/// but leaves it out of every dollar figure and says how many calls that is, never treating it as $0.
/// </summary>
public sealed class UsageFileParser
{
    public const int MaxListedWarnings = 50;
    private static readonly string[] Required = ["timestamp", "model", "input_tokens", "output_tokens"];
    private static readonly string[] Known =
        ["timestamp", "model", "input_tokens", "output_tokens", "cached_input_tokens", "latency_ms", "cost_usd",
         "feature", "prompt_hash", "prompt", "status", "user_tier", "interactive"];

    /// <summary>Tolerated clock skew before a timestamp counts as "in the future".</summary>
    private static readonly TimeSpan FutureTolerance = TimeSpan.FromMinutes(10);

    private readonly PriceCatalog _catalog;
    private readonly long _nowMs;
    private readonly UsageColumns _chunk = new();
    private readonly Dictionary<string, (int Calls, int Unpriced)> _unknownModels = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, string> _modelNames = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ModelPrice?> _prices = new(StringComparer.Ordinal);
    private readonly List<string> _rowWarnings = [];
    private int _skipped;
    private int _moreWarnings;
    private long _minTs = long.MaxValue;
    private long _maxTs = long.MinValue;
    private UsageParseResult _result = null!;

    public UsageFileParser(PriceCatalog catalog, TimeProvider time)
    {
        _catalog = catalog;
        _nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
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
            _result = new UsageParseResult { Columns = names };
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
        _result = new UsageParseResult { Columns = columns };
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
        _result = new UsageParseResult { Columns = columns };
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
        if (!TryParseTimestamp(raw.Timestamp.Trim(), out var ts))
        {
            Skip(position, raw.Timestamp.IsWhiteSpace() ? "timestamp is missing" : "timestamp is not ISO 8601", unit);
            return;
        }

        if (ts > _nowMs + (long)FutureTolerance.TotalMilliseconds)
        {
            Skip(position, "timestamp is in the future", unit);
            return;
        }

        var modelSpan = raw.Model.Trim();
        if (modelSpan.IsEmpty)
        {
            Skip(position, "model is missing", unit);
            return;
        }

        if (!TryParseCount(raw.Input, required: true, out var input, out var inputError))
        {
            Skip(position, "input_tokens " + inputError, unit);
            return;
        }

        if (!TryParseCount(raw.Output, required: true, out var output, out var outputError))
        {
            Skip(position, "output_tokens " + outputError, unit);
            return;
        }

        if (!TryParseCount(raw.Cached, required: false, out var cached, out var cachedError))
        {
            Skip(position, "cached_input_tokens " + cachedError, unit);
            return;
        }

        if (cached > input)
        {
            Skip(position, "cached_input_tokens is larger than input_tokens", unit);
            return;
        }

        var latency = -1;
        if (!raw.Latency.IsWhiteSpace())
        {
            if (!double.TryParse(raw.Latency.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var latencyValue)
                || latencyValue < 0 || latencyValue > int.MaxValue)
            {
                Skip(position, "latency_ms is not a non-negative number", unit);
                return;
            }

            latency = (int)Math.Round(latencyValue);
        }

        var model = Intern(modelSpan);
        if (!_prices.TryGetValue(model, out var price))
        {
            _prices[model] = price = _catalog.Find(model);
        }

        byte flags = 0;
        double cost;
        if (!raw.Cost.IsWhiteSpace())
        {
            var costSpan = raw.Cost.Trim();
            if (costSpan.Length > 0 && costSpan[0] == '$')
            {
                costSpan = costSpan[1..];
            }

            if (!double.TryParse(costSpan, NumberStyles.Float, CultureInfo.InvariantCulture, out cost) || cost < 0 || !double.IsFinite(cost))
            {
                Skip(position, "cost_usd is not a non-negative number", unit);
                return;
            }
        }
        else if (price is not null)
        {
            cost = price.CostOf(input, cached, 0, output, 1);
            flags |= UsageFlags.CostFromCatalog;
        }
        else
        {
            cost = double.NaN;
        }

        if (price is null)
        {
            _unknownModels.TryGetValue(model, out var unknown);
            _unknownModels[model] = (unknown.Calls + 1, unknown.Unpriced + (double.IsNaN(cost) ? 1 : 0));
        }

        var status = raw.Status.Trim();
        if (status.Equals("error", StringComparison.OrdinalIgnoreCase) || status.Equals("failed", StringComparison.OrdinalIgnoreCase)
            || status.Equals("fail", StringComparison.OrdinalIgnoreCase) || status.Equals("timeout", StringComparison.OrdinalIgnoreCase))
        {
            flags |= UsageFlags.Error;
        }

        var interactive = raw.Interactive.Trim();
        if (!interactive.IsEmpty)
        {
            if (interactive.Equals("false", StringComparison.OrdinalIgnoreCase) || interactive.SequenceEqual("0")
                || interactive.Equals("no", StringComparison.OrdinalIgnoreCase))
            {
                flags |= UsageFlags.InteractiveKnown;
            }
            else if (interactive.Equals("true", StringComparison.OrdinalIgnoreCase) || interactive.SequenceEqual("1")
                     || interactive.Equals("yes", StringComparison.OrdinalIgnoreCase))
            {
                flags |= UsageFlags.InteractiveKnown | UsageFlags.Interactive;
            }
        }

        var hashSource = raw.PromptHash.Trim();
        if (hashSource.IsEmpty)
        {
            hashSource = raw.Prompt;
        }

        var row = new UsageRow
        {
            TimestampMs = ts,
            Model = model,
            Feature = Intern(raw.Feature.Trim()),
            UserTier = Intern(raw.Tier.Trim()),
            InputTokens = input,
            OutputTokens = output,
            CachedInputTokens = cached,
            LatencyMs = latency,
            CostUsd = cost,
            PromptHash = hashSource.IsEmpty ? 0 : Hash(hashSource),
            Requests = 1,
            Flags = flags,
        };
        _chunk.Add(row);
        _result.Rows++;
        _minTs = Math.Min(_minTs, ts);
        _maxTs = Math.Max(_maxTs, ts);
        if (_chunk.Count == UsageColumns.ChunkRows)
        {
            _result.Chunks.Add(_chunk.Encode());
            _chunk.Clear();
        }
    }

    /// <summary>One string instance per distinct value: a million rows share a few dozen models and features.</summary>
    private string Intern(ReadOnlySpan<char> span)
    {
        if (span.IsEmpty)
        {
            return string.Empty;
        }

        var lookup = _modelNames.GetAlternateLookup<ReadOnlySpan<char>>();
        if (lookup.TryGetValue(span, out var name))
        {
            return name;
        }

        name = span.ToString();
        _modelNames[name] = name;
        return name;
    }

    private UsageParseResult Finish(string format)
    {
        if (_chunk.Count > 0)
        {
            _result.Chunks.Add(_chunk.Encode());
            _chunk.Clear();
        }

        var warnings = _result.Warnings;
        foreach (var (model, (calls, unpriced)) in _unknownModels.OrderByDescending(m => m.Value.Calls).ThenBy(m => m.Key, StringComparer.Ordinal).Take(20))
        {
            warnings.Add(unpriced > 0
                ? $"Unknown model '{model}' ({calls} calls) is not in the price catalog: {unpriced} of its calls have no cost_usd, so their cost is unknown and left out of cost figures (not counted as $0)."
                : $"Unknown model '{model}' ({calls} calls) is not in the price catalog: its cost_usd values are used, but no cheaper model can be recommended for it.");
        }

        if (_unknownModels.Count > 20)
        {
            warnings.Add($"... and {_unknownModels.Count - 20} more unknown models.");
        }

        warnings.AddRange(_rowWarnings);
        if (_moreWarnings > 0)
        {
            warnings.Add($"... and {_moreWarnings} more skipped rows (the first {MaxListedWarnings} are listed).");
        }

        if (_skipped > 0)
        {
            warnings.Add($"{_skipped} row(s) skipped in total.");
        }

        if (_result.Rows == 0)
        {
            _result.Error = _skipped > 0
                ? $"The {format} file has no valid usage row ({_skipped} row(s) skipped; see warnings)."
                : $"The {format} file has no usage rows.";
            _result.Chunks.Clear();
            return _result;
        }

        _result.PeriodStart = DateTimeOffset.FromUnixTimeMilliseconds(_minTs);
        _result.PeriodEnd = DateTimeOffset.FromUnixTimeMilliseconds(_maxTs);
        return _result;
    }

    private UsageParseResult Fail(IReadOnlyList<string> columns, string error)
    {
        _result ??= new UsageParseResult { Columns = columns };
        _result.Error = error;
        _result.Chunks.Clear();
        return _result;
    }

    private void ReportIgnoredColumns(IReadOnlyList<string> names)
    {
        var ignored = names.Where(n => n.Length > 0 && !Known.Contains(n, StringComparer.OrdinalIgnoreCase)).ToList();
        if (ignored.Count > 0)
        {
            _result.Warnings.Add($"Column(s) not used by the analysis: {string.Join(", ", ignored.Take(20))}{(ignored.Count > 20 ? ", ..." : string.Empty)}.");
        }
    }

    private void Skip(long position, string reason, string unit = "line")
    {
        _skipped++;
        if (_rowWarnings.Count < MaxListedWarnings)
        {
            _rowWarnings.Add(position < 0 ? $"Skipped: {reason}." : $"{char.ToUpperInvariant(unit[0])}{unit[1..]} {position}: skipped, {reason}.");
        }
        else
        {
            _moreWarnings++;
        }
    }

    /// <summary>A NUL, invalid UTF-8 or many control characters in the first block means binary content, not a text export.</summary>
    private static bool LooksBinary(Stream stream)
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

    private static bool TryParseTimestamp(ReadOnlySpan<char> span, out long unixMs)
    {
        unixMs = 0;
        if (span.IsEmpty)
        {
            return false;
        }

        if (TryParseUtcIso(span, out unixMs))
        {
            return true;
        }

        if (DateTimeOffset.TryParse(span, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var dto))
        {
            unixMs = dto.ToUnixTimeMilliseconds();
            return true;
        }

        // Epoch seconds or milliseconds, as some exporters write them.
        if (long.TryParse(span, NumberStyles.None, CultureInfo.InvariantCulture, out var epoch))
        {
            unixMs = epoch < 100_000_000_000 ? epoch * 1000 : epoch;
            return unixMs is > 0 and < 253402300799999;
        }

        return false;
    }

    /// <summary>
    /// The shape exporters write almost always (<c>yyyy-MM-ddTHH:mm:ss[.fff…]Z</c>), parsed without the
    /// general parser, which costs several times more per row; anything else goes the general way.
    /// </summary>
    private static bool TryParseUtcIso(ReadOnlySpan<char> s, out long unixMs)
    {
        unixMs = 0;
        if (s.Length < 20 || s[^1] != 'Z' || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
        {
            return false;
        }

        if (!Digits(s, 0, 4, out var year) || !Digits(s, 5, 2, out var month) || !Digits(s, 8, 2, out var day)
            || !Digits(s, 11, 2, out var hour) || !Digits(s, 14, 2, out var minute) || !Digits(s, 17, 2, out var second))
        {
            return false;
        }

        var ms = 0;
        var end = s.Length - 1;
        if (end > 19)
        {
            if (s[19] != '.' || end == 20)
            {
                return false;
            }

            var scale = 100;
            for (var i = 20; i < end; i++)
            {
                var d = s[i] - '0';
                if ((uint)d > 9)
                {
                    return false;
                }

                ms += d * scale;
                scale /= 10;
            }
        }

        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        unixMs = (long)(new DateTime(year, month, day, hour, minute, second, DateTimeKind.Utc) - DateTime.UnixEpoch).TotalMilliseconds + ms;
        return true;
    }

    private static bool Digits(ReadOnlySpan<char> s, int start, int count, out int value)
    {
        value = 0;
        for (var i = start; i < start + count; i++)
        {
            var d = s[i] - '0';
            if ((uint)d > 9)
            {
                return false;
            }

            value = value * 10 + d;
        }

        return true;
    }

    private static bool TryParseCount(ReadOnlySpan<char> span, bool required, out int value, out string error)
    {
        value = 0;
        error = string.Empty;
        span = span.Trim();
        if (span.IsEmpty)
        {
            error = "is missing";
            return !required;
        }

        if (long.TryParse(span, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole))
        {
            if (whole < 0)
            {
                error = "is negative";
                return false;
            }

            if (whole > int.MaxValue)
            {
                error = "is too large";
                return false;
            }

            value = (int)whole;
            return true;
        }

        if (double.TryParse(span, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) && d == Math.Floor(d))
        {
            if (d < 0)
            {
                error = "is negative";
                return false;
            }

            if (d > int.MaxValue)
            {
                error = "is too large";
                return false;
            }

            value = (int)d;
            return true;
        }

        error = "is not a whole number";
        return false;
    }

    /// <summary>FNV-1a over the text: stable across processes (string.GetHashCode is not), and stored.</summary>
    public static ulong Hash(ReadOnlySpan<char> text)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in text)
        {
            hash ^= c;
            hash *= 1099511628211UL;
        }

        return hash == 0 ? 1 : hash;
    }
}
