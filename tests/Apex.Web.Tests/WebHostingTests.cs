using System.Net;
using Apex.Testing;

namespace Apex.Web.Tests;

/// <summary>How the server hosts the built app: fallback, caching and CSP, over real HTTP.</summary>
public sealed class WebHostingTests : IAsyncLifetime
{
    private ApexTestServer server = null!;

    public async Task InitializeAsync() => server = await WebApp.StartServerAsync();

    public async Task DisposeAsync() => await server.DisposeAsync();

    private async Task<HttpResponseMessage> GetAsync(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(path, UriKind.Relative));
        request.Headers.Accept.ParseAdd("text/html");
        return await server.Client.SendAsync(request);
    }

    [Fact(Timeout = 30_000)]
    public async Task Root_serves_the_app_with_no_cache_and_a_strict_csp()
    {
        using var response = await GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.CacheControl?.NoCache, "index.html must be revalidated");

        var csp = string.Join(' ', response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self';", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-eval", csp, StringComparison.Ordinal);
        Assert.Contains($"ws://{server.BaseAddress.Authority}", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);

        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("<div id=\"root\">", html, StringComparison.Ordinal);
        // No inline script: every <script> has a src.
        Assert.DoesNotMatch("<script(?![^>]*\\bsrc=)[^>]*>", html);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("/threads/thr_01JABC")]
    [InlineData("/signin")]
    [InlineData("/some/deep/client/route")]
    public async Task Client_routes_fall_back_to_index_html(string path)
    {
        using var response = await GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.CacheControl?.NoCache);
        Assert.True(response.Headers.Contains("Content-Security-Policy"));
        Assert.Contains("<div id=\"root\">", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("/api/no-such-route")]
    [InlineData("/api")]
    [InlineData("/auth/no-such-route")]
    [InlineData("/ws/x")]
    [InlineData("/websocket/x")]
    [InlineData("/.well-known/nothing")]
    [InlineData("/health/nothing")]
    [InlineData("/metrics/x")]
    [InlineData("/openapi/v2.json")]
    [InlineData("/assets/missing-abc123.js")]
    [InlineData("/missing.png")]
    public async Task Server_routes_and_missing_files_never_get_the_app(string path)
    {
        using var response = await GetAsync(path);
        Assert.NotEqual(HttpStatusCode.OK, response.StatusCode);
        Assert.NotEqual("text/html", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact(Timeout = 30_000)]
    public async Task Hashed_assets_are_cached_for_a_year()
    {
        var asset = Directory.GetFiles(Path.Combine(WebApp.WebRoot, "assets"), "*.js").First();
        using var response = await GetAsync($"/assets/{Path.GetFileName(asset)}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/javascript", response.Content.Headers.ContentType?.MediaType);
        var cache = response.Headers.CacheControl!;
        Assert.True(cache.Public);
        Assert.Equal(TimeSpan.FromDays(365), cache.MaxAge);
        Assert.Contains(cache.Extensions, e => e.Name == "immutable");
        Assert.False(response.Headers.Contains("Content-Security-Policy"));
    }

    [Theory(Timeout = 30_000)]
    [InlineData("br")]
    [InlineData("gzip")]
    public async Task Hashed_assets_are_compressed_when_the_browser_accepts_it(string encoding)
    {
        var asset = Directory.GetFiles(Path.Combine(WebApp.WebRoot, "assets"), "*.js").First();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"/assets/{Path.GetFileName(asset)}", UriKind.Relative));
        request.Headers.AcceptEncoding.ParseAdd(encoding);
        using var response = await server.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(encoding, Assert.Single(response.Content.Headers.ContentEncoding));
        var compressed = await response.Content.ReadAsByteArrayAsync();
        Assert.True(compressed.Length < new FileInfo(asset).Length / 2, "the bundle is sent compressed");
        Assert.Contains("immutable", response.Headers.CacheControl!.Extensions.Select(e => e.Name));
    }

    [Fact(Timeout = 30_000)]
    public async Task Post_to_a_client_route_is_not_answered_with_the_app()
    {
        using var response = await server.Client.PostAsync(new Uri("/threads/x", UriKind.Relative), new StringContent(""));
        Assert.NotEqual(HttpStatusCode.OK, response.StatusCode);
    }
}
