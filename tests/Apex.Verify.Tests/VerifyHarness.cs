using System.Text;
using Apex.Testing;

namespace Apex.Verify.Tests;

/// <summary>Runs the checker in-process against a deployment and keeps what it printed and wrote.</summary>
internal sealed class VerifyHarness : IDisposable
{
    public VerifyHarness()
    {
        Dir = Directory.CreateTempSubdirectory("apex-verify-").FullName;
    }

    public string Dir { get; }
    public string MarkdownPath => Path.Combine(Dir, "worklog.md");
    public string JsonPath => Path.Combine(Dir, "report.json");
    public string JUnitPath => Path.Combine(Dir, "report.xml");
    public string Output { get; private set; } = string.Empty;

    /// <summary>Settings fit for a test: bounded timeouts, all three reports.</summary>
    public VerifySettings Settings(Uri baseUrl, Uri? authUrl = null, Uri? webUrl = null) => new()
    {
        BaseUrl = baseUrl,
        AuthUrl = authUrl,
        WebUrl = webUrl,
        CredentialMode = ProbeCredentialMode.RegisterProbe,
        MarkdownReportPath = MarkdownPath,
        JsonReportPath = JsonPath,
        JUnitReportPath = JUnitPath,
        // Generous for a loaded CI machine; a healthy run takes a fraction of each.
        RequestTimeout = TimeSpan.FromSeconds(20),
        FrameTimeout = TimeSpan.FromSeconds(10),
        AgentFirstEventTimeout = TimeSpan.FromSeconds(20),
        AgentCompletionTimeout = TimeSpan.FromSeconds(30),
        QuietPeriod = TimeSpan.FromMilliseconds(300),
    };

    public async Task<int> RunAsync(VerifySettings settings)
    {
        var output = new StringWriter(new StringBuilder());
        var code = await VerifyApp.RunAsync(settings, output, CancellationToken.None);
        Output = output.ToString();
        return code;
    }

    public string Markdown => File.ReadAllText(MarkdownPath);
    public string Json => File.ReadAllText(JsonPath);

    /// <summary>The result of one check in the JSON report, as an operator's tooling would read it.</summary>
    public (string Result, string Detail) Check(string id)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(Json);
        var iteration = doc.RootElement.GetProperty("iterations")[doc.RootElement.GetProperty("iterations").GetArrayLength() - 1];
        foreach (var check in iteration.GetProperty("checks").EnumerateArray())
        {
            if (check.GetProperty("id").GetString() == id)
            {
                return (check.GetProperty("result").GetString()!, check.GetProperty("detail").GetString()!);
            }
        }

        throw new Xunit.Sdk.XunitException($"check {id} is not in the report:\n{Output}");
    }

    /// <summary>Ids of checks that failed, for assertion messages.</summary>
    public string Failures()
    {
        using var doc = System.Text.Json.JsonDocument.Parse(Json);
        var iteration = doc.RootElement.GetProperty("iterations")[0];
        return string.Join("\n", iteration.GetProperty("checks").EnumerateArray()
            .Where(c => c.GetProperty("result").GetString() is "fail" or "slow")
            .Select(c => $"{c.GetProperty("id").GetString()}: {c.GetProperty("detail").GetString()}"));
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

internal static class ServerExtensions
{
    public static Uri Base(this ApexTestServer server) => server.BaseAddress;
}
