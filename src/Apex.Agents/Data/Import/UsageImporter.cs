using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Apex.Agents.Catalog;
using nietras.SeparatedValues;

namespace Apex.Agents.Data.Import;

/// <summary>
/// Reads an uploaded usage export whatever it is: gzip or not (magic bytes), CSV, JSON Lines or a whole
/// JSON document (an array, a paged bucket response, an OTLP file). The format is recognised from the
/// CSV header or the first record's keys; Apex's own columns keep their fast path
/// (<see cref="UsageFileParser"/>). A CSV nothing recognises is refused with the columns found and the
/// fields a mapping needs, unless the caller gives that mapping.
/// </summary>
public sealed class UsageImporter(PriceCatalog catalog, TimeProvider time)
{
    private const int PeekBytes = 64 * 1024;

    /// <summary>Vendor formats, most specific first.</summary>
    public static readonly IReadOnlyList<IUsageFormat> Formats =
    [
        new AzureDiagnosticsFormat(), new OpenAiCostCsvFormat(), new OpenAiActivityCsvFormat(), new AnthropicCostCsvFormat(),
        new AnthropicUsageCsvFormat(), new LiteLlmFormat(), new HeliconeFormat(), new PortkeyFormat(), new OpenRouterFormat(),
        new LangfuseFormat(), new BedrockFormat(),
    ];

    private static readonly OpenAiUsageApiFormat OpenAiApi = new();
    private static readonly AnthropicUsageApiFormat AnthropicApi = new();
    private static readonly IUsageFormat Otel = OtlpSpans.Reader();
    private static readonly string[] ApexRequired = ["timestamp", "model", "input_tokens", "output_tokens"];

    /// <summary>A compressed upload may inflate to this many bytes unless the caller says otherwise.</summary>
    public const long DefaultMaxDecompressedBytes = 1L << 30;

    /// <summary>
    /// Reads the upload. <paramref name="maxDecompressedBytes"/> bounds what a gzip upload may inflate to;
    /// beyond it a <see cref="DecompressedTooLargeException"/> stops the read (nothing is returned to store).
    /// </summary>
    public async Task<UsageParseResult> ImportAsync(Stream input, IReadOnlyDictionary<string, string>? mapping, CancellationToken ct,
        long maxDecompressedBytes = DefaultMaxDecompressedBytes)
    {
        var head = new byte[PeekBytes];
        var read = await input.ReadAtLeastAsync(head, 2, throwOnEndOfStream: false, ct);
        Stream stream = new PrefixedStream(head.AsMemory(0, read), input);
        if (read >= 2 && head[0] == 0x1F && head[1] == 0x8B)
        {
            // The trailer's ISIZE tells a cut-off file from a whole one (GZipStream just stops early).
            uint? size = null;
            if (input.CanSeek && input.Length >= 18)
            {
                var position = input.Position;
                var trailer = new byte[4];
                input.Seek(-4, SeekOrigin.End);
                await input.ReadExactlyAsync(trailer, ct);
                input.Position = position;
                size = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(trailer);
            }

            stream = new LimitedReadStream(new GZipStream(stream, CompressionMode.Decompress), maxDecompressedBytes, size);
        }

        // Enough of the (decompressed) text to recognise the container and the header.
        var buffer = new byte[PeekBytes];
        int n;
        try
        {
            n = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, ct);
        }
        catch (InvalidDataException)
        {
            return Refuse([], "The file looks gzip-compressed but cannot be decompressed.");
        }
        catch (TruncatedGzipException e)
        {
            return Refuse([], e.Message + " Upload the whole file.");
        }

        var peek = buffer.AsMemory(0, n);
        var body = new PrefixedStream(peek, stream);
        if (n == 0 || peek.Span.Trim(" \t\r\n\uFEFF"u8).IsEmpty || TrimBom(peek.Span).IsEmpty)
        {
            return Refuse([], "The file is empty: it needs a header row and at least one usage row.");
        }

        if (LooksBinary(peek.Span))
        {
            return Refuse([], "The file is not text: upload a CSV, JSON Lines or JSON usage export (gzip-compressed or not).");
        }

        try
        {
            return await ReadAsync(body, peek, mapping, ct);
        }
        catch (TruncatedGzipException e)
        {
            return Refuse([], e.Message + " Upload the whole file.");
        }
    }

    private async Task<UsageParseResult> ReadAsync(Stream body, ReadOnlyMemory<byte> peek, IReadOnlyDictionary<string, string>? mapping, CancellationToken ct)
    {
        var first = FirstChar(peek.Span);
        if (first == '[' || (first == '{' && IsWholeDocument(peek.Span)))
        {
            return await ReadDocumentAsync(body, mapping, ct);
        }

        if (first == '{')
        {
            var keys = FirstLineKeys(peek.Span);
            if (mapping is { Count: > 0 })
            {
                return MappedFormat.Check(mapping) is { Unknown.Count: 0, Missing.Count: 0 }
                    ? await ReadJsonLinesAsync(body, new MappedFormat(mapping), ct)
                    : Unrecognised([.. keys], $"The mapping must map {string.Join(", ", MappedFormat.FieldsNeeded)} to the file's field names, and only Apex fields.");
            }

            if (keys.IsSupersetOf(ApexRequired))
            {
                return await new UsageFileParser(catalog, time).ParseJsonLinesAsync(body, ct);
            }

            return Find(keys) is { } jsonFormat
                ? await ReadJsonLinesAsync(body, jsonFormat, ct)
                : Unrecognised([.. keys], $"Apex does not recognise these JSON Lines records (keys: {string.Join(", ", keys.Take(30))}). They need {string.Join(", ", MappedFormat.FieldsNeeded)}: "
                    + "upload one of the exports listed in the README, or send a 'mapping' from those fields to your field names.");
        }

        return ReadCsv(body, HeaderOf(peek.Span), mapping, ct);
    }

    private UsageParseResult ReadCsv(Stream body, List<string> header, IReadOnlyDictionary<string, string>? mapping, CancellationToken ct)
    {
        var keys = new HashSet<string>(header, StringComparer.OrdinalIgnoreCase);
        IUsageFormat? format = null;
        if (mapping is { Count: > 0 })
        {
            var (unknown, missing) = MappedFormat.Check(mapping);
            var absent = mapping.Values.Where(c => !keys.Contains(c)).ToList();
            if (unknown.Count > 0 || missing.Count > 0 || absent.Count > 0)
            {
                var problems = new List<string>();
                if (missing.Count > 0) problems.Add($"map {string.Join(", ", missing)}");
                if (unknown.Count > 0) problems.Add($"{string.Join(", ", unknown)} {(unknown.Count == 1 ? "is not an Apex field" : "are not Apex fields")}");
                if (absent.Count > 0) problems.Add($"column(s) {string.Join(", ", absent)} not in the file");
                return Unrecognised(header, $"The mapping does not fit the file: {string.Join("; ", problems)}.");
            }

            format = new MappedFormat(mapping);
        }
        else if (keys.IsSupersetOf(ApexRequired))
        {
            return new UsageFileParser(catalog, time).ParseCsv(body, ct);
        }
        else
        {
            format = Find(keys);
        }

        if (format is null)
        {
            return Unrecognised(header,
                $"Apex does not recognise this CSV (columns: {string.Join(", ", header.Take(30))}). It needs {string.Join(", ", MappedFormat.FieldsNeeded)}: "
                + "upload one of the exports listed in the README, or send a 'mapping' from those fields to your column names.");
        }

        var builder = Start(header, format);
        if (format.Refusal is { } refusal)
        {
            return builder.Fail(refusal, "no_token_counts");
        }

        using var text = new StreamReader(body, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
        using var reader = Sep.Reader(o => o with { HasHeader = true, Unescape = true, Trim = SepTrim.All, DisableColCountCheck = true }).From(text);
        var index = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < header.Count; i++)
        {
            index.TryAdd(header[i], i);
        }

        var record = new CsvRecord(index);
        var count = 0;
        try
        {
            foreach (var row in reader)
            {
                if ((++count & 0x3FFF) == 0)
                {
                    ct.ThrowIfCancellationRequested();
                }

                if (row.ColCount == 1 && row[0].Span.IsWhiteSpace())
                {
                    continue;
                }

                if (row.ColCount != header.Count)
                {
                    builder.Skip(row.LineNumberFrom, $"expected {header.Count} columns, found {row.ColCount}");
                    continue;
                }

                var values = new string[row.ColCount];
                for (var i = 0; i < values.Length; i++)
                {
                    values[i] = row[i].ToString();
                }

                record.Set(values);
                Read(builder, format, record, row.LineNumberFrom, "line");
            }
        }
        catch (InvalidDataException e)
        {
            builder.Skip(-1, "the rest of the file could not be read: " + e.Message);
        }

        return builder.Finish(format.Name);
    }

    private async Task<UsageParseResult> ReadJsonLinesAsync(Stream body, IUsageFormat format, CancellationToken ct)
    {
        var columns = new List<string>();
        var builder = Start(columns, format);
        if (format.Refusal is { } refusal)
        {
            return builder.Fail(refusal, "no_token_counts");
        }

        using var text = new StreamReader(body, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
        var line = 0;
        while (await text.ReadLineAsync(ct) is { } json)
        {
            line++;
            if (string.IsNullOrWhiteSpace(json))
            {
                continue;
            }

            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(json);
            }
            catch (JsonException)
            {
                builder.Skip(line, "not a JSON object");
                continue;
            }

            using (doc)
            {
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                {
                    builder.Skip(line, "not a JSON object");
                    continue;
                }

                if (columns.Count == 0)
                {
                    columns.AddRange(doc.RootElement.EnumerateObject().Select(p => p.Name));
                }

                Read(builder, format, new JsonRecord(doc.RootElement), line, "line");
            }
        }

        return builder.Finish(format.Name);
    }

    /// <summary>A whole JSON document: an array of records, a paged bucket response, an OTLP file or an Azure <c>records</c> envelope.</summary>
    private async Task<UsageParseResult> ReadDocumentAsync(Stream body, IReadOnlyDictionary<string, string>? mapping, CancellationToken ct)
    {
        JsonDocument doc;
        try
        {
            doc = await JsonDocument.ParseAsync(body, default, ct);
        }
        catch (JsonException e)
        {
            return Refuse([], $"The file is not valid JSON or JSON Lines ({e.Message}).");
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("resourceSpans", out var resourceSpans) && resourceSpans.ValueKind == JsonValueKind.Array)
            {
                return ReadOtlp(resourceSpans, ct);
            }

            var records = root;
            if (root.ValueKind == JsonValueKind.Object)
            {
                if (!(root.TryGetProperty("data", out records) || root.TryGetProperty("records", out records) || root.TryGetProperty("rows", out records))
                    || records.ValueKind != JsonValueKind.Array)
                {
                    return Refuse(Names(root), "The JSON document is not a usage export Apex knows: expected an array of records, a usage API response with data[] buckets, or an OTLP file with resourceSpans.");
                }
            }

            if (records.ValueKind != JsonValueKind.Array)
            {
                return Refuse([], "The JSON document is not a usage export Apex knows.");
            }

            var firstRecord = records.EnumerateArray().FirstOrDefault(e => e.ValueKind == JsonValueKind.Object);
            if (firstRecord.ValueKind != JsonValueKind.Object)
            {
                return Refuse([], "The JSON document has no usage records.");
            }

            // Usage API pages: data[] buckets holding results[].
            if (firstRecord.TryGetProperty("results", out var results) && results.ValueKind == JsonValueKind.Array)
            {
                var sample = records.EnumerateArray().SelectMany(b => b.TryGetProperty("results", out var r) && r.ValueKind == JsonValueKind.Array ? r.EnumerateArray() : [])
                    .FirstOrDefault(e => e.ValueKind == JsonValueKind.Object);
                var resultKeys = sample.ValueKind == JsonValueKind.Object ? KeysOf(sample) : new HashSet<string>(StringComparer.OrdinalIgnoreCase);
                IUsageFormat? bucketFormat = AnthropicApi.Recognises(resultKeys) ? AnthropicApi : OpenAiApi.Recognises(resultKeys) ? OpenAiApi : null;
                if (bucketFormat is null)
                {
                    return sample.ValueKind == JsonValueKind.Object
                        ? Refuse([.. resultKeys], "The usage API response's results are not OpenAI completions usage or Anthropic messages usage.")
                        : Refuse([], "The usage API response has no results in its buckets: widen the time range or check the group_by parameters.");
                }

                return ReadBuckets(records, bucketFormat, [.. resultKeys], ct);
            }

            // An array of records: a mapping sent with the file applies to it as to a CSV.
            return ImportRows(records, mapping, ct);
        }
    }

    /// <summary>An array of JSON records (a <c>/spend/logs</c> response, the JSON upload's <c>rows</c>), read with a mapping when one is given.</summary>
    public UsageParseResult ImportRows(JsonElement records, IReadOnlyDictionary<string, string>? mapping, CancellationToken ct)
    {
        var firstRecord = records.EnumerateArray().FirstOrDefault(e => e.ValueKind == JsonValueKind.Object);
        var keys = firstRecord.ValueKind == JsonValueKind.Object ? KeysOf(firstRecord) : new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        IUsageFormat? format;
        if (mapping is { Count: > 0 })
        {
            if (MappedFormat.Check(mapping) is not { Unknown.Count: 0, Missing.Count: 0 })
            {
                return Unrecognised([.. keys], $"The mapping must map {string.Join(", ", MappedFormat.FieldsNeeded)} to the records' field names, and only Apex fields.");
            }

            format = new MappedFormat(mapping);
        }
        else if (keys.Count == 0 || keys.IsSupersetOf(ApexRequired))
        {
            return new UsageFileParser(catalog, time).ParseJsonRows(records, ct);
        }
        else if (Find(keys) is { } found)
        {
            format = found;
        }
        else
        {
            return Unrecognised([.. keys], $"Apex does not recognise these JSON records (keys: {string.Join(", ", keys.Take(30))}). They need {string.Join(", ", MappedFormat.FieldsNeeded)}: "
                + "upload one of the exports listed in the README, or send a 'mapping' from those fields to your field names.");
        }

        var builder = Start([.. keys], format);
        if (format.Refusal is { } refusal)
        {
            return builder.Fail(refusal, "no_token_counts");
        }

        var n = 0;
        foreach (var element in records.EnumerateArray())
        {
            n++;
            if (element.ValueKind != JsonValueKind.Object)
            {
                builder.Skip(n, "not a JSON object", "record");
                continue;
            }

            Read(builder, format, new JsonRecord(element), n, "record");
        }

        return builder.Finish(format.Name);
    }

    private UsageParseResult ReadBuckets(JsonElement buckets, IUsageFormat format, List<string> columns, CancellationToken ct)
    {
        var builder = Start(columns, format);
        var b = 0;
        foreach (var bucket in buckets.EnumerateArray())
        {
            b++;
            ct.ThrowIfCancellationRequested();
            if (bucket.ValueKind != JsonValueKind.Object || !bucket.TryGetProperty("results", out var results) || results.ValueKind != JsonValueKind.Array)
            {
                builder.Skip(b, "not a usage bucket", "bucket");
                continue;
            }

            var parent = new JsonRecord(bucket);
            var i = 0;
            foreach (var result in results.EnumerateArray())
            {
                i++;
                var row = ImportedRow.New();
                if (!format.TryRead(new JsonRecord(result, parent), ref row, out var skip))
                {
                    if (skip is not null)
                    {
                        builder.Skip(b, $"result {i}: {skip}", "bucket");
                    }

                    continue;
                }

                builder.Add(ref row, b, "bucket");
            }
        }

        return builder.Finish(format.Name);
    }

    private UsageParseResult ReadOtlp(JsonElement resourceSpans, CancellationToken ct)
    {
        var builder = Start(["resourceSpans"], Otel);
        var n = 0;
        foreach (var resource in resourceSpans.EnumerateArray())
        {
            ct.ThrowIfCancellationRequested();
            var resourceAttributes = new Dictionary<string, string>(StringComparer.Ordinal);
            if (resource.TryGetProperty("resource", out var res))
            {
                AddAttributes(res, resourceAttributes);
            }

            if (!resource.TryGetProperty("scopeSpans", out var scopes) || scopes.ValueKind != JsonValueKind.Array)
            {
                continue;
            }

            foreach (var scope in scopes.EnumerateArray())
            {
                if (!scope.TryGetProperty("spans", out var spans) || spans.ValueKind != JsonValueKind.Array)
                {
                    continue;
                }

                foreach (var span in spans.EnumerateArray())
                {
                    n++;
                    var values = new Dictionary<string, string>(resourceAttributes, StringComparer.Ordinal);
                    AddAttributes(span, values);
                    if (span.TryGetProperty("startTimeUnixNano", out var start) && JsonPaths.Text(start) is { } s)
                    {
                        values[OtlpSpans.Start] = s;
                    }

                    if (span.TryGetProperty("endTimeUnixNano", out var end) && JsonPaths.Text(end) is { } e)
                    {
                        values[OtlpSpans.End] = e;
                    }

                    if (span.TryGetProperty("name", out var name) && JsonPaths.Text(name) is { } spanName)
                    {
                        values[OtlpSpans.SpanName] = spanName;
                    }

                    if (span.TryGetProperty("status", out var status) && status.ValueKind == JsonValueKind.Object && status.TryGetProperty("code", out var code)
                        && JsonPaths.Text(code) is { } c)
                    {
                        values[OtlpSpans.Status] = c;
                    }

                    Read(builder, Otel, new DictionaryRecord(values), n, "span");
                }
            }
        }

        return builder.Finish(Otel.Name);
    }

    /// <summary>OTLP attributes: <c>[{key, value:{stringValue|intValue|doubleValue|boolValue}}]</c>.</summary>
    private static void AddAttributes(JsonElement owner, Dictionary<string, string> values)
    {
        if (!owner.TryGetProperty("attributes", out var attributes) || attributes.ValueKind != JsonValueKind.Array)
        {
            return;
        }

        foreach (var a in attributes.EnumerateArray())
        {
            if (a.ValueKind != JsonValueKind.Object || !a.TryGetProperty("key", out var key) || key.GetString() is not { } k
                || !a.TryGetProperty("value", out var v) || v.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            foreach (var p in v.EnumerateObject())
            {
                if (JsonPaths.Text(p.Value) is { } text)
                {
                    values[k] = text;
                }

                break;
            }
        }
    }

    private static void Read(UsageRowBuilder builder, IUsageFormat format, IUsageRecord record, long position, string unit)
    {
        var row = ImportedRow.New();
        if (format.TryRead(record, ref row, out var skip))
        {
            builder.Add(ref row, position, unit);
        }
        else if (skip is not null)
        {
            builder.Skip(position, skip, unit);
        }
    }

    private UsageRowBuilder Start(IReadOnlyList<string> columns, IUsageFormat format)
    {
        var builder = new UsageRowBuilder(catalog, time, columns);
        builder.Result.SourceFormat = format.Id;
        builder.Result.SourceFormatName = format.Name;
        if (format.Note is { } note)
        {
            builder.Result.Warnings.Add(note);
        }

        return builder;
    }

    private static IUsageFormat? Find(IReadOnlySet<string> keys) => Formats.FirstOrDefault(f => f.Recognises(keys));

    private UsageParseResult Refuse(IReadOnlyList<string> columns, string error) =>
        new UsageRowBuilder(catalog, time, columns).Fail(error);

    private UsageParseResult Unrecognised(IReadOnlyList<string> columns, string error)
    {
        var result = new UsageRowBuilder(catalog, time, columns).Fail(error, "unrecognized_format");
        result.FieldsNeeded = MappedFormat.FieldsNeeded;
        result.FieldsOptional = MappedFormat.FieldsOptional;
        return result;
    }

    private static HashSet<string> KeysOf(JsonElement obj) =>
        new(obj.EnumerateObject().Select(p => p.Name), StringComparer.OrdinalIgnoreCase);

    private static List<string> Names(JsonElement obj) => [.. obj.EnumerateObject().Select(p => p.Name)];

    private static ReadOnlySpan<byte> TrimBom(ReadOnlySpan<byte> s) => s.StartsWith("\uFEFF"u8) ? s[3..] : s;

    private static char FirstChar(ReadOnlySpan<byte> s)
    {
        foreach (var b in TrimBom(s))
        {
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
            {
                return (char)b;
            }
        }

        return '\0';
    }

    /// <summary>A '{' file is one document (not JSON Lines) when its first line is not a whole object, or is a known envelope.</summary>
    private static bool IsWholeDocument(ReadOnlySpan<byte> s)
    {
        s = TrimBom(s).TrimStart(" \t\r\n"u8);
        var end = s.IndexOf((byte)'\n');
        var line = end < 0 ? s : s[..end];
        try
        {
            using var doc = JsonDocument.Parse(line.ToArray());
            return doc.RootElement.ValueKind != JsonValueKind.Object
                || doc.RootElement.TryGetProperty("resourceSpans", out _)
                || (doc.RootElement.TryGetProperty("data", out var d) && d.ValueKind == JsonValueKind.Array)
                || (doc.RootElement.TryGetProperty("records", out var r) && r.ValueKind == JsonValueKind.Array);
        }
        catch (JsonException)
        {
            return true;
        }
    }

    private static HashSet<string> FirstLineKeys(ReadOnlySpan<byte> s)
    {
        s = TrimBom(s).TrimStart(" \t\r\n"u8);
        var end = s.IndexOf((byte)'\n');
        using var doc = JsonDocument.Parse((end < 0 ? s : s[..end]).ToArray());
        return KeysOf(doc.RootElement);
    }

    private static List<string> HeaderOf(ReadOnlySpan<byte> s)
    {
        var text = Encoding.UTF8.GetString(TrimBom(s));
        var end = text.IndexOf('\n', StringComparison.Ordinal);
        var line = (end < 0 ? text : text[..end]).TrimEnd('\r');
        using var reader = Sep.Reader(o => o with { HasHeader = true, Unescape = true, Trim = SepTrim.All }).FromText(line + "\n");
        return [.. reader.Header.ColNames.Select(c => c.Trim())];
    }

    /// <summary>A NUL, invalid UTF-8 or many control characters in the first block means binary content, not a text export.</summary>
    private static bool LooksBinary(ReadOnlySpan<byte> block)
    {
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

        var chars = new char[block.Length];
        var status = System.Text.Unicode.Utf8.ToUtf16(block, chars, out _, out _, replaceInvalidSequences: false, isFinalBlock: false);
        return control > block.Length / 20 || status == System.Buffers.OperationStatus.InvalidData;
    }
}
