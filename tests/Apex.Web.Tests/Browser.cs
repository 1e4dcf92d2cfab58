using System.Collections.Concurrent;
using Microsoft.Playwright;

namespace Apex.Web.Tests;

/// <summary>
/// One headless Chromium (Debian's package, driven by Playwright) for the browser suite. Each test
/// gets a fresh context (no cookies, no storage) and saves a screenshot when it fails.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? playwright;

    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"{ChromiumPath} is missing: install Debian's chromium package (scripts/deps.sh test).");
        }

        await WebApp.EnsureBuiltAsync();
        // The suite shares two cores with every other test project: give assertions room.
        Microsoft.Playwright.Assertions.SetDefaultExpectTimeout(15_000);
        playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args =
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage",
            ],
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        playwright?.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class BrowserCollectionDefinition : ICollectionFixture<BrowserFixture>
{
    public const string Name = "browser";
}

/// <summary>A page plus what it reported: script errors, CSP violations, WebSocket frames.</summary>
internal sealed class PageSession : IAsyncDisposable
{
    /// <summary>
    /// Records every WebSocket the app opens and, when a test sets <c>window.__apexCutAfter</c> to a
    /// frame type, closes that socket right after the first such frame: a real mid-run drop.
    /// </summary>
    private const string SocketProbe = """
        (() => {
          const Native = window.WebSocket;
          window.__apexSockets = [];
          window.__apexCutAfter = null;
          window.__apexCuts = 0;
          class Probed extends Native {
            constructor(url, protocols) {
              super(url, protocols);
              window.__apexSockets.push(String(url));
              this.addEventListener('message', (m) => {
                const cut = window.__apexCutAfter;
                if (!cut) return;
                try {
                  if (JSON.parse(m.data).type === cut) {
                    window.__apexCutAfter = null;
                    window.__apexCuts++;
                    this.close(4000, 'test cut');
                  }
                } catch {}
              });
            }
          }
          window.WebSocket = Probed;
        })();
        """;

    private readonly IBrowserContext context;
    private readonly ConcurrentBag<string> expectedConsole = [];

    /// <summary>A console error the test provokes on purpose (text fragment).</summary>
    public void ExpectConsoleError(string fragment) => expectedConsole.Add(fragment);

    private PageSession(IBrowserContext context, IPage page)
    {
        this.context = context;
        Page = page;
        page.PageError += (_, e) => Errors.Add($"page error: {e}");
        page.Console += (_, m) =>
        {
            if (m.Type == "error" && !m.Text.Contains("Failed to load resource", StringComparison.Ordinal)
                && !expectedConsole.Any(e => m.Text.Contains(e, StringComparison.Ordinal)))
            {
                Errors.Add($"console: {m.Text}");
            }
        };
        page.WebSocket += (_, ws) => ws.FrameReceived += (_, f) =>
        {
            if (f.Text is { } text)
            {
                Frames.Enqueue(text);
            }
        };
        page.Dialog += async (_, d) =>
        {
            if (AcceptDialogs)
            {
                await d.AcceptAsync();
                return;
            }

            Errors.Add($"unexpected dialog: {d.Message}");
            await d.DismissAsync();
        };
    }

    public IPage Page { get; }

    /// <summary>Confirms dialogs (delete confirmations) instead of failing on them.</summary>
    public bool AcceptDialogs { get; set; }

    public ConcurrentBag<string> Errors { get; } = [];

    /// <summary>Every text frame the page received, over all its sockets, in arrival order.</summary>
    public ConcurrentQueue<string> Frames { get; } = new();

    public static async Task<PageSession> OpenAsync(IBrowser browser, Uri baseAddress, int width = 1280, int height = 900)
    {
        var context = await browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = width, Height = height },
            ColorScheme = ColorScheme.Light,
        });
        context.SetDefaultTimeout(15_000);
        await context.AddInitScriptAsync(SocketProbe);
        var page = await context.NewPageAsync();
        return new PageSession(context, page);
    }

    public async ValueTask DisposeAsync() => await context.CloseAsync();

    /// <summary>Runs a test body; on failure saves TestResults/web/{name}.png and rethrows.</summary>
    public static async Task RunAsync(IBrowser browser, Uri baseAddress, string name, Func<PageSession, Task> body, int width = 1280, int height = 900)
    {
        await using var session = await OpenAsync(browser, baseAddress, width, height);
        try
        {
            await body(session);
            if (Environment.GetEnvironmentVariable("APEX_WEB_SCREENSHOTS") == "1")
            {
                await session.Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(WebApp.ResultsDir, $"{name}-final.png"), FullPage = true });
            }

            Assert.True(session.Errors.IsEmpty, "The page reported errors:\n" + string.Join('\n', session.Errors));
        }
        catch
        {
            try
            {
                await session.Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(WebApp.ResultsDir, $"{name}.png"), FullPage = true });
            }
            catch (PlaywrightException)
            {
                // The page itself is gone; the test's own error says why.
            }

            throw;
        }
    }
}
