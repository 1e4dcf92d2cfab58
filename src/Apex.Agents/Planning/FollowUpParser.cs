using System.Globalization;
using System.Text.RegularExpressions;
using Apex.Agents.Analysis;
using Apex.Agents.Catalog;
using Apex.Agents.Reports;

namespace Apex.Agents.Planning;

/// <summary>The follow-ups of docs/spec/agent-report.md section 8 (JSON: what_if, explain_recommendation, …).</summary>
public enum FollowUpKind
{
    WhatIf,
    ExplainRecommendation,
    CostTrend,
    CompareModels,
    Latency,

    /// <summary>"Which model costs the most?", "how much do we spend on faq-bot?": the spend by model and feature.</summary>
    CostBreakdown,

    /// <summary>The analysis re-run on some rows: a full report with <c>filters</c>.</summary>
    Filter,
}

/// <summary>A recognised follow-up and its resolved references (recommendation ids, names, dates).</summary>
public sealed record FollowUp
{
    public required FollowUpKind Kind { get; init; }
    public IReadOnlyList<string> RecommendationIds { get; init; } = [];
    public string? Feature { get; init; }
    public string? Model { get; init; }

    /// <summary>Catalog models to compare.</summary>
    public IReadOnlyList<string> Models { get; init; } = [];
    public string? From { get; init; }
    public string? To { get; init; }
    public string Granularity { get; init; } = "day";
    public RowFilter? Filter { get; init; }

    /// <summary>For a breakdown: "model" or "feature" when the question asks which one costs the most.</summary>
    public string? Ranking { get; init; }

    /// <summary>A name the question asked about ("the trend for chatbot") that no feature or model of the data has.</summary>
    public string? UnmatchedName { get; init; }

    /// <summary>The dataset's features, to name in the answer when <see cref="UnmatchedName"/> is set.</summary>
    public IReadOnlyList<string> KnownFeatures { get; init; } = [];

    /// <summary>
    /// A change the question names that the last report does not contain ("the caching change" when the plan
    /// has none, "recommendation 4" of a 2-change plan): a <see cref="PlanChanges"/> key or <c>#n</c>. The what-if
    /// or explanation then says why the plan has no such change, with the analysis' figures.
    /// </summary>
    public string? AbsentChange { get; init; }

    /// <summary>The tool that answers it; null for a filter (the whole analysis runs).</summary>
    public string? Tool => Kind switch
    {
        FollowUpKind.WhatIf => "what_if",
        FollowUpKind.ExplainRecommendation => "explain_recommendation",
        FollowUpKind.CostTrend => "cost_trend",
        FollowUpKind.CompareModels => "compare_models",
        FollowUpKind.Latency => "latency",
        FollowUpKind.CostBreakdown => "cost_breakdown",
        _ => null,
    };
}

/// <summary>What a follow-up can refer to: the last report's recommendations (in order) and the dataset's names.</summary>
public sealed record FollowUpVocabulary
{
    public IReadOnlyList<Recommendation> Recommendations { get; init; } = [];
    /// <summary>The dataset's features, costliest first ("the most expensive feature" is the first).</summary>
    public IReadOnlyList<string> Features { get; init; } = [];

    /// <summary>The dataset's models, costliest first.</summary>
    public IReadOnlyList<string> Models { get; init; } = [];

    /// <summary>The data's last day (yyyy-MM-dd): "last week" is the 7 days ending on it.</summary>
    public string? LastDay { get; init; }
    public bool HasReport { get; init; }
}

/// <summary>
/// Deterministic recognition of follow-up questions. Ordinals ("recommendation 3", "only 1 and 3"),
/// ids and names ("the caching change", "the model switch", "gpt-5 for support-chat") resolve against
/// the last report's recommendations; feature and model names against the dataset; "last week",
/// "since 2026-11-03", "between X and Y" become date ranges. Anything else is not a follow-up.
/// </summary>
public static partial class FollowUpParser
{
    public static FollowUp? Parse(string text, FollowUpVocabulary v, PriceCatalog catalog)
    {
        var lower = text.Trim().ToLowerInvariant();
        var features = FindNames(lower, v.Features);
        var catalogModels = RequestParser.FindModels(lower, catalog);
        var dataModels = FindNames(lower, v.Models);

        // "the most expensive feature", "our top model": the costliest of the data, named.
        var costliestAsked = false;
        if (Costliest().Match(lower) is { Success: true } costliest && features.Count == 0 && dataModels.Count == 0)
        {
            costliestAsked = true;
            var names = costliest.Groups["kind"].Value == "feature" ? v.Features : v.Models;
            if (names.FirstOrDefault(n => n != "(none)") is { } top)
            {
                (costliest.Groups["kind"].Value == "feature" ? features : dataModels).Add(top);
            }
        }

        var models = dataModels.Concat(catalogModels.Where(c => dataModels.All(d => !RowFilter.SameModel(c, d, catalog)))).ToList();
        var (from, to) = Range(lower, v.LastDay);

        if (Compare().IsMatch(lower) && catalogModels.Count >= 1)
        {
            return new FollowUp { Kind = FollowUpKind.CompareModels, Models = catalogModels, Feature = features.FirstOrDefault() };
        }

        if (Trend().IsMatch(lower))
        {
            var unmatched = features.Count == 0 && models.Count == 0 ? UnmatchedName(lower, TrendScope()) : null;
            return new FollowUp
            {
                Kind = FollowUpKind.CostTrend, Feature = features.FirstOrDefault(), Model = features.Count == 0 ? models.FirstOrDefault() : null,
                From = from, To = to, Granularity = Hourly().IsMatch(lower) ? "hour" : "day",
                UnmatchedName = unmatched, KnownFeatures = unmatched is null ? [] : v.Features,
            };
        }

        var (recs, numbered) = References(lower, v.Recommendations, features, catalogModels);

        // "What if we switched everything to claude-haiku-4-5?", "what if faq-bot used gpt-4.1-mini?": a model the
        // plan does not move that traffic to (or all traffic) is priced on the same calls.
        if (v.HasReport && catalogModels.Count > 0 && WhatIf().IsMatch(lower) && !Exclude().IsMatch(lower)
            && (Everything().IsMatch(lower) || !recs.Any(id => PlanChanges.Covers(PlanChanges.ModelSwitch, id))))
        {
            return new FollowUp { Kind = FollowUpKind.CompareModels, Models = catalogModels, Feature = Everything().IsMatch(lower) ? null : features.FirstOrDefault() };
        }
        if (recs.Count > 0 && (WhatIf().IsMatch(lower) || (numbered && OnlyWord().IsMatch(lower))))
        {
            return new FollowUp { Kind = FollowUpKind.WhatIf, RecommendationIds = recs };
        }

        if (recs.Count > 0 && Explain().IsMatch(lower))
        {
            return new FollowUp { Kind = FollowUpKind.ExplainRecommendation, RecommendationIds = [recs[0]] };
        }

        // "What if we only did the caching change?" when the plan has none: answered from the analysis, not
        // by a new report that would only repeat the last one.
        if (v.HasReport && recs.Count == 0 && catalogModels.Count == 0 && AbsentReference(lower, v.Recommendations.Count) is { } absent
            && (WhatIf().IsMatch(lower) || Explain().IsMatch(lower) || (absent.StartsWith('#') && OnlyWord().IsMatch(lower))))
        {
            var kind = WhatIf().IsMatch(lower) || !Explain().IsMatch(lower) ? FollowUpKind.WhatIf : FollowUpKind.ExplainRecommendation;
            return new FollowUp { Kind = kind, AbsentChange = absent };
        }

        if (v.HasReport && catalogModels.Count > 0 && Explain().IsMatch(lower) && !Exclude().IsMatch(lower))
        {
            // "Why gpt-5 for support-chat?" when no recommendation of the report moves traffic there:
            // the answer is that model priced on the same calls, reasoning output included.
            return new FollowUp { Kind = FollowUpKind.CompareModels, Models = catalogModels, Feature = features.FirstOrDefault() };
        }

        var exclude = Exclude().IsMatch(lower);
        var breakdown = Breakdown().IsMatch(lower);
        if (v.HasReport && !exclude && !OnlyWord().IsMatch(lower) && !Latency().IsMatch(lower) && (breakdown || (costliestAsked && !Explain().IsMatch(lower))))
        {
            if (dataModels.Count == 0 && features.Count == 0 && catalogModels.Count > 0)
            {
                // "What would claude-haiku-4-5 cost?" about a model the data does not use: these calls priced at it.
                return new FollowUp { Kind = FollowUpKind.CompareModels, Models = catalogModels };
            }

            var ranking = Ranking().Match(lower) is { Success: true } r ? r.Groups["kind"].Value : null;
            if (costliestAsked)
            {
                // "our most expensive feature" names it; the answer is about that feature, ranked among the others.
                ranking = null;
            }

            var unmatched = features.Count == 0 && dataModels.Count == 0 && !costliestAsked ? UnmatchedName(lower, SpendScope()) : null;
            return new FollowUp
            {
                Kind = FollowUpKind.CostBreakdown, Feature = features.FirstOrDefault(), Model = features.Count == 0 ? dataModels.FirstOrDefault() : null,
                From = from, To = to, Ranking = ranking, UnmatchedName = unmatched, KnownFeatures = unmatched is null ? [] : v.Features,
            };
        }

        if ((exclude || OnlyWord().IsMatch(lower)) && (features.Count > 0 || models.Count > 0))
        {
            var filter = exclude
                ? new RowFilter { ExcludeFeatures = features, ExcludeModels = models, From = from, To = to }
                : new RowFilter { OnlyFeatures = features, OnlyModels = models, From = from, To = to };
            return new FollowUp { Kind = FollowUpKind.Filter, Filter = filter, From = from, To = to };
        }

        if ((from is not null || to is not null) && !Latency().IsMatch(lower))
        {
            return new FollowUp { Kind = FollowUpKind.Filter, Filter = new RowFilter { From = from, To = to }, From = from, To = to };
        }

        if (v.HasReport && Latency().IsMatch(lower))
        {
            return new FollowUp { Kind = FollowUpKind.Latency };
        }

        return null;
    }

    /// <summary>Recommendation ids the text refers to, in plan order; numbered is true for ordinals.</summary>
    private static (List<string> Ids, bool Numbered) References(string lower, IReadOnlyList<Recommendation> recs, List<string> features, List<string> models)
    {
        var chosen = new HashSet<string>(StringComparer.Ordinal);
        var numbered = false;
        void Number(int n)
        {
            if (n >= 1 && n <= recs.Count)
            {
                chosen.Add(recs[n - 1].Id);
                numbered = true;
            }
        }

        foreach (Match m in Numbers().Matches(lower))
        {
            foreach (Match d in Digits().Matches(m.Groups["list"].Value))
            {
                Number(int.Parse(d.Value, CultureInfo.InvariantCulture));
            }
        }

        foreach (Match m in Ordinals().Matches(lower))
        {
            Number(Array.IndexOf(OrdinalWords, m.Groups["word"].Value) % 5 + 1);
        }

        foreach (var r in recs)
        {
            if (lower.Contains(r.Id, StringComparison.Ordinal))
            {
                chosen.Add(r.Id);
            }
        }

        foreach (var (pattern, change) in Phrases)
        {
            if (pattern.IsMatch(lower))
            {
                foreach (var r in recs.Where(r => PlanChanges.Covers(change, r.Id)))
                {
                    chosen.Add(r.Id);
                }
            }
        }

        if (models.Count > 0)
        {
            // "gpt-5 for support-chat": a model switch whose title names every model and feature mentioned.
            foreach (var r in recs.Where(r => r.Category == "model"))
            {
                var title = r.Title.ToLowerInvariant();
                if (models.All(m => FindNames(title, [m]).Count > 0) && features.All(f => FindNames(title, [f]).Count > 0))
                {
                    chosen.Add(r.Id);
                }
            }
        }

        return ([.. recs.Where(r => chosen.Contains(r.Id)).Select(r => r.Id)], numbered);
    }

    /// <summary>The first change the text names by kind or by a number past the plan's end, or null.</summary>
    private static string? AbsentReference(string lower, int planSize)
    {
        foreach (Match m in Numbers().Matches(lower))
        {
            foreach (Match d in Digits().Matches(m.Groups["list"].Value))
            {
                var n = int.Parse(d.Value, CultureInfo.InvariantCulture);
                if (n > planSize)
                {
                    return "#" + n.ToString(CultureInfo.InvariantCulture);
                }
            }
        }

        foreach (Match m in Ordinals().Matches(lower))
        {
            var n = Array.IndexOf(OrdinalWords, m.Groups["word"].Value) % 5 + 1;
            if (n > planSize)
            {
                return "#" + n.ToString(CultureInfo.InvariantCulture);
            }
        }

        return Phrases.FirstOrDefault(p => p.Pattern.IsMatch(lower)).Change;
    }

    // Words after "for"/"of" in a trend question that name a scope or a time, not a feature.
    private static readonly HashSet<string> NotANameWords = new(StringComparer.Ordinal)
    {
        "all", "any", "each", "every", "everything", "the", "this", "that", "these", "last", "past", "previous", "next", "our",
        "my", "us", "it", "them", "whole", "total", "overall", "entire", "today", "yesterday", "week", "weeks", "month",
        "months", "day", "days", "hour", "hours", "traffic", "spend", "spending", "cost", "costs", "usage", "calls",
        "requests", "model", "models", "feature", "features", "since", "between", "from", "until", "before", "after",
        "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
        "december", "recent", "latest", "live", "data", "dataset", "file", "upload", "me", "please", "we", "you", "they", "i",
        "money", "budget", "bill", "bills", "average", "a", "an",
    };

    /// <summary>
    /// "the daily trend for chatbot" when no feature or model is called chatbot: the name asked about,
    /// so the answer can say it covers all traffic instead of silently answering about something else.
    /// </summary>
    private static string? UnmatchedName(string lower, Regex scope)
    {
        foreach (Match m in scope.Matches(lower))
        {
            var name = m.Groups[1].Value.TrimEnd('.', ',', '?', '!', ':', ';');
            if (name.Length > 0 && !char.IsDigit(name[0]) && !NotANameWords.Contains(name))
            {
                return name;
            }
        }

        return null;
    }

    private static readonly string[] OrdinalWords = ["first", "second", "third", "fourth", "fifth", "1st", "2nd", "3rd", "4th", "5th"];

    private static readonly (Regex Pattern, string Change)[] Phrases =
    [
        (PromptCaching(), PlanChanges.PromptCaching),
        (ExactRepeats(), PlanChanges.ExactRepeats),
        (CachingChange(), PlanChanges.Caching),
        (ModelSwitch(), PlanChanges.ModelSwitch),
        (BatchChange(), PlanChanges.Batching),
        (CapChange(), PlanChanges.OutputCap),
        (FailedChange(), PlanChanges.FailedCalls),
    ];

    /// <summary>The names (longest first, whole words, case-insensitive) that occur in the text, as spelled in <paramref name="names"/>.</summary>
    public static List<string> FindNames(string lower, IEnumerable<string> names)
    {
        var found = new List<string>();
        var taken = new bool[lower.Length];
        foreach (var name in names.Where(n => n.Length > 0 && n != "(none)").OrderByDescending(n => n.Length).ThenBy(n => n, StringComparer.Ordinal))
        {
            var needle = name.ToLowerInvariant();
            var start = 0;
            while ((start = lower.IndexOf(needle, start, StringComparison.Ordinal)) >= 0)
            {
                var end = start + needle.Length;
                var before = start == 0 || !IsNameChar(lower[start - 1]);
                var after = end == lower.Length || !IsNameChar(lower[end]) || (lower[end] == '.' && (end + 1 == lower.Length || !char.IsAsciiLetterOrDigit(lower[end + 1])));
                if (before && after && !taken[start])
                {
                    Array.Fill(taken, true, start, needle.Length);
                    if (!found.Contains(name))
                    {
                        found.Add(name);
                    }
                }

                start = end;
            }
        }

        return found;
    }

    private static bool IsNameChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/';

    /// <summary>A date range in the text (UTC days, both included), relative ones counted back from the data's last day.</summary>
    public static (string? From, string? To) Range(string lower, string? lastDay)
    {
        var between = Between().Match(lower);
        if (between.Success)
        {
            var a = between.Groups["a"].Value;
            var b = between.Groups["b"].Value;
            return string.CompareOrdinal(a, b) <= 0 ? (a, b) : (b, a);
        }

        string? from = null, to = null;
        var since = Since().Match(lower);
        if (since.Success)
        {
            from = since.Groups["d"].Value;
        }

        var until = Until().Match(lower);
        if (until.Success)
        {
            to = until.Groups["d"].Value;
        }

        var on = On().Match(lower);
        if (on.Success && from is null && to is null)
        {
            return (on.Groups["d"].Value, on.Groups["d"].Value);
        }

        if ((from is not null || to is not null) || lastDay is null || !DateOnly.TryParseExact(lastDay, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var last))
        {
            return (from, to);
        }

        var days = LastDays().Match(lower);
        var span = days.Success ? int.Parse(days.Groups["n"].Value, CultureInfo.InvariantCulture)
            : LastWeek().IsMatch(lower) ? 7
            : LastDayOnly().IsMatch(lower) ? 1
            : 0;
        return span <= 0 ? (null, null) : (last.AddDays(1 - Math.Min(span, 3660)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), lastDay);
    }

    /// <summary>
    /// 2 to 4 follow-up questions for a report, each one this parser recognises with the report and its data.
    /// </summary>
    public static List<string> Suggest(OptimizationReport report)
    {
        var list = new List<string>();
        var recs = report.Recommendations;
        if (recs.Count >= 2)
        {
            list.Add(recs.Any(r => r.Category == "caching") ? "What if we only did the caching change?"
                : recs.Any(r => r.Category == "model") ? "What if we only did the model switch?"
                : "What if we only did recommendation 1?");
        }

        if (recs.Count >= 1)
        {
            list.Add("Explain recommendation 1");
        }

        var features = report.CostAnalysis.ByFeature.Where(f => f.Feature != "(none)").ToList();
        list.Add(features.Count > 0 ? $"Show the daily cost trend for {features[0].Feature}" : "Show the daily cost trend");
        if (features.Count >= 2)
        {
            list.Add($"Exclude {features[0].Feature}");
        }

        if (list.Count < 4 && report.CostAnalysis.ByModel.Any(m => m.P95LatencyMs is not null))
        {
            list.Add("Where does our latency come from?");
        }

        if (list.Count < 2)
        {
            list.Add("Show the hourly cost trend");
        }

        return [.. list.Take(4)];
    }

    [GeneratedRegex(@"\bcompare\b|\bcomparison\b|\bvs\.?(?=\s)|\bversus\b|side by side")]
    private static partial Regex Compare();

    [GeneratedRegex(@"\btrend|\bdaily\b|\bhourly\b|per[- ]day|per[- ]hour|by day\b|by hour\b|over time|day by day|each day|every day|day-by-day")]
    private static partial Regex Trend();

    [GeneratedRegex(@"\b(?:for|of)\s+(?:the\s+|our\s+)?(?:feature\s+|model\s+)?[""'“‘]?([a-z0-9][a-z0-9_.:/-]*)")]
    private static partial Regex TrendScope();

    [GeneratedRegex(@"\b(?:on|for|of|does|did)\s+(?:the\s+|our\s+)?(?:feature\s+|model\s+)?[""'“‘]?([a-z0-9][a-z0-9_.:/-]*)")]
    private static partial Regex SpendScope();

    [GeneratedRegex(@"\b(?:most expensive|most costly|costliest|priciest|biggest|largest|top|highest[- ]cost|highest[- ]spend(?:ing)?)\s+(?<kind>feature|model)\b")]
    private static partial Regex Costliest();

    [GeneratedRegex(@"hourly|per[- ]hour|by hour|each hour|every hour")]
    private static partial Regex Hourly();

    [GeneratedRegex(@"what if|what would|how much would|what do we save|what would we save|if we only|if we just|only (did|do|does|apply|applied|implement|implemented|make|made|go with|went with)\b|just (did|do|apply|the)\b|\balone\b|on its own|by itself")]
    private static partial Regex WhatIf();

    [GeneratedRegex(@"\bwhy\b|explain|how did you|how come|\bisn'?t\b|\bis not\b|\bevidence\b|justify|reasoning behind|based on what|where does|how do you get|how did you get|what is behind|details? (of|on|about)")]
    private static partial Regex Explain();

    [GeneratedRegex(@"\b(exclude|excluding|without|except|ignore|ignoring|leave out|leaving out|drop|remove|minus)\b")]
    private static partial Regex Exclude();

    [GeneratedRegex(@"\b(only|just)\b")]
    private static partial Regex OnlyWord();

    [GeneratedRegex(@"latency|\bp95\b|\bp99\b|\bp50\b|\bslow|response time|faster")]
    private static partial Regex Latency();

    [GeneratedRegex(@"\beverything\b|\ball (?:of )?(?:our |the )?(?:traffic|calls|requests|features|usage|models)\b|\ball of it\b|\bevery (?:feature|call|request)\b|\bacross the board\b")]
    private static partial Regex Everything();

    [GeneratedRegex(@"how much (?:do|did|does|are|were|have) (?:we |you |it |they |(?:our |the )?\S+ )?(?:spend|spent|cost|pay|paid|spending)|what (?:do|did|does) (?:we |it |\S+ )?(?:spend|cost|pay)\b|where (?:does|did|do) (?:the |our )?(?:money|spend|spending|budget|cost)|which (?:model|feature)s? (?:costs?|spends?|is|are|eats?|uses?) (?:us )?(?:the )?(?:most|more|least)|(?:cost|spend|spending) (?:break ?down|split)|break ?down (?:of )?(?:the |our )?(?:cost|spend)|(?:cost|spend|spending) (?:by|per) (?:model|feature)|what (?:is|are|'s) (?:our |the )?(?:total )?(?:spend|cost|bill)\b|\btotal (?:spend|cost)\b")]
    private static partial Regex Breakdown();

    [GeneratedRegex(@"\b(?<kind>model|feature)s?\b")]
    private static partial Regex Ranking();

    [GeneratedRegex(@"(?:\brecommendations?|\brecs?|\bchanges?|\bitems?|\bnumbers?|\bno\.|#|\bonly|\bjust)\s*#?(?<list>\d{1,2}(?:\s*(?:,|and|&|\+|or)\s*#?\d{1,2})*)(?!\s*(?:%|-|\d|days?|weeks?|hours?|months?|calls|requests|ms|s\b|k\b|m\b))")]
    private static partial Regex Numbers();

    [GeneratedRegex(@"\d{1,2}")]
    private static partial Regex Digits();

    [GeneratedRegex(@"\b(the\s+)?(?<word>first|second|third|fourth|fifth|1st|2nd|3rd|4th|5th)\s+(one|recommendation|change|item|suggestion)")]
    private static partial Regex Ordinals();

    [GeneratedRegex(@"prompt[- ]caching|prefix caching|cached[- ]input|prompt cache")]
    private static partial Regex PromptCaching();

    [GeneratedRegex(@"exact repeats?|repeated prompts?|response cache|cache (the )?repeats|caching (the )?repeats")]
    private static partial Regex ExactRepeats();

    [GeneratedRegex(@"(?<!prompt[- ])(?<!prefix )\bcaching\b|\bcache change")]
    private static partial Regex CachingChange();

    [GeneratedRegex(@"model (switch|change|swap|move)|switch(ing)? (the )?models?|cheaper model|smaller model|the switch\b")]
    private static partial Regex ModelSwitch();

    [GeneratedRegex(@"\bbatch(ing| api| change)?\b")]
    private static partial Regex BatchChange();

    [GeneratedRegex(@"max[_ ]tokens|\bcap(ping|s)?\b|output cap|long answers")]
    private static partial Regex CapChange();

    [GeneratedRegex(@"failed calls|failures|\berrors\b|\bretries\b|failing calls")]
    private static partial Regex FailedChange();

    [GeneratedRegex(@"between\s+(?<a>\d{4}-\d{2}-\d{2})\s+and\s+(?<b>\d{4}-\d{2}-\d{2})|from\s+(?<a>\d{4}-\d{2}-\d{2})\s+(?:to|until|till|through)\s+(?<b>\d{4}-\d{2}-\d{2})")]
    private static partial Regex Between();

    [GeneratedRegex(@"(?:since|from|starting|after)\s+(?<d>\d{4}-\d{2}-\d{2})")]
    private static partial Regex Since();

    [GeneratedRegex(@"(?:until|till|up to|through|before)\s+(?<d>\d{4}-\d{2}-\d{2})")]
    private static partial Regex Until();

    [GeneratedRegex(@"\bon\s+(?<d>\d{4}-\d{2}-\d{2})")]
    private static partial Regex On();

    [GeneratedRegex(@"(?:last|past)\s+(?<n>\d{1,3})\s+days")]
    private static partial Regex LastDays();

    [GeneratedRegex(@"(?:last|past|previous)\s+(?:7 days|week|seven days)")]
    private static partial Regex LastWeek();

    [GeneratedRegex(@"(?:last|latest|final)\s+day\b")]
    private static partial Regex LastDayOnly();
}
