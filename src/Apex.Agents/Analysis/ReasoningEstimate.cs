using System.Globalization;
using Apex.Agents.Catalog;

namespace Apex.Agents.Analysis;

/// <summary>
/// How many hidden reasoning tokens a reasoning model adds per visible output token
/// (docs/spec/agent-report.md section 9): measured from the rows that carry reasoning tokens, else
/// <see cref="AnalysisOptions.ReasoningOutputFactor"/>, stated as an assumption. A switch from a
/// non-reasoning model to a reasoning one is priced with that extra output, never on token prices alone.
/// </summary>
public sealed record ReasoningEstimate(double Factor, bool Observed, long ReasoningTokens, long VisibleOutputTokens)
{
    public static ReasoningEstimate Measure(UsageTable t, AnalysisOptions options)
    {
        var rows = t.Rows;
        long reasoning = 0, output = 0;
        for (var i = 0; i < rows.Count; i++)
        {
            if (rows.Reasoning[i] > 0)
            {
                reasoning += rows.Reasoning[i];
                output += rows.Output[i];
            }
        }

        var visible = Math.Max(0, output - reasoning);
        return reasoning > 0 && visible > 0
            ? new ReasoningEstimate((double)reasoning / visible, true, reasoning, visible)
            : new ReasoningEstimate(options.ReasoningOutputFactor, false, 0, 0);
    }

    /// <summary>Output tokens a call would bill on <paramref name="to"/>, given its billed output on <paramref name="from"/>.</summary>
    public long BilledOutput(ModelPrice? from, ModelPrice to, long output) =>
        to.Reasoning && from is not { Reasoning: true } ? output + (long)Math.Round(output * Factor) : output;

    /// <summary>True when moving from <paramref name="from"/> to <paramref name="to"/> adds reasoning output.</summary>
    public static bool AddsReasoning(ModelPrice? from, ModelPrice to) => to.Reasoning && from is not { Reasoning: true };

    public string FactorText => Factor.ToString("0.##", CultureInfo.InvariantCulture);

    /// <summary>The sentence the report states whenever a reasoning model was priced as a replacement.</summary>
    public string Assumption => Observed
        ? $"Reasoning models bill hidden reasoning tokens as output: in this data they are {FactorText} x the visible output ({ReasoningTokens:N0} reasoning tokens), so a switch to a reasoning model is priced with that much extra output."
        : $"Reasoning models bill hidden reasoning tokens as output; this data carries no reasoning tokens, so a switch to a reasoning model is priced with {FactorText} reasoning tokens per visible output token (Agent:Analysis:ReasoningOutputFactor).";
}

public sealed partial class UsageAnalyzer
{
    private ReasoningEstimate? _reasoning;

    /// <summary>Reasoning output per visible output token, measured once per table.</summary>
    public ReasoningEstimate Reasoning => _reasoning ??= ReasoningEstimate.Measure(_t, _options);

    /// <summary>
    /// True when a reasoning model is among the cheaper candidates of a non-reasoning group: the report
    /// then states how its reasoning output was counted.
    /// </summary>
    public bool ReasoningOffered => Models?.Groups.Any(g => g.Candidates.Any(c =>
        _catalog.Find(c.Model) is { } candidate && ReasoningEstimate.AddsReasoning(_catalog.Find(g.Model), candidate))) == true;

    private long BilledOutput(ModelPrice current, ModelPrice candidate, long output) => Reasoning.BilledOutput(current, candidate, output);
}
