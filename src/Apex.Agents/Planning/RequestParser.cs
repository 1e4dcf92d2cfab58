using System.Globalization;
using System.Text.RegularExpressions;
using Apex.Agents.Catalog;

namespace Apex.Agents.Planning;

/// <summary>What the user's message asks for.</summary>
public enum RequestIntent
{
    /// <summary>"Hello", "thanks".</summary>
    Greeting,

    /// <summary>"What can you do?"</summary>
    Capabilities,

    /// <summary>Not about AI usage, cost, latency or quality.</summary>
    OffTopic,

    /// <summary>About AI usage, cost, latency or quality.</summary>
    Analysis,
}

/// <summary>The facts a message states (the result of <c>parse_request</c>).</summary>
public sealed record RequestFacts
{
    public required RequestIntent Intent { get; init; }

    /// <summary>What the answer should focus on: cost, latency, quality, plan.</summary>
    public required IReadOnlyList<string> Focus { get; init; }
    public double? MonthlySpendUsd { get; init; }

    /// <summary>How the spend was stated (e.g. "$5,000/month").</summary>
    public string? SpendStated { get; init; }
    public IReadOnlyList<string> Models { get; init; } = [];
    public double? RequestsPerMonth { get; init; }
    public string? UseCase { get; init; }
    public int? LatencyP95Ms { get; init; }
    public int? LatencyTargetMs { get; init; }
    public double? SavingsGoalPercent { get; init; }
    public int? PlanWeeks { get; init; }
    public bool MentionsUpload { get; init; }
    public IReadOnlyList<string> Assumptions { get; init; } = [];
}

/// <summary>Deterministic extraction of the facts of a message: numbers, models, goals.</summary>
public static partial class RequestParser
{
    /// <summary>Whether a greeting is a thank-you, which gets a short reply instead of the introduction.</summary>
    public static bool IsThanks(string text) => Thanks().IsMatch(text.ToLowerInvariant());

    public static RequestFacts Parse(string text, PriceCatalog catalog, bool hasDataset)
    {
        var trimmed = text.Trim();
        var lower = trimmed.ToLowerInvariant();
        var assumptions = new List<string>();

        if (Greeting().IsMatch(lower))
        {
            return new RequestFacts { Intent = RequestIntent.Greeting, Focus = [] };
        }

        if (Capabilities().IsMatch(lower))
        {
            return new RequestFacts { Intent = RequestIntent.Capabilities, Focus = [] };
        }

        var models = FindModels(lower, catalog);
        var onTopic = Domain().IsMatch(lower) || models.Count > 0;
        if (!onTopic)
        {
            return new RequestFacts { Intent = RequestIntent.OffTopic, Focus = [] };
        }

        double? spend = null;
        string? stated = null;
        var money = Money().Match(trimmed);
        if (money.Success)
        {
            var amount = Number(money.Groups["amount"].Value) * Scale(money.Groups["scale"].Value);
            var period = money.Groups["period"].Value.ToLowerInvariant();
            stated = money.Value.Trim();
            spend = period switch
            {
                "year" or "yr" or "annually" or "annual" => amount / 12,
                "week" or "wk" => amount * 30 / 7,
                "day" => amount * 30,
                _ => amount,
            };
            if (period.Length == 0)
            {
                assumptions.Add($"The stated spend ({stated}) is taken as monthly.");
            }
        }

        double? requests = null;
        var volume = Requests().Match(trimmed);
        if (volume.Success)
        {
            var count = Number(volume.Groups["count"].Value) * Scale(volume.Groups["scale"].Value);
            var period = volume.Groups["period"].Value.ToLowerInvariant();
            requests = period switch
            {
                "day" => count * 30,
                "week" => count * 30 / 7,
                "hour" => count * 24 * 30,
                "year" => count / 12,
                _ => count,
            };
            if (period.Length == 0)
            {
                assumptions.Add($"The stated volume ({volume.Value.Trim()}) is taken as per month.");
            }
        }

        double? goal = null;
        var goalMatch = Goal().Match(lower);
        if (goalMatch.Success)
        {
            goal = double.Parse(goalMatch.Groups["pct"].Success ? goalMatch.Groups["pct"].Value : goalMatch.Groups["pct2"].Value, CultureInfo.InvariantCulture);
        }

        int? p95 = null, target = null;
        var current = LatencyNow().Match(lower);
        if (current.Success)
        {
            p95 = Milliseconds(current.Groups["value"].Value, current.Groups["unit"].Value);
        }

        var targetMatch = LatencyTarget().Match(lower);
        if (targetMatch.Success)
        {
            target = Milliseconds(targetMatch.Groups["value"].Value, targetMatch.Groups["unit"].Value);
        }

        int? weeks = null;
        var weeksMatch = Weeks().Match(lower);
        if (weeksMatch.Success)
        {
            weeks = int.Parse(weeksMatch.Groups["n"].Value, CultureInfo.InvariantCulture);
        }

        var focus = new List<string>();
        if (Latency().IsMatch(lower)) focus.Add("latency");
        if (Quality().IsMatch(lower)) focus.Add("quality");
        if (weeks is not null || lower.Contains("plan", StringComparison.Ordinal)) focus.Add("plan");
        if (focus.Count == 0 || Cost().IsMatch(lower)) focus.Insert(0, "cost");

        return new RequestFacts
        {
            Intent = RequestIntent.Analysis,
            Focus = focus,
            MonthlySpendUsd = spend,
            SpendStated = stated,
            Models = models,
            RequestsPerMonth = requests,
            UseCase = UseCase(lower),
            LatencyP95Ms = p95,
            LatencyTargetMs = target,
            SavingsGoalPercent = goal,
            PlanWeeks = weeks,
            MentionsUpload = Upload().IsMatch(lower) && !hasDataset,
            Assumptions = assumptions,
        };
    }

    /// <summary>Catalog models named in the text, longest name first so "gpt-4o" is not read as "gpt-4".</summary>
    public static List<string> FindModels(string lower, PriceCatalog catalog)
    {
        var found = new List<string>();
        var taken = new bool[lower.Length];
        foreach (var (name, model) in catalog.Names())
        {
            var needle = name.ToLowerInvariant();
            var start = 0;
            while ((start = lower.IndexOf(needle, start, StringComparison.Ordinal)) >= 0)
            {
                var end = start + needle.Length;
                var before = start == 0 || !IsModelChar(lower[start - 1]);
                var after = end == lower.Length || !IsModelChar(lower[end]) || (lower[end] == '.' && (end + 1 == lower.Length || !char.IsAsciiLetterOrDigit(lower[end + 1])));
                if (before && after && !taken[start])
                {
                    Array.Fill(taken, true, start, needle.Length);
                    if (!found.Contains(model.Id))
                    {
                        found.Add(model.Id);
                    }
                }

                start = end;
            }
        }

        return found;
    }

    /// <summary>True when the message refers to a file the user uploaded ("the file I uploaded", "my upload", "our usage export").</summary>
    public static bool RefersToUpload(string text) => UploadReference().IsMatch(text.ToLowerInvariant());

    private static bool IsModelChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_';

    private static string? UseCase(string lower) => lower switch
    {
        _ when lower.Contains("support", StringComparison.Ordinal) || lower.Contains("helpdesk", StringComparison.Ordinal) => "customer support",
        _ when lower.Contains("summar", StringComparison.Ordinal) => "summarisation",
        _ when lower.Contains("classif", StringComparison.Ordinal) || lower.Contains("tagging", StringComparison.Ordinal) => "classification",
        _ when lower.Contains("rag", StringComparison.Ordinal) || lower.Contains("retriev", StringComparison.Ordinal) || lower.Contains("search", StringComparison.Ordinal) => "retrieval and search",
        _ when lower.Contains("code", StringComparison.Ordinal) || lower.Contains("coding", StringComparison.Ordinal) => "code assistance",
        _ when lower.Contains("extract", StringComparison.Ordinal) => "extraction",
        _ when lower.Contains("report", StringComparison.Ordinal) || lower.Contains("batch", StringComparison.Ordinal) => "batch reporting",
        _ when lower.Contains("chat", StringComparison.Ordinal) => "chat",
        _ => null,
    };

    private static double Number(string value) =>
        double.Parse(value.Replace(",", string.Empty, StringComparison.Ordinal), NumberStyles.Float, CultureInfo.InvariantCulture);

    private static double Scale(string scale) => scale.ToLowerInvariant() switch
    {
        "k" or "thousand" => 1_000,
        "m" or "mm" or "million" or "mio" => 1_000_000,
        "b" or "bn" or "billion" => 1_000_000_000,
        _ => 1,
    };

    private static int Milliseconds(string value, string unit)
    {
        var v = double.Parse(value, CultureInfo.InvariantCulture);
        return (int)Math.Round(unit.StartsWith("ms", StringComparison.Ordinal) || unit.StartsWith("milli", StringComparison.Ordinal) ? v : v * 1000);
    }

    [GeneratedRegex(@"^(hi|hello|hey|hallo|hiya|howdy|yo|greetings|good (morning|afternoon|evening|day)|thanks|thank you|thx|cheers)( there| apex| team)?[\s!.,:)]*$")]
    private static partial Regex Greeting();

    [GeneratedRegex(@"\b(thanks|thank you|thx|cheers)\b")]
    private static partial Regex Thanks();

    [GeneratedRegex(@"^(what can you do|what do you do|who are you|what are you|help|how can you help( me)?|what is apex)[\s?!.]*$")]
    private static partial Regex Capabilities();

    [GeneratedRegex(@"\b(cost|costs|spend|spending|spent|money|dollars|usd|expense|expenses|invoice|bill|billing|budget|price|pricing|cheap|cheaper|expensive|token|tokens|model|models|llm|llms|gpt|claude|gemini|openai|anthropic|mistral|latency|slow|p95|p99|p50|usage|requests|api|cache|caching|batch|quality|save|saving|savings|optimi[sz]e|analy[sz]e|analysis|dataset|export|upload|uploaded|file|inference|prompt|prompts|ai|feature|features)\b|\$\s?\d")]
    private static partial Regex Domain();

    [GeneratedRegex(@"\$\s?(?<amount>\d[\d,]*(\.\d+)?)\s*(?<scale>k|m|mm|thousand|million|bn|billion)?\b(\s*(/|per|a|an|each|every)\s*(?<period>month|mo|year|yr|week|wk|day|annually|annual))?", RegexOptions.IgnoreCase)]
    private static partial Regex Money();

    [GeneratedRegex(@"(?<count>\d[\d,]*(\.\d+)?)\s*(?<scale>k|m|thousand|million|mio|b|bn|billion)?\s+(api\s+)?(requests|calls|queries|messages|conversations|completions|tickets|chats)(\s*(/|per|a|an|each|every)\s*(?<period>month|day|week|hour|year))?", RegexOptions.IgnoreCase)]
    private static partial Regex Requests();

    [GeneratedRegex(@"(cut|reduce|lower|save|decrease|trim|drop|shave)[^.%\d]{0,40}?(?<pct>\d{1,2}(\.\d+)?)\s*%|(?<pct2>\d{1,2}(\.\d+)?)\s*%\s*(cut|reduction|savings|less|cheaper|lower)")]
    private static partial Regex Goal();

    [GeneratedRegex(@"(p95|p99|latency)[^.\d]{0,30}?(?<value>\d+(\.\d+)?)\s*(?<unit>ms|milliseconds|s\b|sec|secs|seconds)")]
    private static partial Regex LatencyNow();

    [GeneratedRegex(@"(under|below|less than|<|within)\s*(?<value>\d+(\.\d+)?)\s*(?<unit>ms|milliseconds|s\b|sec|secs|seconds)")]
    private static partial Regex LatencyTarget();

    [GeneratedRegex(@"(?<n>\d{1,2})[- ]?weeks?\b")]
    private static partial Regex Weeks();

    [GeneratedRegex(@"latency|slow|p95|p99|p50|response time|faster|speed")]
    private static partial Regex Latency();

    [GeneratedRegex(@"quality|smaller model|lose the least|accuracy|degrad")]
    private static partial Regex Quality();

    [GeneratedRegex(@"cost|spend|spent|bill|budget|price|cheap|expensive|save|saving|cut|\$")]
    private static partial Regex Cost();

    [GeneratedRegex(@"upload|the file|my file|export|dataset|csv")]
    private static partial Regex Upload();

    [GeneratedRegex(@"\buploaded\b|\b(my|our|the|latest|last)\s+(usage\s+)?(upload|file|export|dataset|csv|spreadsheet|log)s?\b|\bfile i (sent|shared|attached|gave)")]
    private static partial Regex UploadReference();
}
