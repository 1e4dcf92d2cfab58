using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Apex.Web.Tests;

/// <summary>The live usage settings panel in the browser: reachable and usable by keyboard, axe-core clean.</summary>
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
}
