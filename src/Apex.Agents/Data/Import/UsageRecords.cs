using System.Text.Json;

namespace Apex.Agents.Data.Import;

/// <summary>
/// One record of an export, whatever its container (a CSV row, a JSON object, an OTLP span): values by
/// name. A dotted path reaches nested JSON objects, including JSON written inside a string or a CSV
/// cell (LiteLLM's <c>metadata</c>); names match case-insensitively.
/// </summary>
public interface IUsageRecord
{
    /// <summary>The value as text (numbers as written, booleans as true/false), or null when absent or null.</summary>
    string? Get(string path);
}

/// <summary>A CSV row whose cells were read into strings; a JSON cell is parsed once per row however many paths read it.</summary>
public sealed class CsvRecord(IReadOnlyDictionary<string, int> index) : IUsageRecord
{
    private readonly Dictionary<int, JsonDocument?> _json = [];
    private string[] _values = [];

    internal void Set(string[] values)
    {
        foreach (var doc in _json.Values)
        {
            doc?.Dispose();
        }

        _json.Clear();
        _values = values;
    }

    public string? Get(string path)
    {
        if (index.TryGetValue(path, out var i))
        {
            return i < _values.Length ? _values[i] : null;
        }

        var dot = path.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || !index.TryGetValue(path[..dot], out i) || i >= _values.Length)
        {
            return null;
        }

        if (!_json.TryGetValue(i, out var doc))
        {
            _json[i] = doc = JsonPaths.TryParse(_values[i]);
        }

        return doc is null ? null : JsonPaths.Find(doc.RootElement, path[(dot + 1)..]);
    }
}

/// <summary>A JSON object; a name it lacks is looked up in its parent (a bucket's <c>start_time</c> for its results).</summary>
public sealed class JsonRecord(JsonElement element, JsonRecord? parent = null) : IUsageRecord
{
    public JsonElement Element { get; } = element;

    public string? Get(string path) => JsonPaths.Find(Element, path) ?? parent?.Get(path);
}

/// <summary>Flat name/value pairs (OTLP attributes, whose names contain dots themselves).</summary>
public sealed class DictionaryRecord(Dictionary<string, string> values) : IUsageRecord
{
    public string? Get(string path) => values.TryGetValue(path, out var v) ? v : null;
}

internal static class JsonPaths
{
    public static string? Find(JsonElement element, string path)
    {
        var current = element;
        var rest = path.AsSpan();
        while (true)
        {
            var dot = rest.IndexOf('.');
            var segment = dot < 0 ? rest : rest[..dot];
            if (current.ValueKind == JsonValueKind.String && current.GetString() is { } inner && LooksLikeJson(inner))
            {
                return FromText(inner, rest.ToString());
            }

            if (current.ValueKind != JsonValueKind.Object || !TryProperty(current, segment, out current))
            {
                return null;
            }

            if (dot < 0)
            {
                return Text(current);
            }

            rest = rest[(dot + 1)..];
        }
    }

    public static JsonDocument? TryParse(string? json)
    {
        if (json is null || !LooksLikeJson(json))
        {
            return null;
        }

        try
        {
            return JsonDocument.Parse(json);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>A path inside JSON held as text (a string value or a CSV cell).</summary>
    public static string? FromText(string? json, string path)
    {
        if (json is null || !LooksLikeJson(json))
        {
            return null;
        }

        try
        {
            using var doc = JsonDocument.Parse(json);
            return Find(doc.RootElement, path);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static bool LooksLikeJson(string s)
    {
        var t = s.AsSpan().TrimStart();
        return t.Length > 1 && t[0] == '{';
    }

    private static bool TryProperty(JsonElement obj, ReadOnlySpan<char> name, out JsonElement value)
    {
        if (obj.TryGetProperty(name, out value))
        {
            return true;
        }

        foreach (var p in obj.EnumerateObject())
        {
            if (name.Equals(p.Name, StringComparison.OrdinalIgnoreCase))
            {
                value = p.Value;
                return true;
            }
        }

        return false;
    }

    public static string? Text(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => value.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Null or JsonValueKind.Undefined => null,
        _ => value.GetRawText(),
    };
}

/// <summary>Typed reads with the skip reason a bad value gives.</summary>
public static class UsageRecordExtensions
{
    /// <summary>The first of <paramref name="paths"/> with a non-blank value.</summary>
    public static string? First(this IUsageRecord record, params ReadOnlySpan<string> paths)
    {
        foreach (var path in paths)
        {
            var v = record.Get(path);
            if (!string.IsNullOrWhiteSpace(v))
            {
                return v.Trim();
            }
        }

        return null;
    }

    public static bool TryCount(this IUsageRecord record, string path, bool required, out long value, out string? skip)
    {
        skip = null;
        if (UsageValues.TryParseCount(record.Get(path), required, out var v, out var error))
        {
            value = v;
            return true;
        }

        value = 0;
        skip = $"{path} {error}";
        return false;
    }

    /// <summary>The first present count of <paramref name="paths"/>; 0 when none is there.</summary>
    public static bool TryCountOf(this IUsageRecord record, out long value, out string? skip, params ReadOnlySpan<string> paths)
    {
        foreach (var path in paths)
        {
            if (!string.IsNullOrWhiteSpace(record.Get(path)))
            {
                return record.TryCount(path, required: true, out value, out skip);
            }
        }

        value = 0;
        skip = null;
        return true;
    }

    public static bool TryTime(this IUsageRecord record, string path, out long unixMs, out string? skip)
    {
        skip = null;
        var text = record.Get(path);
        if (UsageValues.TryParseTimestamp(text, out unixMs))
        {
            return true;
        }

        skip = string.IsNullOrWhiteSpace(text) ? $"{path} is missing" : $"{path} is not a timestamp";
        return false;
    }

    /// <summary>An optional amount (NaN when blank); <paramref name="divisor"/> 100 for cents.</summary>
    public static bool TryMoney(this IUsageRecord record, string path, double divisor, out double usd, out string? skip)
    {
        skip = null;
        usd = double.NaN;
        var text = record.Get(path);
        if (string.IsNullOrWhiteSpace(text))
        {
            return true;
        }

        if (UsageValues.TryParseMoney(text, divisor, out usd))
        {
            return true;
        }

        skip = $"{path} is not a non-negative amount";
        return false;
    }

    /// <summary>An optional duration (-1 when blank) in units of <paramref name="unitMs"/> milliseconds.</summary>
    public static bool TryDuration(this IUsageRecord record, string path, double unitMs, out int ms, out string? skip)
    {
        skip = null;
        ms = -1;
        var text = record.Get(path);
        if (string.IsNullOrWhiteSpace(text))
        {
            return true;
        }

        if (UsageValues.TryParseDuration(text, unitMs, out ms))
        {
            return true;
        }

        skip = $"{path} is not a non-negative number";
        return false;
    }
}
