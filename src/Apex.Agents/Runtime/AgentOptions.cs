using System.ComponentModel.DataAnnotations;
using Apex.Agents.Analysis;

namespace Apex.Agents.Runtime;

public enum AgentProvider
{
    /// <summary>The deterministic planner: no network, same input gives the same output.</summary>
    Builtin,

    /// <summary>Any OpenAI-compatible chat-completions endpoint (OpenAI, Azure OpenAI, vLLM, llama.cpp, LM Studio, Ollama).</summary>
    OpenAI,
}

/// <summary>Section <c>Agent</c>.</summary>
public sealed class AgentOptions : IValidatableObject
{
    public const string Section = "Agent";
    public const int DefaultTimeoutSeconds = 60;

    public AgentProvider Provider { get; set; } = AgentProvider.Builtin;

    /// <summary>Base URL of the OpenAI-compatible API, e.g. http://127.0.0.1:11434/v1; empty means api.openai.com.</summary>
    public string? Endpoint { get; set; }

    public string? Model { get; set; }

    /// <summary>Never logged or sent in events. Falls back to the OPENAI_API_KEY environment variable.</summary>
    public string? ApiKey { get; set; }

    /// <summary>Seconds one model call may take before the run falls back to the built-in planner.</summary>
    [Range(1, 600, ErrorMessage = "Agent:TimeoutSeconds must be between 1 and 600.")]
    public int TimeoutSeconds { get; set; } = DefaultTimeoutSeconds;

    public AnalysisOptions Analysis { get; set; } = new();

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Provider == AgentProvider.OpenAI && string.IsNullOrWhiteSpace(Model))
        {
            yield return new ValidationResult("Agent:Model is required when Agent:Provider is openai.", [nameof(Model)]);
        }

        if (!string.IsNullOrWhiteSpace(Endpoint) && !Uri.TryCreate(Endpoint, UriKind.Absolute, out _))
        {
            yield return new ValidationResult("Agent:Endpoint must be an absolute URL.", [nameof(Endpoint)]);
        }

        if (Analysis.CacheTtlHours <= 0)
        {
            yield return new ValidationResult("Agent:Analysis:CacheTtlHours must be > 0.", [nameof(Analysis)]);
        }

        if (Analysis.ReasoningOutputFactor is < 0 or > 100)
        {
            yield return new ValidationResult("Agent:Analysis:ReasoningOutputFactor must be between 0 and 100.", [nameof(Analysis)]);
        }

        if (Analysis.PromptCachePrefixShare is <= 0 or > 1)
        {
            yield return new ValidationResult("Agent:Analysis:PromptCachePrefixShare must be in (0, 1].", [nameof(Analysis)]);
        }
    }
}
