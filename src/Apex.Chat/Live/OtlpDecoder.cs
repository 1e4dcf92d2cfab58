using System.Text.Json;
using System.Text.Json.Nodes;
using Apex.Agents.Catalog;
using Apex.Agents.Data;
using Apex.Agents.Data.Import;
using Google.Protobuf;
using OpenTelemetry.Proto.Collector.Trace.V1;
using OpenTelemetry.Proto.Common.V1;

namespace Apex.Chat.Live;

/// <summary>A body that is not an OTLP trace export: answered 400 with a google.rpc.Status, nothing stored.</summary>
internal sealed class MalformedOtlpException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>What one export request became.</summary>
internal sealed record OtlpBatch(UsageParseResult Result, UsageColumns Rows, int Spans, int Ignored, int Rejected, string? RejectionMessage);

/// <summary>
/// Decodes OTLP/HTTP trace exports (protobuf, or OTLP JSON: lowerCamelCase names, hex trace and span
/// ids, enums as numbers or names, 64-bit integers as strings) and maps each span to a usage row with
/// the same reader the OTLP JSON file import uses (<see cref="OtlpSpans"/>) and the same row rules
/// (<see cref="UsageRowBuilder"/>: model required, catalog pricing, no future timestamps).
/// </summary>
internal sealed class OtlpDecoder(PriceCatalog catalog, TimeProvider time, IUsageFormat reader)
{
    private static readonly JsonParser Json = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true).WithRecursionLimit(64));
    private static readonly string[] IdFields = ["traceId", "spanId", "parentSpanId"];

    public static ExportTraceServiceRequest ParseProtobuf(ReadOnlySpan<byte> body)
    {
        try
        {
            return ExportTraceServiceRequest.Parser.ParseFrom(body);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new MalformedOtlpException("The body is not a protobuf ExportTraceServiceRequest: " + e.Message, e);
        }
    }

    public static ExportTraceServiceRequest ParseJson(ReadOnlySpan<byte> body)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(body, documentOptions: new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new MalformedOtlpException("The body is not valid JSON: " + e.Message, e);
        }

        if (root is not JsonObject obj)
        {
            throw new MalformedOtlpException("The body must be a JSON ExportTraceServiceRequest object ({\"resourceSpans\": [...]}).");
        }

        // OTLP JSON writes trace and span ids as hex where proto3 JSON would write base64.
        HexIdsToBase64(obj);
        try
        {
            return Json.Parse<ExportTraceServiceRequest>(obj.ToJsonString());
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or InvalidJsonException or FormatException)
        {
            throw new MalformedOtlpException("The body is not an OTLP JSON ExportTraceServiceRequest: " + e.Message, e);
        }
    }

    /// <summary>Maps every span; GenAI spans that break a row rule are rejected, other spans ignored.</summary>
    public OtlpBatch Map(ExportTraceServiceRequest request, CancellationToken ct)
    {
        var builder = new UsageRowBuilder(catalog, time, ["resourceSpans"]);
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var record = new DictionaryRecord(values);
        var resourceValues = new Dictionary<string, string>(StringComparer.Ordinal);
        int spans = 0, ignored = 0, rejected = 0;
        string? firstRejection = null;
        foreach (var resourceSpans in request.ResourceSpans)
        {
            ct.ThrowIfCancellationRequested();
            resourceValues.Clear();
            if (resourceSpans.Resource is { } resource)
            {
                AddAttributes(resource.Attributes, resourceValues);
            }

            foreach (var scope in resourceSpans.ScopeSpans)
            {
                foreach (var span in scope.Spans)
                {
                    spans++;
                    values.Clear();
                    foreach (var (k, v) in resourceValues)
                    {
                        values[k] = v;
                    }

                    AddAttributes(span.Attributes, values);
                    values[OtlpSpans.Start] = span.StartTimeUnixNano.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    values[OtlpSpans.End] = span.EndTimeUnixNano.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    values[OtlpSpans.SpanName] = span.Name;
                    values[OtlpSpans.Status] = ((int)(span.Status?.Code ?? 0)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                    var row = ImportedRow.New();
                    if (!reader.TryRead(record, ref row, out var skip))
                    {
                        if (skip is null)
                        {
                            ignored++;
                        }
                        else
                        {
                            rejected++;
                            firstRejection ??= $"span {spans} ('{span.Name}'): {skip}";
                        }

                        continue;
                    }

                    var before = builder.Result.Rows;
                    builder.Add(ref row, spans, "span");
                    if (builder.Result.Rows == before)
                    {
                        rejected++;
                        firstRejection ??= builder.Result.Warnings.Count > 0 ? builder.Result.Warnings[^1] : $"span {spans} was refused";
                    }
                }
            }
        }

        // Builder warnings are per upload; a live batch reports its refusals through partial_success instead.
        var before2 = builder.Result.Rows;
        var result = before2 == 0 ? builder.Result : builder.Finish(OtlpSpans.FormatId);
        var rows = new UsageColumns(Math.Max(16, result.Rows));
        foreach (var chunk in result.Chunks)
        {
            rows.AppendEncoded(chunk);
        }

        var message = rejected == 0 ? null
            : rejected == 1 ? $"1 span was rejected: {firstRejection}"
            : $"{rejected} spans were rejected; the first: {firstRejection}";
        return new OtlpBatch(result, rows, spans, ignored, rejected, message);
    }

    /// <summary>Attribute values as text: strings, numbers and booleans (arrays and maps are not usage values).</summary>
    private static void AddAttributes(Google.Protobuf.Collections.RepeatedField<KeyValue> attributes, Dictionary<string, string> values)
    {
        foreach (var a in attributes)
        {
            if (a.Value is not { } v || string.IsNullOrEmpty(a.Key))
            {
                continue;
            }

            string? text = v.ValueCase switch
            {
                AnyValue.ValueOneofCase.StringValue => v.StringValue,
                AnyValue.ValueOneofCase.IntValue => v.IntValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
                AnyValue.ValueOneofCase.DoubleValue => v.DoubleValue.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
                AnyValue.ValueOneofCase.BoolValue => v.BoolValue ? "true" : "false",
                _ => null,
            };
            if (text is not null)
            {
                values[a.Key] = text;
            }
        }
    }

    private static void HexIdsToBase64(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var field in IdFields)
                {
                    if (obj[field] is JsonValue value && value.TryGetValue<string>(out var hex) && hex.Length > 0)
                    {
                        byte[] bytes;
                        try
                        {
                            bytes = Convert.FromHexString(hex);
                        }
                        catch (FormatException e)
                        {
                            throw new MalformedOtlpException($"{field} '{(hex.Length > 40 ? hex[..40] + "…" : hex)}' is not hex (OTLP JSON writes ids as hex).", e);
                        }

                        obj[field] = Convert.ToBase64String(bytes);
                    }
                }

                foreach (var (_, child) in obj)
                {
                    if (child is JsonObject or JsonArray)
                    {
                        HexIdsToBase64(child);
                    }
                }

                break;
            case JsonArray array:
                foreach (var child in array)
                {
                    HexIdsToBase64(child);
                }

                break;
        }
    }
}
