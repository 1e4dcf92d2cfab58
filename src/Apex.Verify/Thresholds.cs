using System.Text.Json;

namespace Apex.Verify;

/// <summary>
/// Maximum milliseconds per check, read from a JSON file. Keys are check ids (<c>agent.completion</c>)
/// or phase ids (<c>health</c>, applying to each check of the phase); a check id wins over its phase.
/// Either a flat object <c>{"ws.ping": 200}</c> or the same object under <c>"max_ms"</c>.
/// </summary>
public sealed class Thresholds
{
    public static readonly Thresholds None = new(new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase));

    private readonly Dictionary<string, double> _maxMs;

    public Thresholds(IReadOnlyDictionary<string, double> maxMs)
    {
        _maxMs = new Dictionary<string, double>(maxMs, StringComparer.OrdinalIgnoreCase);
    }

    public IReadOnlyDictionary<string, double> MaxMs => _maxMs;

    public double? For(string checkId, string phase) =>
        _maxMs.TryGetValue(checkId, out var ms) ? ms : _maxMs.TryGetValue(phase, out var phaseMs) ? phaseMs : null;

    /// <exception cref="FormatException">The file is not a JSON object of positive numbers.</exception>
    public static Thresholds Parse(string json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException ex)
        {
            throw new FormatException($"thresholds file is not valid JSON: {ex.Message}", ex);
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("max_ms", out var nested))
            {
                root = nested;
            }

            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("thresholds file must be a JSON object of check id -> max milliseconds");
            }

            var map = new Dictionary<string, double>(StringComparer.OrdinalIgnoreCase);
            foreach (var property in root.EnumerateObject())
            {
                if (property.Value.ValueKind != JsonValueKind.Number || !property.Value.TryGetDouble(out var ms) || ms <= 0)
                {
                    throw new FormatException($"threshold '{property.Name}' must be a positive number of milliseconds");
                }

                if (!Phases.IsKnownCheckOrPhase(property.Name))
                {
                    throw new FormatException($"threshold '{property.Name}' names no check or phase (see apex verify --help)");
                }

                map[property.Name] = ms;
            }

            return new Thresholds(map);
        }
    }

    public static Thresholds Load(string path) => Parse(File.ReadAllText(path));
}
