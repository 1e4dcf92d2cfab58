using System.CommandLine;
using System.CommandLine.Invocation;
using Apex.Verify;

namespace Apex.Server.Commands;

/// <summary>
/// <c>apex verify</c>: walks the golden path of a running deployment as a real client would and
/// reports pass / degraded / fail. Exit codes: 0 pass, 1 degraded or fail, 2 usage or connection error.
/// </summary>
internal static class VerifyCommand
{
    /// <summary>Read when --password / --token are absent, so secrets need not appear in the process list.</summary>
    public const string PasswordVariable = "APEX_VERIFY_PASSWORD";
    public const string TokenVariable = "APEX_VERIFY_TOKEN";

    private static readonly Option<string> BaseUrl = new("--base-url") { Description = "The API service, e.g. https://apex.example.com.", Required = true };
    private static readonly Option<string?> AuthUrl = new("--auth-url") { Description = "The auth service (default: auth_url of the public config, else --base-url)." };
    private static readonly Option<string?> WsUrl = new("--ws-url") { Description = "The WebSocket endpoint (default: ws_url of the public config, else /ws on --base-url)." };
    private static readonly Option<string?> WebUrl = new("--web-url") { Description = "The web app (default: --base-url; its checks are skipped when nothing is served there)." };
    private static readonly Option<string?> Email = new("--email") { Description = "Sign in this existing user (with --password)." };
    private static readonly Option<string?> Password = new("--password") { Description = $"The user's password (or set {PasswordVariable})." };
    private static readonly Option<string?> Token = new("--token") { Description = $"Use this access token (or set {TokenVariable})." };
    private static readonly Option<bool> RegisterProbe = new("--register-probe") { Description = "Register two probe users (verify+<random>@probe.apex.invalid)." };
    private static readonly Option<string?> Report = new("--report") { Description = "Write the Markdown worklog here." };
    private static readonly Option<string?> JsonOut = new("--json") { Description = "Write the JSON report here." };
    private static readonly Option<string?> JUnitOut = new("--junit") { Description = "Write JUnit XML here." };
    private static readonly Option<int> Repeat = new("--repeat") { Description = "Run the checks N times; the report adds p50/p95 and failure counts.", DefaultValueFactory = _ => 1 };
    private static readonly Option<double> Interval = new("--interval") { Description = "Seconds between repeats.", DefaultValueFactory = _ => 0 };
    private static readonly Option<string?> ThresholdsFile = new("--thresholds")
    {
        Description = "JSON file of max milliseconds per check or phase, e.g. {\"ws.ping\": 200, \"agent\": 30000}; a passing check over it makes the verdict 'degraded'.",
    };

    private static readonly Option<string[]> Only = new("--only")
    {
        Description = "Run only these phases or checks (comma-separated), plus the phases they need: " + string.Join(", ", Phases.All.Select(p => p.Id)) + ".",
        AllowMultipleArgumentsPerToken = true,
    };

    private static readonly Option<double> AgentTimeout = new("--agent-timeout")
    {
        Description = "Seconds an agent run may take to its terminal event.",
        DefaultValueFactory = _ => VerifySettings.DefaultAgentCompletionSeconds,
    };

    private static readonly Option<double> FirstEventTimeout = new("--first-event-timeout")
    {
        Description = "Seconds until an agent run's first event.",
        DefaultValueFactory = _ => VerifySettings.DefaultAgentFirstEventSeconds,
    };

    private static readonly Option<double> RequestTimeout = new("--request-timeout")
    {
        Description = "Seconds an HTTP request or WebSocket reply may take.",
        DefaultValueFactory = _ => VerifySettings.DefaultRequestTimeoutSeconds,
    };

    public static Command Create()
    {
        var command = new Command("verify", "Check a running Apex deployment end to end, as a user would: health, web, CORS, auth, API, WebSocket, agent, resume, isolation.")
        {
            BaseUrl, AuthUrl, WsUrl, WebUrl, Email, Password, Token, RegisterProbe, Report, JsonOut, JUnitOut, Repeat, Interval,
            ThresholdsFile, Only, AgentTimeout, FirstEventTimeout, RequestTimeout,
        };
        command.Action = new VerifyAction();
        return command;
    }

    /// <summary>
    /// Usage errors exit with 2 (not System.CommandLine's 1), so that 1 always means "the deployment failed a check".
    /// </summary>
    private sealed class VerifyAction : AsynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override async Task<int> InvokeAsync(ParseResult parseResult, CancellationToken cancellationToken)
        {
            var errors = parseResult.Errors.Select(e => e.Message).ToList();
            errors.AddRange(parseResult.UnmatchedTokens.Select(t => $"unrecognised argument '{t}'"));
            VerifySettings? settings = null;
            if (errors.Count == 0)
            {
                settings = Bind(parseResult, errors);
            }

            if (errors.Count > 0 || settings is null)
            {
                foreach (var error in errors)
                {
                    await Console.Error.WriteLineAsync($"apex verify: {error}");
                }

                await Console.Error.WriteLineAsync("usage: apex verify --base-url URL [--email E --password P | --token T | --register-probe] (see --help)");
                return ExitCodes.UsageOrConnection;
            }

            return await VerifyApp.RunAsync(settings, null, cancellationToken);
        }
    }

    /// <summary>Builds the settings, adding a message to <paramref name="errors"/> for each invalid option.</summary>
    internal static VerifySettings? Bind(ParseResult r, List<string> errors)
    {
        var baseUrl = ParseUrl("--base-url", r.GetValue(BaseUrl), ["http", "https"], errors);
        var authUrl = ParseUrl("--auth-url", r.GetValue(AuthUrl), ["http", "https"], errors);
        var wsUrl = ParseUrl("--ws-url", r.GetValue(WsUrl), ["ws", "wss", "http", "https"], errors);
        var webUrl = ParseUrl("--web-url", r.GetValue(WebUrl), ["http", "https"], errors);

        var email = r.GetValue(Email);
        var password = r.GetValue(Password) ?? (email is null ? null : Environment.GetEnvironmentVariable(PasswordVariable));
        var token = r.GetValue(Token);
        var register = r.GetValue(RegisterProbe);
        if (!register && email is null && token is null)
        {
            token = Environment.GetEnvironmentVariable(TokenVariable) is { Length: > 0 } fromEnv ? fromEnv : null;
        }

        var modes = (email is not null || r.GetValue(Password) is not null ? 1 : 0) + (token is not null ? 1 : 0) + (register ? 1 : 0);
        if (modes != 1)
        {
            errors.Add("choose exactly one way to sign in: --email with --password, --token, or --register-probe");
        }
        else if (email is not null && string.IsNullOrEmpty(password))
        {
            errors.Add($"--email needs --password (or {PasswordVariable})");
        }
        else if (email is null && r.GetValue(Password) is not null)
        {
            errors.Add("--password needs --email");
        }

        var repeat = r.GetValue(Repeat);
        if (repeat < 1)
        {
            errors.Add("--repeat must be at least 1");
        }

        foreach (var (name, value) in new[] { ("--interval", r.GetValue(Interval)), ("--agent-timeout", r.GetValue(AgentTimeout)), ("--first-event-timeout", r.GetValue(FirstEventTimeout)), ("--request-timeout", r.GetValue(RequestTimeout)) })
        {
            if (value < 0 || (name != "--interval" && value == 0) || double.IsNaN(value))
            {
                errors.Add($"{name} must be a positive number of seconds");
            }
        }

        var thresholds = Thresholds.None;
        if (r.GetValue(ThresholdsFile) is { } file)
        {
            try
            {
                thresholds = Thresholds.Load(file);
            }
            catch (Exception ex) when (ex is FormatException or IOException or UnauthorizedAccessException)
            {
                errors.Add($"--thresholds {file}: {ex.Message}");
            }
        }

        HashSet<string>? only = null;
        if (r.GetValue(Only) is { Length: > 0 } names)
        {
            only = names.SelectMany(n => n.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToHashSet(StringComparer.OrdinalIgnoreCase);
            try
            {
                Phases.Resolve(only);
            }
            catch (ArgumentException ex)
            {
                errors.Add(ex.Message);
            }
        }

        if (errors.Count > 0)
        {
            return null;
        }

        var requestTimeout = TimeSpan.FromSeconds(r.GetValue(RequestTimeout));
        return new VerifySettings
        {
            BaseUrl = baseUrl!,
            AuthUrl = authUrl,
            WsUrl = wsUrl,
            WebUrl = webUrl,
            CredentialMode = register ? ProbeCredentialMode.RegisterProbe : token is not null ? ProbeCredentialMode.Token : ProbeCredentialMode.Password,
            Email = email,
            Password = password,
            Token = token,
            MarkdownReportPath = r.GetValue(Report),
            JsonReportPath = r.GetValue(JsonOut),
            JUnitReportPath = r.GetValue(JUnitOut),
            Repeat = repeat,
            Interval = TimeSpan.FromSeconds(r.GetValue(Interval)),
            Thresholds = thresholds,
            Only = only,
            RequestTimeout = requestTimeout,
            FrameTimeout = requestTimeout < TimeSpan.FromSeconds(VerifySettings.DefaultFrameTimeoutSeconds) ? requestTimeout : TimeSpan.FromSeconds(VerifySettings.DefaultFrameTimeoutSeconds),
            AgentCompletionTimeout = TimeSpan.FromSeconds(r.GetValue(AgentTimeout)),
            AgentFirstEventTimeout = TimeSpan.FromSeconds(r.GetValue(FirstEventTimeout)),
        };
    }

    private static Uri? ParseUrl(string name, string? value, string[] schemes, List<string> errors)
    {
        if (value is null)
        {
            return null;
        }

        if (Uri.TryCreate(value, UriKind.Absolute, out var uri) && schemes.Contains(uri.Scheme))
        {
            return uri;
        }

        errors.Add($"{name} must be an absolute {string.Join("/", schemes)} URL, got '{value}'");
        return null;
    }
}
