using Apex.Testing;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Apex.Web.Tests;

/// <summary>"Continue with …" on the sign-in page, through a real OpenID Connect provider's own pages.</summary>
[Collection(BrowserCollectionDefinition.Name)]
public sealed class OidcBrowserTests(BrowserFixture fixture)
{
    [Fact(Timeout = 120_000)]
    public async Task Signs_in_through_the_providers_login_page_and_lands_in_the_chat()
    {
        await using var idp = OidcTestProvider.Create().WithAccount("olivia", "olivia@example.com", name: "Olivia");
        await using var server = await WebApp.StartServerAsync(idp.Settings(displayName: "Test IdP"));
        await idp.StartAsync(server.BaseAddress);
        await PageSession.RunAsync(fixture.Browser, server.BaseAddress, "oidc-signin", async s =>
        {
            var page = s.Page;
            await page.GotoAsync("/");
            await page.GetByRole(AriaRole.Link, new() { Name = "Continue with Test IdP" }).ClickAsync();

            // The provider's own login page, then its consent page.
            await page.Locator("input[name=login]").FillAsync("olivia");
            await page.Locator("input[name=password]").FillAsync("any password");
            await page.GetByRole(AriaRole.Button, new() { Name = "Sign-in" }).ClickAsync();
            await page.GetByRole(AriaRole.Button, new() { Name = "Continue" }).ClickAsync();

            await Expect(page.GetByLabel("Message", new() { Exact = true })).ToBeVisibleAsync();
            await Expect(page.GetByTestId("connection-status")).ToHaveAttributeAsync("data-status", "connected");
            // The one-time code left the address bar once used.
            Assert.DoesNotContain("code=", page.Url, StringComparison.Ordinal);
            var session = await page.EvaluateAsync<string>("() => String(localStorage.getItem('apex.session'))");
            Assert.NotEqual("null", session);
        });
    }

    [Fact(Timeout = 120_000)]
    public async Task A_refused_provider_sign_in_explains_itself_on_the_sign_in_page()
    {
        await using var idp = OidcTestProvider.Create().WithAccount("ursula", "ursula@example.com", emailVerified: false);
        await using var server = await WebApp.StartServerAsync(idp.Settings(displayName: "Test IdP"));
        await idp.StartAsync(server.BaseAddress);
        await PageSession.RunAsync(fixture.Browser, server.BaseAddress, "oidc-refused", async s =>
        {
            var page = s.Page;
            s.ExpectConsoleError("400");
            await page.GotoAsync("/");
            await page.GetByRole(AriaRole.Link, new() { Name = "Continue with Test IdP" }).ClickAsync();
            await page.Locator("input[name=login]").FillAsync("ursula");
            await page.Locator("input[name=password]").FillAsync("any password");
            await page.GetByRole(AriaRole.Button, new() { Name = "Sign-in" }).ClickAsync();
            await page.GetByRole(AriaRole.Button, new() { Name = "Continue" }).ClickAsync();

            await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Sign-in failed" })).ToBeVisibleAsync();
            await page.GetByRole(AriaRole.Link, new() { Name = "Back to sign-in" }).ClickAsync();
            await Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("has not verified your email");
        });
    }
}
