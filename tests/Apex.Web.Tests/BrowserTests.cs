using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Apex.Testing;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Apex.Web.Tests;

/// <summary>
/// The whole journey in real headless Chromium against a real Apex server serving the built app.
/// </summary>
[Collection(BrowserCollectionDefinition.Name)]
public sealed partial class BrowserTests(BrowserFixture fixture)
{
    private const string Password = "correct-horse-battery-staple";
    private static readonly string[] CriticalEvents = ["agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed"];

    private static string NewEmail() => $"user-{Guid.NewGuid():N}@example.com";

    private static async Task RegisterAsync(IPage page, string email)
    {
        await page.GotoAsync("/");
        await page.GetByRole(AriaRole.Button, new() { Name = "Create an account" }).ClickAsync();
        await page.GetByLabel("Name (optional)").FillAsync("Test User");
        await page.GetByLabel("Email").FillAsync(email);
        await page.GetByLabel("Password").FillAsync(Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Create account" }).ClickAsync();
        await Expect(page.GetByLabel("Message", new() { Exact = true })).ToBeVisibleAsync();
        await Expect(page.GetByTestId("connection-status")).ToHaveAttributeAsync("data-status", "connected");
    }

    private static async Task SendAsync(IPage page, string text)
    {
        var composer = page.GetByLabel("Message", new() { Exact = true });
        await composer.FillAsync(text);
        await composer.PressAsync("Enter");
    }

    /// <summary>Records, for every timeline entry the page shows, whether its run was still going.</summary>
    private const string TimelineRecorder = """
        () => {
          window.__apexSeen = [];
          new MutationObserver(() => {
            for (const li of document.querySelectorAll('li[data-event]')) {
              if (li.__apexSeen === li.dataset.event) continue;
              li.__apexSeen = li.dataset.event;
              const run = li.closest('[data-run]');
              window.__apexSeen.push({ type: li.dataset.event, live: run ? run.dataset.final === 'false' : false });
            }
          }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-event'] });
        }
        """;

    private static decimal Money(string text)
    {
        var m = MoneyPattern().Match(text);
        Assert.True(m.Success, $"no amount in '{text}'");
        return decimal.Parse(m.Value.Replace(",", "", StringComparison.Ordinal), CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"[0-9][0-9,]*(\.[0-9]+)?")]
    private static partial Regex MoneyPattern();

    [Fact(Timeout = 120_000)]
    public async Task Register_upload_ask_see_live_events_and_report_then_reload_keeps_history()
    {
        await using var server = await WebApp.StartServerAsync();
        var dir = Directory.CreateTempSubdirectory("apex-web-").FullName;
        var csv = UsageData.WriteCsv(dir);

        await PageSession.RunAsync(fixture.Browser, server.BaseAddress, "journey", async s =>
        {
            var page = s.Page;
            await RegisterAsync(page, NewEmail());

            // Upload: progress, then the parse result; the file is attached to the conversation.
            await page.GetByRole(AriaRole.Button, new() { Name = "Upload usage data" }).ClickAsync();
            await page.GetByLabel("Usage file (CSV or JSON Lines)").SetInputFilesAsync(csv);
            await Expect(page.GetByTestId("dataset-rows")).ToHaveTextAsync(UsageData.Rows.ToString("N0", CultureInfo.InvariantCulture));
            await Expect(page.GetByTestId("attached-dataset")).ToContainTextAsync("usage-export.csv");
            await page.GetByRole(AriaRole.Button, new() { Name = "Done" }).ClickAsync();

            await page.EvaluateAsync(TimelineRecorder);
            const string question = "Analyse the usage file I uploaded and give me a 4-week plan.";
            await SendAsync(page, question);

            var run = page.Locator("article[data-run]").Last;
            await Expect(run).ToHaveAttributeAsync("data-final", "true", new() { Timeout = 60_000 });
            await Expect(run).ToHaveAttributeAsync("data-phase", "completed");

            // The five critical event types came over the socket and each shows in the timeline.
            var types = s.Frames.Select(f => JsonDocument.Parse(f).RootElement.GetProperty("type").GetString()).ToHashSet();
            foreach (var type in CriticalEvents)
            {
                Assert.Contains(type, types);
            }

            await Expect(run.Locator("li[data-event='agent_started']").First).ToBeAttachedAsync();
            await Expect(run.Locator("li[data-event='agent_thinking']").First).ToBeAttachedAsync();
            await Expect(run.Locator("li[data-event='tool_completed']").First).ToBeAttachedAsync();
            await Expect(run.Locator("li[data-event='agent_completed']").First).ToBeAttachedAsync();
            var seen = await page.EvaluateAsync<JsonElement>("() => window.__apexSeen");
            Assert.Contains(seen.EnumerateArray(), e => e.GetProperty("live").GetBoolean());

            // Tool calls start folded; their parameters are one click away.
            var tool = run.Locator("li[data-event='tool_completed'] details").First;
            Assert.Null(await tool.GetAttributeAsync("open"));

            // The report with its savings.
            var report = run.GetByTestId("report");
            await Expect(report).ToBeVisibleAsync();
            var savings = await report.GetByTestId("monthly-savings").InnerTextAsync();
            Assert.True(Money(savings) > 0, $"savings shown: {savings}");
            await Expect(report.Locator("table.recs tbody tr").First).ToBeVisibleAsync();
            await Expect(report.GetByText("Cost by model (per month)")).ToBeVisibleAsync();
            await Expect(run.GetByTestId("answer")).Not.ToBeEmptyAsync();

            // The picture for the README: the chat with a finished report.
            await run.Locator("details.activity > summary").ClickAsync();
            await page.SetViewportSizeAsync(1280, 1200);
            await report.EvaluateAsync("e => e.scrollIntoView({ block: 'start' })");
            var docs = Path.Combine(WebApp.RepoRoot, "docs");
            Directory.CreateDirectory(docs);
            await page.ScreenshotAsync(new() { Path = Path.Combine(docs, "screenshot-chat.png") });

            // Reload: the same thread, its history and its report come back from the server.
            await page.SetViewportSizeAsync(1280, 900);
            await page.ReloadAsync();
            await Expect(page.GetByTestId("user-message").First).ToContainTextAsync(question);
            var reloaded = page.Locator("article[data-run]").Last;
            await Expect(reloaded).ToHaveAttributeAsync("data-phase", "completed");
            await Expect(reloaded.GetByTestId("monthly-savings")).ToHaveTextAsync(savings);
            await Expect(reloaded.GetByTestId("answer")).Not.ToBeEmptyAsync();
            await Expect(page.GetByTestId("thread-item")).ToHaveCountAsync(1);
        });
        Directory.Delete(dir, recursive: true);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_run_whose_socket_is_cut_completes_on_screen_after_the_reconnect()
    {
        // A slowed agent keeps the run going on the server while the browser is disconnected.
        var agent = new ScriptedAgent { Delay = TimeSpan.FromMilliseconds(400) };
        await using var server = await ApexTestServer.StartAsync(
            new Dictionary<string, string?> { ["Web:Root"] = WebApp.WebRoot },
            b => ScriptedAgent.Register(b, agent));

        await PageSession.RunAsync(fixture.Browser, server.BaseAddress, "reconnect", async s =>
        {
            var page = s.Page;
            await RegisterAsync(page, NewEmail());
            await page.EvaluateAsync("() => { window.__apexCutAfter = 'tool_executing'; }");
            const string question = "How much would caching save us?";
            await SendAsync(page, question);

            var run = page.Locator("article[data-run]").Last;
            await Expect(run).ToHaveAttributeAsync("data-final", "true", new() { Timeout = 60_000 });
            Assert.Equal(1, await page.EvaluateAsync<int>("() => window.__apexCuts"));
            var sockets = await page.EvaluateAsync<string[]>("() => window.__apexSockets");
            Assert.True(sockets.Length >= 2, "the app reconnected");
            Assert.Contains("last_seq=", sockets[^1], StringComparison.Ordinal);
            Assert.Contains("epoch=", sockets[^1], StringComparison.Ordinal);
            await Expect(page.GetByTestId("connection-status")).ToHaveAttributeAsync("data-status", "connected");

            // Exactly the run's events, once each: one entry per event the server stored.
            await Expect(run).ToHaveAttributeAsync("data-phase", "completed");
            await Expect(run.Locator("li[data-event='agent_started']")).ToHaveCountAsync(2);
            await Expect(run.Locator("li[data-event='agent_thinking']")).ToHaveCountAsync(1);
            await Expect(run.Locator("li[data-event='tool_completed']")).ToHaveCountAsync(1);
            await Expect(run.Locator("li[data-event='agent_completed']")).ToHaveCountAsync(2);
            await Expect(run.GetByTestId("answer")).ToHaveTextAsync(ScriptedAgent.AnswerFor(question));

            // The resume replayed what the cut socket never delivered.
            var resumed = s.Frames.Select(f => JsonDocument.Parse(f).RootElement)
                .Where(f => f.GetProperty("type").GetString() == "resumed").ToList();
            Assert.NotEmpty(resumed);
            Assert.True(resumed[^1].GetProperty("payload").GetProperty("recovered").GetBoolean());
        });
    }

    [Fact(Timeout = 90_000)]
    public async Task Html_in_messages_renders_as_text()
    {
        await using var server = await WebApp.StartServerAsync();
        await PageSession.RunAsync(fixture.Browser, server.BaseAddress, "xss", async s =>
        {
            var page = s.Page;
            await RegisterAsync(page, NewEmail());
            const string payload = "<img src=x onerror=\"window.__xss=1\"> <script>window.__xss=2</script> [click](javascript:window.__xss=3) **bold**";
            await SendAsync(page, payload);

            var bubble = page.GetByTestId("user-message").Last;
            await Expect(bubble).ToContainTextAsync("<img src=x onerror=\"window.__xss=1\">");
            await Expect(bubble).ToContainTextAsync("<script>window.__xss=2</script>");
            await Expect(bubble.Locator("strong")).ToHaveTextAsync("bold");
            await Expect(page.Locator("article[data-run]").Last).ToHaveAttributeAsync("data-final", "true", new() { Timeout = 60_000 });

            Assert.Equal(0, await page.Locator(".messages img, .sidebar img, .messages script").CountAsync());
            Assert.Equal(0, await page.Locator(".messages a[href^='javascript']").CountAsync());
            Assert.Null(await page.EvaluateAsync<int?>("() => window.__xss ?? null"));
            // The thread title made from the message is text too.
            await Expect(page.GetByTestId("thread-item").First).ToContainTextAsync("<img src=x");
        });
    }

    [Fact(Timeout = 90_000)]
    public async Task Sign_out_then_back_returns_to_sign_in()
    {
        await using var server = await WebApp.StartServerAsync();
        await PageSession.RunAsync(fixture.Browser, server.BaseAddress, "signout", async s =>
        {
            var page = s.Page;
            await RegisterAsync(page, NewEmail());
            await SendAsync(page, "Hello");
            await Expect(page.Locator("article[data-run]").Last).ToHaveAttributeAsync("data-final", "true", new() { Timeout = 60_000 });
            await Expect(page).ToHaveURLAsync(new Regex("/threads/thr_"));

            await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in to Apex" })).ToBeVisibleAsync();

            await page.GoBackAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in to Apex" })).ToBeVisibleAsync();
            await Expect(page.GetByTestId("messages")).ToHaveCountAsync(0);

            await page.ReloadAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in to Apex" })).ToBeVisibleAsync();
            Assert.Equal("null", await page.EvaluateAsync<string>("() => String(localStorage.getItem('apex.session'))"));
        });
    }

    [Fact(Timeout = 90_000)]
    public async Task Server_validation_messages_show_next_to_the_fields()
    {
        await using var server = await WebApp.StartServerAsync();
        await PageSession.RunAsync(fixture.Browser, server.BaseAddress, "validation", async s =>
        {
            var page = s.Page;
            await page.GotoAsync("/");
            await page.GetByRole(AriaRole.Button, new() { Name = "Create an account" }).ClickAsync();
            await page.GetByLabel("Email").FillAsync("not-an-email");
            await page.GetByLabel("Password").FillAsync("short");
            await page.GetByRole(AriaRole.Button, new() { Name = "Create account" }).ClickAsync();

            var email = page.GetByLabel("Email");
            await Expect(email).ToHaveAttributeAsync("aria-invalid", "true");
            var describedBy = await email.GetAttributeAsync("aria-describedby");
            Assert.NotNull(describedBy);
            await Expect(page.Locator($"[id='{describedBy}']")).Not.ToBeEmptyAsync();
            await Expect(page.GetByLabel("Password")).ToHaveAttributeAsync("aria-invalid", "true");
        }, width: 360, height: 740);
    }

    [Fact(Timeout = 90_000)]
    public async Task Narrow_screen_reaches_threads_through_the_menu_and_keyboard_sends()
    {
        await using var server = await WebApp.StartServerAsync();
        await PageSession.RunAsync(fixture.Browser, server.BaseAddress, "narrow", async s =>
        {
            var page = s.Page;
            await RegisterAsync(page, NewEmail());
            await Expect(page.GetByRole(AriaRole.Button, new() { Name = "+ New chat" })).Not.ToBeInViewportAsync();

            // Shift+Enter is a new line, Enter sends.
            var composer = page.GetByLabel("Message", new() { Exact = true });
            await composer.FocusAsync();
            await page.Keyboard.TypeAsync("first line");
            await page.Keyboard.PressAsync("Shift+Enter");
            await page.Keyboard.TypeAsync("second line");
            await Expect(composer).ToHaveValueAsync("first line\nsecond line");
            await page.Keyboard.PressAsync("Enter");
            await Expect(page.GetByTestId("user-message").Last).ToContainTextAsync("second line");
            await Expect(composer).ToHaveValueAsync("");

            await page.GetByRole(AriaRole.Button, new() { Name = "Show conversations" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Button, new() { Name = "+ New chat" })).ToBeInViewportAsync();
            await Expect(page.GetByTestId("thread-item")).ToHaveCountAsync(1);
            var width = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth");
            Assert.True(width <= 360, $"no horizontal scrolling at 360 px (page is {width} px wide)");
        }, width: 360, height: 740);
    }

    [Fact(Timeout = 90_000)]
    public async Task A_failed_refresh_returns_to_sign_in_and_keeps_the_draft()
    {
        await using var server = await WebApp.StartServerAsync();
        await PageSession.RunAsync(fixture.Browser, server.BaseAddress, "draft", async s =>
        {
            var page = s.Page;
            var email = NewEmail();
            await RegisterAsync(page, email);
            var composer = page.GetByLabel("Message", new() { Exact = true });
            await composer.FillAsync("A long question I was still writing");

            // The session is revoked elsewhere (as a sign-out in another tab or a reused refresh
            // token would) and the stored access token is no longer accepted.
            var status = await page.EvaluateAsync<int>("""
                async () => {
                  const s = JSON.parse(localStorage.getItem('apex.session'));
                  const r = await fetch('/auth/logout', { method: 'POST',
                    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + s.accessToken },
                    body: JSON.stringify({ refresh_token: s.refreshToken }) });
                  localStorage.setItem('apex.session', JSON.stringify({ ...s, accessToken: 'revoked.token.value' }));
                  return r.status;
                }
                """);
            Assert.Equal(204, status);
            s.ExpectConsoleError("WebSocket connection to"); // the refused upgrade is logged by the browser
            await page.ReloadAsync();

            // The first API call gets 401, the one refresh is refused: back to sign-in.
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign in to Apex" })).ToBeVisibleAsync();
            await page.GetByLabel("Email").FillAsync(email);
            await page.GetByLabel("Password").FillAsync(Password);
            await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
            await Expect(composer).ToHaveValueAsync("A long question I was still writing");
        });
    }

    [Fact(Timeout = 90_000)]
    public async Task Threads_are_listed_newest_first_kept_apart_renamed_archived_and_deleted()
    {
        await using var server = await WebApp.StartServerAsync();
        await PageSession.RunAsync(fixture.Browser, server.BaseAddress, "threads", async s =>
        {
            var page = s.Page;
            s.AcceptDialogs = true;
            await RegisterAsync(page, NewEmail());
            var threads = page.GetByTestId("thread-item");
            var messages = page.GetByTestId("messages");

            await SendAsync(page, "First question");
            await Expect(page.Locator("article[data-run]").Last).ToHaveAttributeAsync("data-final", "true", new() { Timeout = 60_000 });
            await page.GetByRole(AriaRole.Button, new() { Name = "+ New chat" }).ClickAsync();
            await Expect(page.GetByTestId("user-message")).ToHaveCountAsync(0);
            await SendAsync(page, "Second question");
            await Expect(page.Locator("article[data-run]").Last).ToHaveAttributeAsync("data-final", "true", new() { Timeout = 60_000 });

            await Expect(threads).ToHaveCountAsync(2);
            await Expect(threads.Nth(0)).ToContainTextAsync("Second question");
            await Expect(threads.Nth(1)).ToContainTextAsync("First question");

            // Switching shows only that thread's messages and runs.
            await threads.Nth(1).GetByRole(AriaRole.Button, new() { Name = "First question", Exact = true }).ClickAsync();
            await Expect(page.GetByTestId("user-message")).ToHaveCountAsync(1);
            await Expect(messages).ToContainTextAsync("First question");
            await Expect(messages).Not.ToContainTextAsync("Second question");
            await Expect(page.Locator("article[data-run]")).ToHaveCountAsync(1);

            await page.GetByRole(AriaRole.Button, new() { Name = "Rename First question" }).ClickAsync();
            await page.GetByLabel("New title for First question").FillAsync("Renamed thread");
            await page.GetByLabel("New title for First question").PressAsync("Enter");
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Renamed thread" })).ToBeVisibleAsync();

            await page.GetByRole(AriaRole.Button, new() { Name = "Archive Renamed thread" }).ClickAsync();
            await Expect(threads).ToHaveCountAsync(1);
            await page.GetByRole(AriaRole.Button, new() { Name = "Archived" }).ClickAsync();
            await Expect(threads).ToHaveCountAsync(1);
            await Expect(threads.First).ToContainTextAsync("Renamed thread");

            await page.GetByRole(AriaRole.Button, new() { Name = "Delete Renamed thread" }).ClickAsync();
            await Expect(threads).ToHaveCountAsync(0);

            await page.ReloadAsync();
            await Expect(threads).ToHaveCountAsync(1);
            await Expect(threads.First).ToContainTextAsync("Second question");
            await page.GetByRole(AriaRole.Button, new() { Name = "Archived" }).ClickAsync();
            await Expect(threads).ToHaveCountAsync(0);
        });
    }

    [Fact(Timeout = 90_000)]
    public async Task Stop_ends_an_active_run_as_cancelled()
    {
        var agent = new ScriptedAgent { Mode = ScriptMode.NeverTerminates };
        await using var server = await ApexTestServer.StartAsync(
            new Dictionary<string, string?> { ["Web:Root"] = WebApp.WebRoot },
            b => ScriptedAgent.Register(b, agent));

        await PageSession.RunAsync(fixture.Browser, server.BaseAddress, "stop", async s =>
        {
            var page = s.Page;
            await RegisterAsync(page, NewEmail());
            await SendAsync(page, "Take your time");
            var run = page.Locator("article[data-run]").Last;
            await Expect(run.Locator("li[data-event='agent_thinking']")).ToHaveCountAsync(1);
            await Expect(run).ToHaveAttributeAsync("data-final", "false");

            await page.GetByRole(AriaRole.Button, new() { Name = "Stop" }).ClickAsync();
            await Expect(run).ToHaveAttributeAsync("data-phase", "cancelled");
            await Expect(run).ToHaveAttributeAsync("data-final", "true");
            await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Send" })).ToBeVisibleAsync();
        });
    }
}
