namespace Apex.Hosting;

/// <summary>
/// The table of log event ids: each module logs with ids from its own range, so that an id names
/// one event of one module in every log pipeline (filters, alerts, dashboards). A new event takes
/// the next free id of its module's range; the server's tests check every <c>[LoggerMessage]</c>
/// in the Apex assemblies against this table.
/// </summary>
public static class LogEventIds
{
    /// <summary>The range of each assembly, first and last id inclusive.</summary>
    public static IReadOnlyDictionary<string, (int First, int Last)> Ranges { get; } = new Dictionary<string, (int, int)>(StringComparer.Ordinal)
    {
        ["Apex.Hosting"] = (1000, 1099),
        ["Apex.Auth"] = (1100, 1199),
        // The gateway and the brokers.
        ["Apex.Realtime"] = (3000, 3099),
        ["Apex.Agents"] = (4100, 4199),
        // Datasets 4200-4299, runs 4300-4399, live usage (OTLP, budgets, alerts, webhooks) 4400-4499.
        ["Apex.Chat"] = (4200, 4499),
        ["apex"] = (5000, 5099),
        ["Apex.Redis"] = (7000, 7099),
    };
}
