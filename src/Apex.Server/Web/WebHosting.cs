using System.IO.Compression;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.ResponseCompression;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Apex.Server.Web;

/// <summary>
/// Serves the built web app (web/, built by <c>npm run build</c>) with an SPA fallback for client
/// routes. Hashed files under <c>/assets/</c> are cached for a year; <c>index.html</c> is revalidated
/// on every load so a deploy is picked up at once. HTML carries a strict Content-Security-Policy:
/// scripts and styles only from this origin, no inline script.
/// </summary>
public static partial class WebHosting
{
    /// <summary>Folder of the built web app; default <c>{AppContext.BaseDirectory}/wwwroot</c>.</summary>
    public const string RootKey = "Web:Root";

    /// <summary>Extra <c>connect-src</c> sources, space separated (an auth service on another origin).</summary>
    public const string ConnectSourcesKey = "Web:ConnectSources";

    internal const string IndexFile = "index.html";
    internal const string HashedAssetsPrefix = "/assets/";
    internal const string ImmutableCache = "public, max-age=31536000, immutable";

    // Server routes never fall back to the app: an unknown /api/... stays a 404 problem, not HTML.
    private static readonly string[] ServerPrefixes =
        ["/api", "/auth", "/ws", "/websocket", "/.well-known", "/health", "/metrics", "/openapi", "/assets"];

    public static IEndpointRouteBuilder MapApexWeb(this IEndpointRouteBuilder endpoints)
    {
        if (endpoints is not IApplicationBuilder app)
        {
            return endpoints;
        }

        var services = endpoints.ServiceProvider;
        var configuration = services.GetRequiredService<IConfiguration>();
        var environment = services.GetRequiredService<IWebHostEnvironment>();
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(WebHosting).FullName!);

        var configured = configuration[RootKey];
        var root = string.IsNullOrWhiteSpace(configured) ? environment.WebRootPath : Path.GetFullPath(configured);
        if (string.IsNullOrEmpty(root) || !File.Exists(Path.Combine(root, IndexFile)))
        {
            LogNotBuilt(logger, root ?? "(none)", RootKey);
            return endpoints;
        }

        var files = new PhysicalFileProvider(root);
        var extraConnect = SanitizeSources(configuration[ConnectSourcesKey]);
        LogServing(logger, root);

        // The hashed bundles are compressed on the wire (brotli or gzip, as the browser accepts). They
        // hold no secrets, so compressing them over HTTPS carries no BREACH-style risk.
        var compression = new ResponseCompressionProvider(services, Options.Create(new ResponseCompressionOptions
        {
            EnableForHttps = true,
            Providers =
            {
                new BrotliCompressionProvider(Options.Create(new BrotliCompressionProviderOptions { Level = CompressionLevel.Optimal })),
                new GzipCompressionProvider(Options.Create(new GzipCompressionProviderOptions { Level = CompressionLevel.Optimal })),
            },
            MimeTypes = ["text/javascript", "application/javascript", "text/css", "image/svg+xml", "text/html"],
        }));
        app.UseWhen(
            context => context.Request.Path.StartsWithSegments(HashedAssetsPrefix.TrimEnd('/'), StringComparison.Ordinal),
            branch => branch.UseMiddleware<ResponseCompressionMiddleware>(compression));

        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            ContentTypeProvider = ContentTypes,
            OnPrepareResponse = ctx => SetHeaders(ctx.Context, ctx.File.Name, extraConnect),
        });

        var index = files.GetFileInfo(IndexFile);
        app.Use(async (context, next) =>
        {
            if (context.GetEndpoint() is null && IsClientRoute(context.Request))
            {
                context.Response.ContentType = "text/html; charset=utf-8";
                SetHeaders(context, IndexFile, extraConnect);
                if (HttpMethods.IsHead(context.Request.Method))
                {
                    context.Response.ContentLength = index.Length;
                    return;
                }

                await context.Response.SendFileAsync(index, context.RequestAborted);
                return;
            }

            await next(context);
        });

        return endpoints;
    }

    private static readonly FileExtensionContentTypeProvider ContentTypes = CreateContentTypes();

    private static FileExtensionContentTypeProvider CreateContentTypes()
    {
        var provider = new FileExtensionContentTypeProvider();
        provider.Mappings[".webmanifest"] = "application/manifest+json";
        return provider;
    }

    /// <summary>A GET or HEAD for a page of the app: not a server route, not a file (no extension).</summary>
    internal static bool IsClientRoute(HttpRequest request)
    {
        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            return false;
        }

        var path = request.Path.Value ?? "/";
        foreach (var prefix in ServerPrefixes)
        {
            if (path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase)
                && (path.Length == prefix.Length || path[prefix.Length] == '/'))
            {
                return false;
            }
        }

        var last = path[(path.LastIndexOf('/') + 1)..];
        return !last.Contains('.', StringComparison.Ordinal);
    }

    private static void SetHeaders(HttpContext context, string fileName, string extraConnect)
    {
        var headers = context.Response.Headers;
        if (context.Request.Path.StartsWithSegments(HashedAssetsPrefix.TrimEnd('/'), StringComparison.Ordinal))
        {
            headers[HeaderNames.CacheControl] = ImmutableCache;
            return;
        }

        // Everything else (index.html, favicon) is revalidated by ETag on each use.
        headers[HeaderNames.CacheControl] = "no-cache";
        if (fileName.EndsWith(".html", StringComparison.OrdinalIgnoreCase))
        {
            headers[HeaderNames.ContentSecurityPolicy] = ContentSecurityPolicy(context.Request, extraConnect);
            headers[HeaderNames.XContentTypeOptions] = "nosniff";
        }
    }

    /// <summary>
    /// The page's CSP. connect-src names the WebSocket URL of the host the page was loaded from
    /// explicitly: older browsers do not let 'self' match ws:/wss:.
    /// </summary>
    internal static string ContentSecurityPolicy(HttpRequest request, string extraConnect)
    {
        var host = request.Host.HasValue && HostPattern().IsMatch(request.Host.Value!) ? request.Host.Value : null;
        var connect = host is null ? "'self'" : $"'self' ws://{host} wss://{host}";
        if (extraConnect.Length > 0)
        {
            connect = $"{connect} {extraConnect}";
        }

        return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; "
            + $"connect-src {connect}; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
    }

    private static string SanitizeSources(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return string.Empty;
        }

        // Only origins (scheme://host[:port]); anything else could smuggle another directive in.
        var ok = value.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(s => SourcePattern().IsMatch(s));
        return string.Join(' ', ok);
    }

    [GeneratedRegex(@"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")]
    private static partial Regex HostPattern();

    [GeneratedRegex(@"^(https?|wss?)://[A-Za-z0-9.\-\[\]:]+$")]
    private static partial Regex SourcePattern();

    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning,
        Message = "The web app is not built: {Root} has no index.html. Run `npm ci && npm run build` in web/, or set {Key}.")]
    private static partial void LogNotBuilt(ILogger logger, string root, string key);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Information, Message = "Serving the web app from {Root}")]
    private static partial void LogServing(ILogger logger, string root);
}
