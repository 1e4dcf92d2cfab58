using System.Text.Json;

namespace Apex.Verify.Probe;

/// <summary>Tolerant readers for JSON observed on the wire: a missing or mistyped field reads as null.</summary>
internal static class Json
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    public static JsonElement? Prop(this JsonElement? element, string name) =>
        element is { ValueKind: JsonValueKind.Object } e && e.TryGetProperty(name, out var value) ? value : null;

    public static JsonElement? Prop(this JsonElement element, string name) => ((JsonElement?)element).Prop(name);

    public static string? Str(this JsonElement? element, string name) =>
        element.Prop(name) is { ValueKind: JsonValueKind.String } v ? v.GetString() : null;

    public static string? Str(this JsonElement element, string name) => ((JsonElement?)element).Str(name);

    public static long? Long(this JsonElement? element, string name) =>
        element.Prop(name) is { ValueKind: JsonValueKind.Number } v && v.TryGetInt64(out var n) ? n : null;

    public static long? Long(this JsonElement element, string name) => ((JsonElement?)element).Long(name);

    public static double? Double(this JsonElement? element, string name) =>
        element.Prop(name) is { ValueKind: JsonValueKind.Number } v ? v.GetDouble() : null;

    public static bool? Bool(this JsonElement? element, string name) =>
        element.Prop(name) switch
        {
            { ValueKind: JsonValueKind.True } => true,
            { ValueKind: JsonValueKind.False } => false,
            _ => null,
        };

    public static bool? Bool(this JsonElement element, string name) => ((JsonElement?)element).Bool(name);

    public static bool Has(this JsonElement? element, string name) =>
        element.Prop(name) is { ValueKind: not JsonValueKind.Null and not JsonValueKind.Undefined };

    public static JsonElement? TryParse(string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The items of a list response: <c>{items:[…]}</c> per docs/spec/rest-api.md, or a bare array.</summary>
    public static IReadOnlyList<JsonElement>? Items(JsonElement? body) =>
        body switch
        {
            { ValueKind: JsonValueKind.Array } a => [.. a.EnumerateArray()],
            { ValueKind: JsonValueKind.Object } o when o.TryGetProperty("items", out var items) && items.ValueKind == JsonValueKind.Array
                => [.. items.EnumerateArray()],
            _ => null,
        };

    public static string Serialize(object value) => JsonSerializer.Serialize(value, Options);
}
