namespace Apex.Agents.Analysis;

/// <summary>
/// The kinds of change a question can name ("the caching change", "the model switch"), each covering one
/// or more recommendation ids of <see cref="SavingsPlanner"/>.
/// </summary>
public static class PlanChanges
{
    public const string Caching = "caching";
    public const string ExactRepeats = "cache-exact-repeats";
    public const string PromptCaching = "enable-prompt-caching";
    public const string ModelSwitch = "model";
    public const string Batching = "use-batch-api";
    public const string OutputCap = "cap-output-tokens";
    public const string FailedCalls = "fix-failed-calls";

    /// <summary>Whether the recommendation <paramref name="id"/> is a change of kind <paramref name="change"/>.</summary>
    public static bool Covers(string change, string id) => change switch
    {
        Caching => id is ExactRepeats or PromptCaching,
        ModelSwitch => id.StartsWith("switch-model-", StringComparison.Ordinal),
        _ => id == change,
    };

    /// <summary>How an answer names the change ("a caching change").</summary>
    public static string Describe(string change) => change switch
    {
        Caching => "caching change",
        ExactRepeats => "cache for exact repeated prompts",
        PromptCaching => "prompt-caching change",
        ModelSwitch => "model switch",
        Batching => "batch API change",
        OutputCap => "max_tokens cap",
        FailedCalls => "fix for failed calls",
        _ when change.StartsWith('#') => $"recommendation {change[1..]}",
        _ => change,
    };
}
