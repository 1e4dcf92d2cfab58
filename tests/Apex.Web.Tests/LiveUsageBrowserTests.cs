using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Apex.Web.Tests;

/// <summary>The live usage settings panel in the browser: reachable and usable by keyboard, axe-core clean, and doing what it says with a real key.</summary>
public sealed partial class BrowserTests
{
    [Fact(Timeout = 120_000)]
    public async Task Live_usage_panel_opens_and_closes_by_keyboard_and_is_accessible()
    {
        await using var server = await WebApp.StartServerAsync();
        await PageSession.RunAsync(fixture.Browser, server.BaseAddress, "live-usage", async s =>
        {
            var page = s.Page;
            await RegisterAsync(page, NewEmail());
            // The alert region is in the page from the start, so the first alert is announced.
            await Expect(page.GetByRole(AriaRole.Status, new() { Name = "Usage alerts" })).ToHaveAttributeAsync("aria-live", "polite");

            var open = page.GetByRole(AriaRole.Button, new() { Name = "Live usage", Exact = true });
            await Expect(open).ToHaveAttributeAsync("aria-expanded", "false");
            await open.FocusAsync();
            await page.Keyboard.PressAsync("Enter");
            await Expect(open).ToHaveAttributeAsync("aria-expanded", "true");
            var heading = page.GetByRole(AriaRole.Heading, new() { Name = "Live usage", Exact = true });
            await Expect(heading).ToBeFocusedAsync();
            await Expect(page.GetByLabel("Key name")).ToBeVisibleAsync();
            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Recent alerts" })).ToBeVisibleAsync();
            await ExpectAccessibleAsync(page, "with the live usage panel open");

            await page.Keyboard.PressAsync("Escape");
            await Expect(page.GetByTestId("usage-settings")).ToHaveCountAsync(0);
            await Expect(open).ToBeFocusedAsync();
        });
    }

    [Fact(Timeout = 180_000)]
    public async Task A_key_made_in_the_panel_feeds_spans_a_budget_alerts_on_and_revoking_it_refuses_them()
    {
        await using var server = await WebApp.StartServerAsync();
        await PageSession.RunAsync(fixture.Browser, server.BaseAddress, "live-usage-key", async s =>
        {
            var page = s.Page;
            await RegisterAsync(page, NewEmail());
            await page.GetByRole(AriaRole.Button, new() { Name = "Live usage", Exact = true }).ClickAsync();

            // Create a key: it is shown once, with the endpoint and the environment lines holding it.
            await page.GetByLabel("Key name").FillAsync("prod-app");
            await page.GetByLabel("Key name").PressAsync("Enter");
            var value = page.GetByTestId("new-key-value");
            await Expect(value).ToHaveValueAsync(new System.Text.RegularExpressions.Regex("^apx_ik_"));
            var key = await value.InputValueAsync();
            await Expect(page.GetByTestId("otlp-env")).ToContainTextAsync(key);
            await Expect(page.GetByTestId("otlp-endpoint")).ToHaveTextAsync(new Uri(server.BaseAddress, "/v1/traces").ToString());
            await Expect(page.GetByRole(AriaRole.Button, new() { Name = "I have copied the key" })).ToBeFocusedAsync();
            await ExpectAccessibleAsync(page, "with a new ingest key shown");
            await page.Keyboard.PressAsync("Enter");
            await Expect(page.GetByTestId("new-key")).ToHaveCountAsync(0);
            Assert.DoesNotContain(key, await page.ContentAsync(), StringComparison.Ordinal);
            var row = page.GetByTestId("ingest-key").Filter(new() { HasText = "prod-app" });
            await Expect(row).ToContainTextAsync("never");
            await Expect(row).ToContainTextAsync("active");

            // The key's live dataset is listed for a budget right away; a budget of one cent a month.
            var budget = page.GetByRole(AriaRole.Button, new() { Name = "Budget for prod-app" });
            await budget.ClickAsync();
            await page.GetByLabel("Monthly budget (USD)").FillAsync("0.01");
            await page.GetByRole(AriaRole.Button, new() { Name = "Save budget" }).ClickAsync();
            await Expect(budget).ToContainTextAsync("$0.01/month");

            // An app sends one GenAI span with the key: far over the budget, so an alert toast appears.
            using (var sent = await PostSpanAsync(server.BaseAddress, key))
            {
                Assert.Equal(HttpStatusCode.OK, sent.StatusCode);
            }

            var toast = page.GetByTestId("alert-toast").First;
            await Expect(toast).ToContainTextAsync("prod-app: " + DateTime.UtcNow.ToString("yyyy-MM", CultureInfo.InvariantCulture) + " projected over budget", new() { Timeout = 30_000 });
            await Expect(page.GetByTestId("alert-list")).ToContainTextAsync("projected over budget");
            await ExpectAccessibleAsync(page, "with an alert toast");

            // Revoke it (asked once more in place): the row says so and the key is refused.
            await row.GetByRole(AriaRole.Button, new() { Name = "Revoke prod-app" }).ClickAsync();
            var confirm = page.GetByRole(AriaRole.Group, new() { Name = "Confirm revoking prod-app" }).GetByRole(AriaRole.Button, new() { Name = "Revoke prod-app" });
            await Expect(confirm).ToBeFocusedAsync();
            await page.Keyboard.PressAsync("Enter");
            await Expect(row).ToContainTextAsync("revoked");
            using (var refused = await PostSpanAsync(server.BaseAddress, key))
            {
                Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            }
        });
    }

    /// <summary>One OTLP/HTTP JSON export with one GenAI chat span of gpt-4o: 100,000 input and 50,000 output tokens.</summary>
    private static async Task<HttpResponseMessage> PostSpanAsync(Uri baseAddress, string key)
    {
        var end = DateTimeOffset.UtcNow;
        var start = end.AddMilliseconds(-1200);
        static string Nanos(DateTimeOffset t) => (t.ToUnixTimeMilliseconds() * 1_000_000).ToString(CultureInfo.InvariantCulture);
        var body = $$$"""
            {"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"support-chat"}}]},
              "scopeSpans":[{"scope":{"name":"app"},"spans":[{"traceId":"{{{Guid.NewGuid():N}}}","spanId":"{{{Guid.NewGuid().ToString("N")[..16]}}}",
                "name":"chat gpt-4o","kind":3,"startTimeUnixNano":"{{{Nanos(start)}}}","endTimeUnixNano":"{{{Nanos(end)}}}",
                "attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},
                  {"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}},
                  {"key":"gen_ai.usage.input_tokens","value":{"intValue":"100000"}},
                  {"key":"gen_ai.usage.output_tokens","value":{"intValue":"50000"}}],
                "status":{}}]}]}]}
            """;
        using var http = new HttpClient { BaseAddress = baseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/traces") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return await http.SendAsync(request);
    }
}
