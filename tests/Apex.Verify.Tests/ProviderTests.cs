using Apex.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Apex.Verify.Tests;

/// <summary>auth.providers: the configured sign-in providers and their login redirects.</summary>
public sealed class ProviderTests
{
    [Fact(Timeout = 120_000)]
    public async Task Reports_each_provider_and_passes_a_well_formed_login_redirect()
    {
        await using var idp = OidcTestProvider.Create();
        await using var server = await Deployments.SingleAsync(idp.Settings("corp"));
        await idp.StartAsync(server.BaseAddress);
        using var harness = new VerifyHarness();

        await harness.RunAsync(harness.Settings(server.BaseAddress) with { Only = new HashSet<string> { "auth" } });

        var (result, detail) = harness.Check("auth.providers");
        Assert.True(result == "pass", $"{result}: {detail}\n{harness.Output}");
        Assert.Contains($"corp -> {idp.Issuer}/auth (the authorization endpoint of {idp.Issuer})", detail, StringComparison.Ordinal);
        Assert.Contains("providers password, corp", harness.Check("auth.config").Detail, StringComparison.Ordinal);
    }

    [Fact(Timeout = 120_000)]
    public async Task Passes_with_no_provider_besides_password()
    {
        await using var server = await Deployments.SingleAsync();
        using var harness = new VerifyHarness();
        await harness.RunAsync(harness.Settings(server.BaseAddress) with { Only = new HashSet<string> { "auth" } });
        var (result, detail) = harness.Check("auth.providers");
        Assert.Equal("pass", result);
        Assert.Contains("no sign-in provider", detail, StringComparison.Ordinal);
    }

    [Fact(Timeout = 120_000)]
    public async Task Fails_a_login_redirect_without_pkce()
    {
        await using var idp = OidcTestProvider.Create();
        await using var server = await Deployments.SingleAsync(idp.Settings("corp"), StripPkce);
        await idp.StartAsync(server.BaseAddress);
        using var harness = new VerifyHarness();

        await harness.RunAsync(harness.Settings(server.BaseAddress) with { Only = new HashSet<string> { "auth" } });

        var (result, detail) = harness.Check("auth.providers");
        Assert.Equal("fail", result);
        Assert.Contains("code_challenge", detail, StringComparison.Ordinal);
    }

    [Fact(Timeout = 120_000)]
    public async Task Fails_a_login_redirect_to_another_endpoint_than_the_providers_discovery_names()
    {
        await using var idp = OidcTestProvider.Create();
        await using var server = await Deployments.SingleAsync(idp.Settings("corp"), b => RewriteLogin(b, uri => uri.Path = "/elsewhere/auth"));
        await idp.StartAsync(server.BaseAddress);
        using var harness = new VerifyHarness();

        await harness.RunAsync(harness.Settings(server.BaseAddress) with { Only = new HashSet<string> { "auth" } });

        var (result, detail) = harness.Check("auth.providers");
        Assert.Equal("fail", result);
        Assert.Contains($"discovery names {idp.Issuer}/auth", detail, StringComparison.Ordinal);
    }

    /// <summary>A proxy in front of the auth routes that drops PKCE from the provider redirect.</summary>
    private static void StripPkce(WebApplicationBuilder builder) => RewriteLogin(builder, uri =>
        uri.Query = string.Join('&', uri.Query.TrimStart('?').Split('&').Where(p => !p.StartsWith("code_challenge", StringComparison.Ordinal))));

    /// <summary>A proxy in front of the auth routes that rewrites the provider redirect.</summary>
    private static void RewriteLogin(WebApplicationBuilder builder, Action<UriBuilder> rewrite) =>
        builder.Services.AddSingleton<IStartupFilter>(new FrontFilter(async (context, next) =>
        {
            context.Response.OnStarting(() =>
            {
                if (context.Request.Path == "/auth/login" && context.Response.Headers.Location.ToString() is { Length: > 0 } location)
                {
                    var uri = new UriBuilder(location);
                    rewrite(uri);
                    context.Response.Headers.Location = uri.Uri.AbsoluteUri;
                }

                return Task.CompletedTask;
            });
            await next(context);
        }));

    private sealed class FrontFilter(Func<HttpContext, RequestDelegate, Task> middleware) : IStartupFilter
    {
        public Action<Microsoft.AspNetCore.Builder.IApplicationBuilder> Configure(Action<Microsoft.AspNetCore.Builder.IApplicationBuilder> next) => app =>
        {
            app.Use(middleware);
            next(app);
        };
    }
}
