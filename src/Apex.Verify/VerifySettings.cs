namespace Apex.Verify;

/// <summary>How to credential the probe user that walks the golden path.</summary>
public enum ProbeCredentialMode
{
    /// <summary>Register fresh probe users (two: the second one checks isolation).</summary>
    RegisterProbe,

    /// <summary>Sign in an existing user with email and password.</summary>
    Password,

    /// <summary>Use an access token the operator already has.</summary>
    Token,
}

/// <summary>Everything one <c>apex verify</c> invocation needs; the CLI fills it from its options.</summary>
public sealed record VerifySettings
{
    public const int DefaultRequestTimeoutSeconds = 15;
    public const int DefaultAgentFirstEventSeconds = 30;
    public const int DefaultAgentCompletionSeconds = 120;
    public const int DefaultFrameTimeoutSeconds = 5;

    /// <summary>A question from the agent's own list of conversations it must handle (docs/spec/agent-report.md 7).</summary>
    public const string DefaultQuestion = "We spend $5,000/month on GPT-4 for customer support, 2M requests. Help me cut costs by 30%.";

    /// <summary>The API service (REST, health, public config).</summary>
    public required Uri BaseUrl { get; init; }

    /// <summary>The auth service; the public config's <c>auth_url</c>, else <see cref="BaseUrl"/>, when null.</summary>
    public Uri? AuthUrl { get; init; }

    /// <summary>The WebSocket endpoint; the public config's <c>ws_url</c>, else <c>/ws</c> on the API, when null.</summary>
    public Uri? WsUrl { get; init; }

    /// <summary>The web app; <see cref="BaseUrl"/> when null (and then it may be absent).</summary>
    public Uri? WebUrl { get; init; }

    public ProbeCredentialMode CredentialMode { get; init; } = ProbeCredentialMode.RegisterProbe;
    public string? Email { get; init; }
    public string? Password { get; init; }
    public string? Token { get; init; }

    public string? MarkdownReportPath { get; init; }
    public string? JsonReportPath { get; init; }
    public string? JUnitReportPath { get; init; }

    /// <summary>How many times to run the whole suite (a synthetic monitor); 1 by default.</summary>
    public int Repeat { get; init; } = 1;

    public TimeSpan Interval { get; init; } = TimeSpan.Zero;

    /// <summary>Maximum milliseconds per check id or per phase id; over it a passing check is "slow".</summary>
    public Thresholds Thresholds { get; init; } = Thresholds.None;

    /// <summary>Phases (or check ids) to run; null runs everything. Phases they need are added.</summary>
    public IReadOnlySet<string>? Only { get; init; }

    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(DefaultRequestTimeoutSeconds);

    /// <summary>How long a WebSocket reply (pong, error, ack, connection_established) may take.</summary>
    public TimeSpan FrameTimeout { get; init; } = TimeSpan.FromSeconds(DefaultFrameTimeoutSeconds);

    public TimeSpan AgentFirstEventTimeout { get; init; } = TimeSpan.FromSeconds(DefaultAgentFirstEventSeconds);
    public TimeSpan AgentCompletionTimeout { get; init; } = TimeSpan.FromSeconds(DefaultAgentCompletionSeconds);

    /// <summary>How long to keep listening after a run's terminal event for stray or leaked events.</summary>
    public TimeSpan QuietPeriod { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How long the resume check stays disconnected, so that the run goes on without it.</summary>
    public TimeSpan ResumeGap { get; init; } = TimeSpan.FromMilliseconds(300);

    public string Question { get; init; } = DefaultQuestion;
}
