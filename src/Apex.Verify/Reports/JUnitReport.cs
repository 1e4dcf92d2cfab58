using System.Globalization;
using System.Xml.Linq;

namespace Apex.Verify.Reports;

/// <summary>
/// JUnit XML for CI dashboards: one testsuite per phase and iteration, one testcase per check. A
/// check over its threshold is a failure of type "threshold", as it makes the command exit 1.
/// </summary>
public static class JUnitReport
{
    public static string Render(VerifyReport report)
    {
        var multi = report.Iterations.Count > 1;
        var suites = new List<XElement>();
        foreach (var iteration in report.Iterations)
        {
            foreach (var phase in Phases.All)
            {
                var checks = iteration.Checks.Where(c => c.Phase == phase.Id).ToList();
                if (checks.Count == 0)
                {
                    continue;
                }

                suites.Add(new XElement("testsuite",
                    new XAttribute("name", multi ? $"{phase.Id} #{iteration.Iteration}" : phase.Id),
                    new XAttribute("tests", checks.Count),
                    new XAttribute("failures", checks.Count(c => c.Status is CheckStatus.Fail or CheckStatus.Slow)),
                    new XAttribute("errors", 0),
                    new XAttribute("skipped", checks.Count(c => c.Status == CheckStatus.Skip)),
                    new XAttribute("time", Seconds(checks.Sum(c => c.Duration.TotalSeconds))),
                    new XAttribute("timestamp", iteration.StartedAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture)),
                    checks.Select(Case)));
            }
        }

        var all = report.Iterations.SelectMany(i => i.Checks).ToList();
        var root = new XElement("testsuites",
            new XAttribute("name", "apex verify"),
            new XAttribute("tests", all.Count),
            new XAttribute("failures", all.Count(c => c.Status is CheckStatus.Fail or CheckStatus.Slow)),
            new XAttribute("errors", 0),
            new XAttribute("skipped", all.Count(c => c.Status == CheckStatus.Skip)),
            new XAttribute("time", Seconds(report.Duration.TotalSeconds)),
            suites);
        return new XDocument(new XDeclaration("1.0", "utf-8", null), root).Declaration + Environment.NewLine + root;
    }

    private static XElement Case(CheckResult c)
    {
        var element = new XElement("testcase",
            new XAttribute("classname", $"apex.verify.{c.Phase}"),
            new XAttribute("name", $"{c.Id}: {c.Title}"),
            new XAttribute("time", Seconds(c.Duration.TotalSeconds)));
        switch (c.Status)
        {
            case CheckStatus.Fail:
                element.Add(new XElement("failure", new XAttribute("message", c.Detail), new XAttribute("type", "check"), c.Detail));
                break;
            case CheckStatus.Slow:
                element.Add(new XElement("failure", new XAttribute("message", c.Detail), new XAttribute("type", "threshold"), c.Detail));
                break;
            case CheckStatus.Skip:
                element.Add(new XElement("skipped", new XAttribute("message", c.Detail)));
                break;
            default:
                element.Add(new XElement("system-out", c.Detail));
                break;
        }

        return element;
    }

    private static string Seconds(double seconds) => seconds.ToString("0.000", CultureInfo.InvariantCulture);
}
