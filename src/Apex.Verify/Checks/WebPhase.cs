using System.Text.RegularExpressions;
using Apex.Verify.Probe;

namespace Apex.Verify.Checks;

/// <summary>Phase 2: the web app loads with its security headers and its assets.</summary>
internal static partial class WebPhase
{
    private static readonly KeyValuePair<string, string>[] AcceptHtml = [new("Accept", "text/html,application/xhtml+xml")];

    public static async Task RunAsync(VerifyContext ctx, CancellationToken ct)
    {
        var web = ctx.Endpoints.Web;
        ProbeResponse? page = null;

        await ctx.CheckAsync("web.page", "the page loads", async _ =>
        {
            try
            {
                page = await ctx.Http.GetAsync(web, null, ct, AcceptHtml);
            }
            catch (ProbeConnectionException) when (!ctx.Endpoints.WebExplicit)
            {
                throw new CheckSkippedException($"no web app is served at {web} (connection refused); pass --web-url to check one");
            }

            var isHtml = page.MediaType?.Contains("html", StringComparison.OrdinalIgnoreCase) == true;
            if (page.Status != 200 || !isHtml)
            {
                var what = $"{page.Describe()} ({page.MediaType ?? "no content type"})";
                if (!ctx.Endpoints.WebExplicit)
                {
                    throw new CheckSkippedException($"no web app is served at {web}: {what}; pass --web-url to check one");
                }

                throw new CheckFailedException($"no web page at {web}: {what}");
            }

            var title = TitleRegex().Match(page.Body) is { Success: true } m ? $" \"{m.Groups[1].Value.Trim()}\"" : string.Empty;
            return $"{page.Describe()}, {page.Body.Length} bytes of HTML{title}";
        }, ct, provides: Facts.Web);

        await ctx.CheckAsync("web.headers", "security headers and CSP", _ =>
        {
            var p = page!;
            var problems = new List<string>();
            if (!string.Equals(p.Header("X-Content-Type-Options"), "nosniff", StringComparison.OrdinalIgnoreCase))
            {
                problems.Add("X-Content-Type-Options is not nosniff");
            }

            if (p.Header("Referrer-Policy") is null)
            {
                problems.Add("no Referrer-Policy");
            }

            var csp = p.Header("Content-Security-Policy");
            if (csp is null)
            {
                problems.Add("no Content-Security-Policy");
            }

            var frameDenied = string.Equals(p.Header("X-Frame-Options"), "DENY", StringComparison.OrdinalIgnoreCase)
                || csp?.Contains("frame-ancestors 'none'", StringComparison.OrdinalIgnoreCase) == true;
            if (!frameDenied)
            {
                problems.Add("framing allowed (no X-Frame-Options: DENY nor CSP frame-ancestors 'none')");
            }

            if (web.Scheme == Uri.UriSchemeHttps && p.Header("Strict-Transport-Security") is null)
            {
                problems.Add("no Strict-Transport-Security over HTTPS");
            }

            if (problems.Count > 0)
            {
                throw new CheckFailedException(string.Join("; ", problems));
            }

            var directives = csp!.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(d => d.Split(' ')[0]);
            return Task.FromResult($"nosniff, Referrer-Policy {p.Header("Referrer-Policy")}, CSP with {string.Join(", ", directives)}");
        }, ct, needs: [Facts.Web]);

        await ctx.CheckAsync("web.assets", "its scripts and stylesheets load", async _ =>
        {
            var p = page!;
            var assets = AssetRegex().Matches(p.Body)
                .Select(m => m.Groups["url"].Value)
                .Where(u => !u.StartsWith("data:", StringComparison.OrdinalIgnoreCase))
                .Select(u => Uri.TryCreate(web, u, out var abs) ? abs : null)
                .OfType<Uri>()
                .Where(u => Endpoints.Origin(u) == Endpoints.Origin(web))
                .Distinct()
                .ToList();
            if (assets.Count == 0)
            {
                return "the page references no same-origin script or stylesheet";
            }

            var failures = new List<string>();
            long bytes = 0;
            foreach (var asset in assets)
            {
                var response = await ctx.Http.GetAsync(asset, null, ct);
                bytes += response.Body.Length;
                if (response.Status != 200 || response.Body.Length == 0)
                {
                    failures.Add($"{asset.AbsolutePath} -> {response.Status}");
                }
                else if (response.MediaType?.Contains("html", StringComparison.OrdinalIgnoreCase) == true)
                {
                    // An SPA fallback answering index.html for a missing bundle looks like a 200.
                    failures.Add($"{asset.AbsolutePath} answered HTML (missing file served by the page fallback)");
                }
            }

            if (failures.Count > 0)
            {
                throw new CheckFailedException($"{failures.Count} of {assets.Count} assets failed: {string.Join(", ", failures)}");
            }

            return $"{assets.Count} assets, {bytes / 1024.0:0.#} KiB";
        }, ct, needs: [Facts.Web]);
    }

    [GeneratedRegex(@"<title[^>]*>([^<]*)</title>", RegexOptions.IgnoreCase)]
    private static partial Regex TitleRegex();

    [GeneratedRegex(@"<(?:script[^>]*\ssrc|link[^>]*\shref)\s*=\s*[""'](?<url>[^""']+)[""']", RegexOptions.IgnoreCase)]
    private static partial Regex AssetRegex();
}
