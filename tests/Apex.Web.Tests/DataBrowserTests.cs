using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Apex.Agents.Runtime;
using Apex.Testing;
using Deque.AxeCore.Commons;
using Deque.AxeCore.Playwright;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Apex.Web.Tests;

/// <summary>
/// Usage data in the browser: the dataset chip of a conversation, the daily cost chart, follow-up
/// suggestions and the column mapping of an unrecognised export.
/// </summary>
public sealed partial class BrowserTests
{
    private static async Task UploadFromComposerAsync(IPage page, string path)
    {
        await page.GetByRole(AriaRole.Button, new() { Name = "Upload usage data" }).ClickAsync();
        await page.GetByLabel("Usage file (CSV or JSON Lines)").SetInputFilesAsync(path);
    }

    /// <summary>axe-core on the whole page (WCAG 2.x A and AA rules); every violation is listed.</summary>
    private static async Task ExpectAccessibleAsync(IPage page, string where)
    {
        var result = await page.RunAxe(new AxeRunOptions
        {
            RunOnly = new RunOnlyOptions { Type = "tag", Values = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
        });
        Assert.NotEmpty(result.Passes); // axe really ran on the page
        var found = result.Violations.Select(v =>
            $"{v.Id} ({v.Impact}): {v.Help} at {string.Join("; ", v.Nodes.Select(n => n.Html))}").ToList();
        Assert.True(found.Count == 0, $"axe-core violations {where}:\n" + string.Join('\n', found));
    }

    private static async Task<JsonElement> PostedMessageAsync(IPage page, Func<Task> send)
    {
        var request = page.WaitForRequestAsync(r => r.Method == "POST" && MessagesPath().IsMatch(new Uri(r.Url).AbsolutePath));
        await send();
        return (await request).PostDataJSON() ?? throw new InvalidOperationException("the message request has no JSON body");
    }

    [GeneratedRegex("^/api/threads/[^/]+/messages$")]
    private static partial Regex MessagesPath();

    /// <summary>Saves docs/{file}: the element with a margin of the page around it.</summary>
    private static async Task ScreenshotForDocsAsync(IPage page, ILocator element, string file)
    {
        var docs = Path.Combine(WebApp.RepoRoot, "docs");
        Directory.CreateDirectory(docs);
        var box = await element.BoundingBoxAsync() ?? throw new InvalidOperationException("the element is not visible");
        const float margin = 16;
        await page.ScreenshotAsync(new()
        {
            Path = Path.Combine(docs, file),
            Clip = new() { X = box.X - margin, Y = box.Y - margin, Width = box.Width + (2 * margin), Height = box.Height + (2 * margin) },
        });
    }

    [Fact(Timeout = 120_000)]
    public async Task Dataset_chip_belongs_to_its_conversation_is_removable_by_keyboard_and_rides_on_the_message()
    {
        var agent = new ScriptedAgent();
        await using var server = await ApexTestServer.StartAsync(
            new Dictionary<string, string?> { ["Web:Root"] = WebApp.WebRoot },
            b => ScriptedAgent.Register(b, agent));
        var dir = Directory.CreateTempSubdirectory("apex-web-").FullName;
        var csv = UsageData.WriteCsv(dir);

        await PageSession.RunAsync(fixture.Browser, server.BaseAddress, "chip", async s =>
        {
            var page = s.Page;
            await RegisterAsync(page, NewEmail());
            var chip = page.GetByTestId("attached-dataset");
            var remove = page.GetByRole(AriaRole.Button, new() { Name = "Remove usage-export.csv" });

            // Uploaded before the conversation exists: attached at once, removable with the keyboard.
            await UploadFromComposerAsync(page, csv);
            await Expect(page.GetByTestId("dataset-rows")).ToHaveTextAsync(UsageData.Rows.ToString("N0", CultureInfo.InvariantCulture));
            await Expect(chip).ToContainTextAsync("usage-export.csv");
            await ExpectAccessibleAsync(page, "with the upload panel and the chip");
            await remove.FocusAsync();
            await page.Keyboard.PressAsync("Enter");
            await Expect(chip).ToHaveCountAsync(0);
            await Expect(page.GetByLabel("Message", new() { Exact = true })).ToBeFocusedAsync();

            // Uploaded again, it goes with the message that starts the conversation.
            await page.GetByLabel("Usage file (CSV or JSON Lines)").SetInputFilesAsync(csv);
            await Expect(chip).ToContainTextAsync("usage-export.csv");
            var datasetId = await chip.GetAttributeAsync("data-dataset-id");
            Assert.StartsWith("ds_", datasetId, StringComparison.Ordinal);
            await page.GetByRole(AriaRole.Button, new() { Name = "Done" }).ClickAsync();
            var body = await PostedMessageAsync(page, () => SendAsync(page, "First question"));
            Assert.Equal(datasetId, body.GetProperty("dataset_id").GetString());
            await Expect(page.Locator("article[data-run]").Last).ToHaveAttributeAsync("data-final", "true", new() { Timeout = 60_000 });
            Assert.Contains(agent.Requests, r => r.DatasetId == datasetId);
            await Expect(chip).ToHaveCountAsync(0);

            // A file uploaded in one conversation stays with it, not with the next one.
            await UploadFromComposerAsync(page, csv);
            await Expect(chip).ToContainTextAsync("usage-export.csv");
            await page.GetByRole(AriaRole.Button, new() { Name = "Close usage data panel" }).ClickAsync();
            await page.GetByRole(AriaRole.Button, new() { Name = "+ New chat" }).ClickAsync();
            await Expect(chip).ToHaveCountAsync(0);
            var withoutDataset = await PostedMessageAsync(page, () => SendAsync(page, "Second question"));
            Assert.False(withoutDataset.TryGetProperty("dataset_id", out _), "a new conversation carries no dataset of another");
            await Expect(page.Locator("article[data-run]").Last).ToHaveAttributeAsync("data-final", "true", new() { Timeout = 60_000 });
            await page.GetByTestId("thread-item").Nth(1).GetByRole(AriaRole.Button, new() { Name = "First question", Exact = true }).ClickAsync();
            await Expect(chip).ToContainTextAsync("usage-export.csv");
        });
        Directory.Delete(dir, recursive: true);
    }

    /// <summary>
    /// The report and follow-up shapes of the conversation contract, from an agent that sends them
    /// with known figures: chart, its text alternative, toggle, suggestions, a trend follow-up.
    /// </summary>
    [Fact(Timeout = 150_000)]
    public async Task Daily_chart_and_follow_up_suggestions_show_and_a_suggestion_is_asked_in_the_same_thread()
    {
        var agent = new ContractAgent();
        await using var server = await ApexTestServer.StartAsync(
            new Dictionary<string, string?> { ["Web:Root"] = WebApp.WebRoot },
            b => b.Services.Replace(ServiceDescriptor.Singleton<IAgentRuntime>(agent)));
        var dir = Directory.CreateTempSubdirectory("apex-web-").FullName;
        var csv = UsageData.WriteCsv(dir);

        await PageSession.RunAsync(fixture.Browser, server.BaseAddress, "chart", async s =>
        {
            var page = s.Page;
            await RegisterAsync(page, NewEmail());
            await UploadFromComposerAsync(page, csv);
            await Expect(page.GetByTestId("attached-dataset")).ToContainTextAsync("usage-export.csv");
            await page.GetByRole(AriaRole.Button, new() { Name = "Done" }).ClickAsync();
            await SendAsync(page, "Analyse the usage file I uploaded.");

            var run = page.Locator("article[data-run]").Last;
            await Expect(run).ToHaveAttributeAsync("data-phase", "completed", new() { Timeout = 60_000 });
            var chart = run.GetByTestId("daily-chart");
            await Expect(chart).ToBeVisibleAsync();

            // The picture has a text alternative summing up the trend, and a table of the same figures.
            var img = chart.GetByRole(AriaRole.Img);
            await Expect(img).ToHaveAccessibleNameAsync(new Regex(@"^Daily cost from 2026-11-01 to 2026-11-07 \(7 days\): \$[0-9.,]+ in total, highest \$4\.52 on 2026-11-07\. Spend rises by about [0-9]+%\. Largest share: gpt-4o\.$"));
            var rows = chart.GetByTestId("daily-chart-table").Locator("tbody tr");
            await Expect(rows).ToHaveCountAsync(ContractAgent.Days.Count);
            await Expect(rows.Nth(6)).ToContainTextAsync(ContractAgent.Usd(ContractAgent.DayTotal(6)));
            await Expect(chart.Locator("g[data-date]")).ToHaveCountAsync(ContractAgent.Days.Count);
            Assert.Equal(ContractAgent.DayTotal(3), decimal.Parse(await chart.Locator("g[data-date='2026-11-04']").GetAttributeAsync("data-total") ?? "", CultureInfo.InvariantCulture));

            // Stacked by model, then by feature (the unassigned part of each day shows as Other).
            var byModel = chart.GetByRole(AriaRole.Button, new() { Name = "By model" });
            var byFeature = chart.GetByRole(AriaRole.Button, new() { Name = "By feature" });
            await Expect(byModel).ToHaveAttributeAsync("aria-pressed", "true");
            await Expect(chart.Locator(".legend")).ToContainTextAsync("gpt-4o-mini");
            await byFeature.ClickAsync();
            await Expect(byFeature).ToHaveAttributeAsync("aria-pressed", "true");
            await Expect(chart).ToHaveAttributeAsync("data-stack", "feature");
            await Expect(chart.Locator(".legend")).ToContainTextAsync("support-chat");
            await Expect(chart.Locator(".legend")).ToContainTextAsync("Other");
            await byModel.ClickAsync();

            // Screenshots of the chart in both themes, checked by axe-core in both.
            await run.Locator("details.activity > summary").ClickAsync();
            await run.GetByTestId("report").EvaluateAsync("e => e.scrollIntoView({ block: 'start' })");
            await ExpectAccessibleAsync(page, "with a report (light)");
            await ScreenshotForDocsAsync(page, chart, "screenshot-chart-light.png");
            await page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Dark });
            await ExpectAccessibleAsync(page, "with a report (dark)");
            await ScreenshotForDocsAsync(page, chart, "screenshot-chart-dark.png");
            await page.EmulateMediaAsync(new() { ColorScheme = ColorScheme.Light });

            // The suggestions, asked with one click in the same conversation.
            var suggestions = run.GetByTestId("follow-ups").GetByRole(AriaRole.Button);
            await Expect(suggestions).ToHaveTextAsync([ContractAgent.WhatIfQuestion, ContractAgent.TrendQuestion]);
            await suggestions.Nth(1).ClickAsync();
            await Expect(page.GetByTestId("user-message")).ToHaveCountAsync(2);
            await Expect(page.GetByTestId("user-message").Last).ToHaveTextAsync(ContractAgent.TrendQuestion);
            await Expect(page.GetByTestId("thread-item")).ToHaveCountAsync(1);

            // Its answer: the trend chart of the result's points, and the next suggestion; only the
            // newest answer offers suggestions. The page shows the question before the server's agent
            // has it, so what the agent was asked is checked once its answer is there.
            await Expect(page.Locator("article[data-run]")).ToHaveCountAsync(2, new() { Timeout = 60_000 });
            var second = page.Locator("article[data-run]").Nth(1);
            await Expect(second).ToHaveAttributeAsync("data-phase", "completed", new() { Timeout = 60_000 });
            Assert.Equal(ContractAgent.TrendQuestion, agent.Requests.Last().UserText);
            Assert.Equal(agent.Requests.First().ThreadId, agent.Requests.Last().ThreadId);
            await Expect(second.GetByTestId("answer")).ToContainTextAsync("support-chat cost rose");
            var trend = second.GetByTestId("trend").GetByTestId("daily-chart");
            await Expect(trend.GetByRole(AriaRole.Img)).ToHaveAccessibleNameAsync(new Regex("^Daily cost of support-chat from 2026-11-01 to 2026-11-07"));
            await Expect(second.GetByTestId("follow-ups").GetByRole(AriaRole.Button)).ToHaveTextAsync([ContractAgent.WhatIfQuestion]);
            await Expect(page.GetByTestId("follow-ups")).ToHaveCountAsync(1);
            // The conversation followed the question down to its answer.
            await Expect(second.GetByTestId("follow-ups")).ToBeInViewportAsync();

            // After a reload both come back from the server.
            await page.ReloadAsync();
            await Expect(page.Locator("article[data-run]")).ToHaveCountAsync(2);
            await Expect(page.Locator("article[data-run]").First.GetByTestId("daily-chart")).ToBeVisibleAsync();
            await Expect(page.Locator("article[data-run]").Last.GetByTestId("trend")).ToBeVisibleAsync();
        });
        Directory.Delete(dir, recursive: true);
    }

    /// <summary>
    /// The same journey with the real agent: needs the server side of the usage-import contract
    /// (source_format_name, calls) and of the conversation contract (daily, follow_ups).
    /// </summary>
    [Fact(Timeout = 180_000)]
    public async Task Real_agent_upload_ask_chart_then_a_suggestion_gets_its_answer()
    {
        await using var server = await WebApp.StartServerAsync();
        var dir = Directory.CreateTempSubdirectory("apex-web-").FullName;
        var csv = UsageData.WriteCsv(dir);

        await PageSession.RunAsync(fixture.Browser, server.BaseAddress, "real-chart", async s =>
        {
            var page = s.Page;
            await RegisterAsync(page, NewEmail());
            await UploadFromComposerAsync(page, csv);
            await Expect(page.GetByTestId("dataset-format")).Not.ToBeEmptyAsync();
            await Expect(page.GetByTestId("dataset-calls")).ToHaveTextAsync(UsageData.Rows.ToString("N0", CultureInfo.InvariantCulture));
            await page.GetByRole(AriaRole.Button, new() { Name = "Done" }).ClickAsync();
            await SendAsync(page, "Analyse the usage file I uploaded and give me a 4-week plan.");

            var run = page.Locator("article[data-run]").Last;
            await Expect(run).ToHaveAttributeAsync("data-phase", "completed", new() { Timeout = 60_000 });
            var chart = run.GetByTestId("daily-chart");
            await Expect(chart.GetByRole(AriaRole.Img)).ToHaveAccessibleNameAsync(new Regex("^Daily cost from 2026-11-0"));
            await Expect(chart.Locator("g[data-date]")).Not.ToHaveCountAsync(0);
            await ExpectAccessibleAsync(page, "with the real report");

            var suggestions = run.GetByTestId("follow-ups").GetByRole(AriaRole.Button);
            await Expect(suggestions.First).ToBeVisibleAsync();
            var count = await suggestions.CountAsync();
            Assert.InRange(count, 2, 4);
            var question = (await suggestions.First.InnerTextAsync()).Trim();
            await suggestions.First.ClickAsync();
            await Expect(page.GetByTestId("user-message").Last).ToHaveTextAsync(question);
            var answer = page.Locator("article[data-run]").Last;
            await Expect(answer).ToHaveAttributeAsync("data-phase", "completed", new() { Timeout = 60_000 });
            await Expect(answer.GetByTestId("answer")).Not.ToBeEmptyAsync();
            await Expect(page.GetByTestId("thread-item")).ToHaveCountAsync(1);

            // A reader who scrolled back to the plan and types the next question sees it answered below.
            await page.GetByTestId("messages").EvaluateAsync("el => { el.scrollTop = 0; }");
            await SendAsync(page, "Show me the daily cost trend for the most expensive feature");
            await Expect(page.Locator("article[data-run]")).ToHaveCountAsync(3, new() { Timeout = 60_000 });
            var third = page.Locator("article[data-run]").Last;
            await Expect(third).ToHaveAttributeAsync("data-phase", "completed", new() { Timeout = 60_000 });
            await Expect(third.GetByTestId("answer")).ToContainTextAsync("Daily cost of feature");
            await Expect(third.GetByTestId("follow-ups")).ToBeInViewportAsync();
        });
        Directory.Delete(dir, recursive: true);
    }

    /// <summary>Needs the server side of the usage-import contract (422 unrecognized_format, mapping).</summary>
    [Fact(Timeout = 120_000)]
    public async Task An_unrecognised_csv_is_uploaded_after_mapping_its_columns()
    {
        await using var server = await WebApp.StartServerAsync();
        var dir = Directory.CreateTempSubdirectory("apex-web-").FullName;
        var path = Path.Combine(dir, "finance-export.csv");
        var lines = new List<string> { "When,Engine,Tokens Sent,Tokens Received,Dollars,Team" };
        for (var i = 0; i < 30; i++)
        {
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"2026-11-{1 + (i % 7):D2}T{i % 24:D2}:00:00Z,gpt-4o,{1200 + i},{300 + i},{0.006 + (i * 0.0001):0.0000},support"));
        }

        await File.WriteAllLinesAsync(path, lines);

        await PageSession.RunAsync(fixture.Browser, server.BaseAddress, "mapping", async s =>
        {
            var page = s.Page;
            await RegisterAsync(page, NewEmail());
            await UploadFromComposerAsync(page, path);

            var form = page.GetByTestId("column-mapping");
            await Expect(form).ToBeVisibleAsync();
            var timestamp = form.GetByRole(AriaRole.Combobox, new() { Name = "Timestamp (required)" });
            await Expect(timestamp.Locator("option")).ToHaveTextAsync(["Choose a column…", "When", "Engine", "Tokens Sent", "Tokens Received", "Dollars", "Team"]);
            await ExpectAccessibleAsync(page, "with the column mapping form");

            // Submitting with a required field unset says which one, without a request.
            await form.GetByRole(AriaRole.Button, new() { Name = "Upload with these columns" }).ClickAsync();
            await Expect(form.GetByRole(AriaRole.Alert)).ToContainTextAsync("Timestamp");

            await timestamp.SelectOptionAsync("When");
            await form.GetByRole(AriaRole.Combobox, new() { Name = "Model (required)" }).SelectOptionAsync("Engine");
            await form.GetByRole(AriaRole.Combobox, new() { Name = "Input tokens (required)" }).SelectOptionAsync("Tokens Sent");
            await form.GetByRole(AriaRole.Combobox, new() { Name = "Output tokens (required)" }).SelectOptionAsync("Tokens Received");
            var cost = form.GetByRole(AriaRole.Combobox, new() { Name = "Cost (USD) (optional)" });
            if (await cost.CountAsync() == 1)
            {
                await cost.SelectOptionAsync("Dollars");
            }

            // Chromium does not expose a multipart body with a file to the test, so the server's answer is
            // the proof: the file it refused now reads as 30 rows in the user's own column mapping.
            await form.GetByRole(AriaRole.Button, new() { Name = "Upload with these columns" }).ClickAsync();

            await Expect(page.GetByTestId("dataset-rows")).ToHaveTextAsync("30");
            await Expect(page.GetByTestId("dataset-format")).ToContainTextAsync("mapping", new() { IgnoreCase = true });
            await Expect(page.GetByTestId("attached-dataset")).ToContainTextAsync("finance-export.csv");
            await Expect(form).ToHaveCountAsync(0);
        });
        Directory.Delete(dir, recursive: true);
    }

    /// <summary>Needs the server side of the usage-import contract (422 no_token_counts).</summary>
    [Fact(Timeout = 90_000)]
    public async Task Azure_request_logs_without_tokens_are_refused_with_what_to_export_instead()
    {
        await using var server = await WebApp.StartServerAsync();
        var dir = Directory.CreateTempSubdirectory("apex-web-").FullName;
        var path = Path.Combine(dir, "azure-openai-requests.jsonl");
        var lines = Enumerable.Range(0, 5).Select(i => JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["time"] = $"2026-11-01T10:0{i}:00.0000000Z",
            ["resourceId"] = "/SUBSCRIPTIONS/0000/RESOURCEGROUPS/AI/PROVIDERS/MICROSOFT.COGNITIVESERVICES/ACCOUNTS/CONTOSO",
            ["operationName"] = "ChatCompletions_Create",
            ["category"] = "RequestResponse",
            ["resultType"] = "Succeeded",
            ["resultSignature"] = "200",
            ["durationMs"] = 800 + i,
            ["properties"] = new Dictionary<string, string> { ["modelDeploymentName"] = "support-gpt4o", ["modelName"] = "gpt-4o", ["modelVersion"] = "2024-08-06" },
        }));
        await File.WriteAllLinesAsync(path, lines);

        await PageSession.RunAsync(fixture.Browser, server.BaseAddress, "no-tokens", async s =>
        {
            var page = s.Page;
            await RegisterAsync(page, NewEmail());
            await UploadFromComposerAsync(page, path);
            var error = page.GetByTestId("upload-error");
            await Expect(error).ToBeVisibleAsync();
            await Expect(error).ToContainTextAsync(new Regex("token", RegexOptions.IgnoreCase));
            await Expect(page.GetByTestId("dataset-result")).ToHaveCountAsync(0);
            await Expect(page.GetByTestId("column-mapping")).ToHaveCountAsync(0);
            await Expect(page.GetByTestId("attached-dataset")).ToHaveCountAsync(0);
        });
        Directory.Delete(dir, recursive: true);
    }
}
