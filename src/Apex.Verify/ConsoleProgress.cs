using System.Globalization;
using Apex.Verify.Reports;
using Spectre.Console;

namespace Apex.Verify;

/// <summary>Plain progress lines, for redirected output and logs.</summary>
public sealed class PlainProgress(TextWriter output) : IVerifyProgress
{
    public void IterationStarted(int iteration, int of)
    {
        if (of > 1)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"iteration {iteration}/{of}"));
        }
    }

    public void CheckStarted(string id, string title)
    {
    }

    public void CheckFinished(CheckResult result)
    {
        var time = result.Status == CheckStatus.Skip ? "-" : MarkdownReport.Ms(result.Duration.TotalMilliseconds);
        output.WriteLine($"{VerdictText.Of(result.Status),-4}  {result.Id,-26} {time,9}  {result.Detail}");
    }
}

/// <summary>The live terminal view: a spinner on the running check, a coloured line per finished one.</summary>
internal sealed class LiveProgress(IAnsiConsole console) : IVerifyProgress
{
    public StatusContext? Status { get; set; }

    public void IterationStarted(int iteration, int of)
    {
        if (of > 1)
        {
            console.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"[bold]iteration {iteration}/{of}[/]"));
        }
    }

    public void CheckStarted(string id, string title)
    {
        Status?.Status(Markup.Escape($"{id}: {title}"));
    }

    public void CheckFinished(CheckResult result)
    {
        var colour = result.Status switch
        {
            CheckStatus.Pass => "green",
            CheckStatus.Slow => "yellow",
            CheckStatus.Fail => "red",
            _ => "grey",
        };
        var time = result.Status == CheckStatus.Skip ? "-" : MarkdownReport.Ms(result.Duration.TotalMilliseconds);
        // A grid wraps the detail itself; a line wrapped by the terminal would confuse the spinner's redraw.
        var grid = new Grid()
            .AddColumn(new GridColumn().Width(4).NoWrap())
            .AddColumn(new GridColumn().Width(26).NoWrap())
            .AddColumn(new GridColumn().Width(9).RightAligned().NoWrap())
            .AddColumn(new GridColumn());
        grid.AddRow(
            new Markup($"[{colour}]{VerdictText.Of(result.Status)}[/]"),
            new Text(result.Id),
            new Text(time),
            new Markup($"[dim]{Markup.Escape(result.Detail)}[/]"));
        console.Write(grid);
    }
}

/// <summary>Runs the checks with a progress view, writes the reports, and returns the exit code.</summary>
public static class VerifyApp
{
    /// <param name="output">Where plain progress goes; null uses the terminal (live view when interactive).</param>
    public static async Task<int> RunAsync(VerifySettings settings, TextWriter? output, CancellationToken ct)
    {
        VerifyReport report;
        var interactive = output is null && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        var writer = output ?? Console.Out;
        if (interactive)
        {
            var live = new LiveProgress(AnsiConsole.Console);
            report = await AnsiConsole.Status().Spinner(Spinner.Known.Dots).StartAsync("starting", async status =>
            {
                live.Status = status;
                return await VerifyRunner.RunAsync(settings, live, ct);
            });
        }
        else
        {
            report = await VerifyRunner.RunAsync(settings, new PlainProgress(writer), ct);
        }

        try
        {
            await WriteAsync(settings.MarkdownReportPath, MarkdownReport.Render(report), ct);
            await WriteAsync(settings.JsonReportPath, JsonReport.Render(report), ct);
            await WriteAsync(settings.JUnitReportPath, JUnitReport.Render(report), ct);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"apex verify: cannot write a report: {ex.Message}");
            return ExitCodes.UsageOrConnection;
        }

        var last = report.Last;
        var summary = string.Create(CultureInfo.InvariantCulture,
            $"verdict: {VerdictText.Of(report.Verdict)} ({last.Checks.Count(c => c.Status == CheckStatus.Pass)} passed, {last.Checks.Count(c => c.Status == CheckStatus.Slow)} over threshold, {last.Checks.Count(c => c.Status == CheckStatus.Fail)} failed, {last.Checks.Count(c => c.Status == CheckStatus.Skip)} skipped, {report.Duration.TotalSeconds:0.0} s)");
        if (report.ConnectionError is { } error)
        {
            summary += $"; cannot reach the deployment: {error}";
        }

        if (interactive)
        {
            var colour = report.Verdict switch { Verdict.Pass => "green", Verdict.Degraded => "yellow", _ => "red" };
            AnsiConsole.MarkupLine($"[bold {colour}]{Markup.Escape(summary)}[/]");
        }
        else
        {
            await writer.WriteLineAsync(summary);
        }

        return report.ExitCode;
    }

    private static async Task WriteAsync(string? path, string content, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(path))
        {
            return;
        }

        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }

        await File.WriteAllTextAsync(path, content, ct);
    }
}
