using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Apex.Hosting.Http;

/// <summary>
/// Outermost middleware: security headers on every response, problem JSON for errors that would
/// otherwise have an empty body (unknown route, 405, Kestrel limits, body binding failures) and for
/// unhandled exceptions, without a stack trace or the request's content.
/// </summary>
internal sealed partial class ApexHttpMiddleware(RequestDelegate next, IOptions<HttpLimitsOptions> limits, ILogger<ApexHttpMiddleware> logger)
{
    private readonly int _maxTarget = limits.Value.MaxRequestTargetBytes;
    private readonly int _maxHeaders = limits.Value.MaxRequestHeadersBytes;
    private readonly string _hsts = $"max-age={limits.Value.HstsMaxAgeSeconds.ToString(CultureInfo.InvariantCulture)}; includeSubDomains";

    public async Task InvokeAsync(HttpContext context)
    {
        if (IsUpgrade(context))
        {
            // A WebSocket request lasts as long as its socket, and a registered callback stays
            // referenced for all of it: its headers are set now instead (the response has not
            // started). A refusal or a 101 to a request that may carry a token is never cached.
            SetSecurityHeaders(context, _hsts);
            context.Response.Headers.CacheControl = "no-store";
        }
        else
        {
            context.Response.OnStarting(static state =>
            {
                var (ctx, hsts) = ((HttpContext, string))state;
                SetSecurityHeaders(ctx, hsts);

                // A signed-in answer (or one to a request carrying credentials) is that user's data:
                // no shared or browser cache may keep it. Routes that set their own policy keep it.
                var headers = ctx.Response.Headers;
                if (string.IsNullOrEmpty(headers.CacheControl)
                    && (ctx.User.Identity?.IsAuthenticated == true || !string.IsNullOrEmpty(ctx.Request.Headers.Authorization)))
                {
                    headers.CacheControl = "no-store";
                }

                return Task.CompletedTask;
            }, (context, _hsts));
        }

        if (OverLimit(context) is { } over)
        {
            // Answered here rather than by Kestrel's limits (raised to ceilings above these), so that
            // the client gets problem JSON; the connection is closed, as Kestrel would.
            context.Response.Headers.Connection = "close";
            await Problems.Result(over.Status, over.Detail).ExecuteAsync(context);
            return;
        }

        try
        {
            await next(context);
        }
        catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
        {
            await WriteBadRequestAsync(context, ex);
            return;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is nobody to answer.
            return;
        }
        catch (Exception ex) when (!context.Response.HasStarted && IsDependencyUnavailable(ex))
        {
            // The database or the event broker did not answer: a clear, retryable answer, not a 500.
            LogDependencyUnavailable(logger, ex.GetType().Name, context.Request.Method, context.Request.Path);
            ClearResponse(context);
            context.Response.Headers.RetryAfter = "5";
            await Problems.Result(StatusCodes.Status503ServiceUnavailable, "A service Apex depends on (database or event broker) is unavailable; retry shortly.").ExecuteAsync(context);
            return;
        }
        catch (Exception ex) when (!context.Response.HasStarted)
        {
            LogUnhandled(logger, ex, context.Request.Method, context.Request.Path);
            ClearResponse(context);
            await Problems.Result(StatusCodes.Status500InternalServerError, "An unexpected error occurred; it has been logged.").ExecuteAsync(context);
            return;
        }

        var response = context.Response;
        if (!response.HasStarted && response.StatusCode >= 400 && response.ContentLength is null or 0
            && string.IsNullOrEmpty(response.ContentType) && !HttpMethods.IsHead(context.Request.Method))
        {
            await Problems.Result(response.StatusCode, DetailFor(response.StatusCode, context)).ExecuteAsync(context);
        }
    }

    private static void SetSecurityHeaders(HttpContext context, string hsts)
    {
        var headers = context.Response.Headers;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        // X-Frame-Options covers framing for every response; a Content-Security-Policy is the web
        // app's own (WebHosting), set only on documents where it means something.

        if (context.Request.IsHttps)
        {
            headers.StrictTransportSecurity = hsts;
        }
    }

    /// <summary>An HTTP/1.1 upgrade or an HTTP/2 extended CONNECT (a WebSocket).</summary>
    private static bool IsUpgrade(HttpContext context) =>
        context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpUpgradeFeature>()?.IsUpgradableRequest == true
        || context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpExtendedConnectFeature>()?.IsExtendedConnect == true;

    private (int Status, string Detail)? OverLimit(HttpContext context)
    {
        var target = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget;
        if ((target?.Length ?? 0) > _maxTarget)
        {
            return (StatusCodes.Status414UriTooLong, $"The URL is longer than {_maxTarget.ToString(CultureInfo.InvariantCulture)} bytes.");
        }

        // Counted as Kestrel counts its own limit: names and values. Copied out rather than enumerated:
        // the server keeps the enumerator it hands out with the request, which for a WebSocket lasts
        // as long as the socket.
        var headers = context.Request.Headers;
        var copy = ArrayPool<KeyValuePair<string, StringValues>>.Shared.Rent(headers.Count);
        long size = 0;
        try
        {
            headers.CopyTo(copy, 0);
            for (var i = 0; i < headers.Count; i++)
            {
                var (name, values) = copy[i];
                size += name.Length;
                foreach (var value in values)
                {
                    size += value?.Length ?? 0;
                }
            }
        }
        finally
        {
            ArrayPool<KeyValuePair<string, StringValues>>.Shared.Return(copy, clearArray: true);
        }

        return size > _maxHeaders
            ? (StatusCodes.Status431RequestHeaderFieldsTooLarge, $"The request headers are larger than {_maxHeaders.ToString(CultureInfo.InvariantCulture)} bytes.")
            : null;
    }

    private static async Task WriteBadRequestAsync(HttpContext context, BadHttpRequestException ex)
    {
        ClearResponse(context);
        switch (ex.StatusCode)
        {
            case StatusCodes.Status413PayloadTooLarge:
                await Problems.Result(413, "The request body is larger than this route accepts.").ExecuteAsync(context);
                return;
            case StatusCodes.Status415UnsupportedMediaType:
                await Problems.Result(415, "Send the body as application/json.").ExecuteAsync(context);
                return;
            case StatusCodes.Status400BadRequest when ex.InnerException is JsonException json:
                await Problems.Validation(new Dictionary<string, string[]>
                {
                    [FieldOf(json.Path)] = [json.Path is null or "$" ? "The body is not valid JSON." : "This value is missing, malformed or of the wrong type."],
                }, "The request body is not valid JSON for this route.").ExecuteAsync(context);
                return;
            case StatusCodes.Status400BadRequest when ex.Message.Contains("from body", StringComparison.Ordinal)
                                                   || ex.Message.Contains("no body was provided", StringComparison.Ordinal)
                                                   || ex.Message.Contains("request body", StringComparison.OrdinalIgnoreCase):
                await Problems.Validation(new Dictionary<string, string[]> { ["body"] = ["A JSON body is required."] }).ExecuteAsync(context);
                return;
            default:
                // Kestrel's own messages name only protocol facts, never request content.
                await Problems.Result(ex.StatusCode is >= 400 and < 500 ? ex.StatusCode : 400, "The request is malformed.").ExecuteAsync(context);
                return;
        }
    }

    /// <summary><c>$.user.email</c> becomes <c>user.email</c>; the whole body is <c>body</c>.</summary>
    private static string FieldOf(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == "$")
        {
            return "body";
        }

        return path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');
    }

    private static void ClearResponse(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = null;
        context.Response.ContentLength = null;
        context.Response.Headers.Remove(HeaderNames.ContentType);
    }

    private static string DetailFor(int status, HttpContext context) => status switch
    {
        404 => "No resource at this address.",
        405 => $"{context.Request.Method} is not allowed here.",
        401 => "Authentication is required.",
        403 => "You may not do this.",
        413 => "The request body is larger than this route accepts.",
        415 => "Send the body as application/json.",
        429 => "Too many requests; slow down.",
        _ => Problems.Title(status) + ".",
    };

    private static bool IsDependencyUnavailable(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            // SQLite's SQLITE_BUSY (5) and SQLITE_LOCKED (6): other writers held the database past the command timeout.
            if (e is ServiceUnavailableException or TimeoutException or System.Net.Sockets.SocketException or Npgsql.NpgsqlException { IsTransient: true }
                or Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: 5 or 6 })
            {
                return true;
            }
        }

        return false;
    }

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "A dependency was unavailable ({ErrorType}) for {Method} {Path}")]
    private static partial void LogDependencyUnavailable(ILogger logger, string errorType, string method, string path);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Error, Message = "Unhandled exception for {Method} {Path}")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string path);
}
