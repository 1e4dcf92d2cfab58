using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text;
using System.Text.Json;
using Apex.Agents.Planning;
using Apex.Agents.Reports;
using Apex.Agents.Tools;
using Apex.Contracts;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Apex.Agents.Runtime;

/// <summary>What a model provider may do inside a run: call tools (events are emitted) and report thinking.</summary>
internal interface IRunScope
{
    RunContext Context { get; }

    Task<object?> CallToolAsync(string toolName, JsonElement arguments, CancellationToken ct);

    void Think(string agent, string reasoning);
}

/// <summary>A language model that plans tool calls and writes prose; it never produces the figures.</summary>
internal interface IModelProvider
{
    /// <summary>Lets the model call the sub-agent's tools; adds each tool called to <paramref name="called"/>.</summary>
    Task RunToolPhaseAsync(IRunScope run, string agent, string[] tools, RequestFacts facts, HashSet<string> called, CancellationToken ct);

    /// <summary>Streams the model's prose about the finished report.</summary>
    Task WriteAnswerAsync(IRunScope run, OptimizationReport report, RequestFacts facts, Action<string> onDelta, CancellationToken ct);
}

/// <summary>
/// Any OpenAI-compatible chat-completions endpoint through Microsoft.Extensions.AI: the tools are
/// offered by function calling, answers are streamed. Each model call has its own timeout
/// (<c>Agent:TimeoutSeconds</c>); the runtime falls back to the built-in planner on any failure.
/// </summary>
internal sealed class OpenAiModelProvider : IModelProvider
{
    private readonly IChatClient _client;
    private readonly ToolSet _tools;
    private readonly TimeSpan _timeout;

    public OpenAiModelProvider(AgentOptions options, ToolSet tools)
    {
        _tools = tools;
        _timeout = TimeSpan.FromSeconds(options.TimeoutSeconds);
        var clientOptions = new OpenAIClientOptions
        {
            // The run's own timeout and fallback replace the SDK's retries: a failing provider must not stall a run.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            NetworkTimeout = _timeout + TimeSpan.FromSeconds(5),
        };
        if (!string.IsNullOrWhiteSpace(options.Endpoint))
        {
            clientOptions.Endpoint = new Uri(options.Endpoint);
        }

        // Local servers (llama.cpp, Ollama, vLLM) ignore the key but the SDK requires one.
        var key = !string.IsNullOrWhiteSpace(options.ApiKey) ? options.ApiKey
            : Environment.GetEnvironmentVariable("OPENAI_API_KEY") is { Length: > 0 } env ? env : "unused";
        _client = new OpenAI.Chat.ChatClient(options.Model, new ApiKeyCredential(key), clientOptions).AsIChatClient();
    }

    public async Task RunToolPhaseAsync(IRunScope run, string agent, string[] tools, RequestFacts facts, HashSet<string> called, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_timeout);
        using var client = new FunctionInvokingChatClient(_client) { MaximumIterationsPerRequest = 4 };
        var options = new ChatOptions
        {
            Temperature = 0,
            ToolMode = ChatToolMode.Auto,
            Tools = [.. tools.Select(name => (AITool)new ToolFunction(run, _tools[name], called))],
        };
        var followUp = run.Context.FollowUp is { Tool: not null } question
            ? $"\nThis is a follow-up question on the same data ({JsonSerializer.Serialize(question, ApexJson.Options)} as the built-in planner read it): call the one tool that answers it; arguments you leave out default to that reading."
            : string.Empty;
        var messages = Conversation(run,
            $"You are the {agent} sub-agent of Apex, an AI-spend optimisation assistant. Call the tools you need to answer " +
            "the user's request (you may call several). Every number comes from the tools: never invent or estimate figures yourself. " +
            "After the tools, reply with one or two sentences on what the results show.");
        messages.Add(new(ChatRole.User, $"Request: {run.Context.Request.UserText}\nFacts: {JsonSerializer.Serialize(facts, ApexJson.Options)}\nDataset attached: {(run.Context.HasData ? "yes" : "no")}{followUp}"));
        var text = new StringBuilder();
        await foreach (var update in client.GetStreamingResponseAsync(messages, options, timeout.Token))
        {
            text.Append(update.Text);
        }

        if (text.Length > 0)
        {
            var note = text.ToString().Trim();
            run.Think(agent, note.Length > 600 ? note[..600] + "…" : note);
        }
    }

    public async Task WriteAnswerAsync(IRunScope run, OptimizationReport report, RequestFacts facts, Action<string> onDelta, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_timeout);
        var messages = Conversation(run,
            "You are the reporter of Apex, an AI-spend optimisation assistant. Write a short, plain answer to the user's request " +
            "from the report JSON. Use only figures that appear in the report, exactly as written; do not compute or invent any number. " +
            (report.Estimate ? "The figures are estimates from the user's message: say so and ask for a usage export. " : string.Empty) +
            "The list of recommendations with their savings is appended after your text, so do not repeat it in full.");
        messages.Add(new(ChatRole.User, $"Request: {run.Context.Request.UserText}\nReport: {JsonSerializer.Serialize(report, ApexJson.Options)}"));
        await foreach (var update in _client.GetStreamingResponseAsync(messages, new ChatOptions { Temperature = 0 }, timeout.Token))
        {
            if (!string.IsNullOrEmpty(update.Text))
            {
                onDelta(update.Text);
            }
        }
    }

    /// <summary>
    /// The system prompt, then the thread so far: its earlier messages, and its last report (the one
    /// follow-up questions refer to) as context.
    /// </summary>
    private static List<ChatMessage> Conversation(IRunScope run, string system)
    {
        var request = run.Context.Request;
        var messages = new List<ChatMessage> { new(ChatRole.System, system) };
        if (request.LastReport is { ValueKind: JsonValueKind.Object } last)
        {
            messages.Add(new(ChatRole.System,
                $"The thread's last report (run {request.LastReportRunId}); the user's follow-up questions refer to it and its recommendations:\n{last.GetRawText()}"));
        }

        foreach (var turn in request.History)
        {
            messages.Add(new(turn.Role == "assistant" ? ChatRole.Assistant : ChatRole.User, turn.Content));
        }

        return messages;
    }

    /// <summary>A tool exposed to the model: invoking it runs the real tool and emits its event pair.</summary>
    private sealed class ToolFunction : AIFunction
    {
        private readonly IRunScope _run;
        private readonly IAgentTool _tool;
        private readonly HashSet<string> _called;

        public ToolFunction(IRunScope run, IAgentTool tool, HashSet<string> called)
        {
            _run = run;
            _tool = tool;
            _called = called;
        }

        public override string Name => _tool.Name;
        public override string Description => _tool.Description;
        public override JsonElement JsonSchema => _tool.ParametersSchema;

        protected override async ValueTask<object?> InvokeCoreAsync(AIFunctionArguments arguments, CancellationToken cancellationToken)
        {
            var args = JsonSerializer.SerializeToElement(arguments.ToDictionary(kv => kv.Key, kv => kv.Value), AIJsonUtilities.DefaultOptions);
            lock (_called)
            {
                _called.Add(_tool.Name);
            }

            var result = await _run.CallToolAsync(_tool.Name, args, cancellationToken);
            return result is null ? JsonSerializer.SerializeToElement(new { ok = false }) : ApexJson.ToElement(result);
        }
    }
}
