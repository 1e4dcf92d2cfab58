using System.Buffers.Text;
using System.Net.WebSockets;
using System.Text;
using Apex.Auth.Tokens;
using Apex.Hosting;
using Apex.Realtime.Broker;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Apex.Realtime.Gateway;

/// <summary>
/// The handshake of docs/spec/realtime-protocol.md section 1: token from the Authorization header or the
/// <c>jwt.</c>/<c>bearer.</c> subprotocol, refused with problem JSON before the upgrade; the Origin
/// check; the resume position; then the connection runs until it closes.
/// </summary>
internal sealed class WebSocketGateway(
    IEventBroker broker,
    ConnectionRegistry registry,
    GatewayServices services,
    IOptions<ApexOptions> apexOptions,
    ILogger<WebSocketGateway> logger)
{
    public const string JwtAuthProtocol = "jwt-auth";
    private const string JwtPrefix = "jwt.";
    private const string BearerPrefix = "bearer.";
    private const int MaxEpochLength = 128;

    private readonly string[] _allowedOrigins = BuildAllowedOrigins(apexOptions.Value);

    /// <summary>
    /// Serves a request to the gateway's paths: refuses it with problem JSON, or upgrades it and runs
    /// the connection until it closes. WebSocket upgrades reach it ahead of routing, CORS,
    /// authentication, authorization and rate limiting (see <see cref="RealtimeModule.UseApexRealtimeUpgrades"/>),
    /// so that none of that chain's state (its awaiting frames, the request's service scope, an
    /// authentication result) stays referenced for the socket's life; other requests come through
    /// the endpoint.
    /// </summary>
    public Task ServeAsync(HttpContext context) =>
        // No frame of its own lives on with the socket: the handshake's frame (OpenAsync) ends at the
        // upgrade and hands over the connection's run, which owns its teardown.
        OpenAsync(context).Unwrap();

    /// <summary>
    /// The handshake: refuses the request, or upgrades it, registers and subscribes the connection
    /// (or lets one over the per-user cap close) and returns its run. A completed task when the
    /// request was answered or the socket is already closed.
    /// </summary>
    private async Task<Task> OpenAsync(HttpContext context)
    {
        var admission = await AdmitAsync(context);
        if (admission.Refusal is { } refusal)
        {
            await refusal.ExecuteAsync(context);
            return Task.CompletedTask;
        }

        var ticket = admission.Ticket!;
        var (socket, stream) = await AcceptAsync(context, ticket.SubProtocol);

        // The connection outlives the handshake by hours: let go of what only the handshake needed.
        // The request's headers stay referenced by the server until the socket closes, and two of
        // them carry the token; the endpoint path also ran the authentication middleware, which
        // left its principal (and the parsed JWT behind it) on the context.
        context.Request.Headers.Authorization = default;
        context.Request.Headers.Remove(HeaderNames.SecWebSocketProtocol);
        // Through the feature: a principal set by authentication, or the empty one the context's
        // getter creates on first read (the security-headers middleware reads it), is let go; the
        // getter makes a new empty one should anything read it again.
        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.Authentication.IHttpAuthenticationFeature>() is { } authentication)
        {
            authentication.User = null;
        }

        // Through the feature too: the context's getter would make an items dictionary that then lives as long as the socket.
        if (context.Features.Get<IItemsFeature>()?.Items is { Count: > 0 } items)
        {
            foreach (var key in items.Where(kv => kv.Value is AccessTokenValidation).Select(kv => kv.Key).ToList())
            {
                items.Remove(key);
            }
        }

        var connection = new GatewayConnection(socket, ticket.UserId, ticket.ExpiresAt, services, ticket.TokenId, ticket.SessionId, stream);
        if (!registry.TryAdd(connection))
        {
            try
            {
                await socket.CloseOutputAsync(CloseCodes.GoingAway, "server shutting down", CancellationToken.None);
            }
            finally
            {
                connection.Dispose();
                socket.Dispose();
            }

            return Task.CompletedTask;
        }

        GatewayLog.Opened(logger, connection.Id, connection.UserId);
        if (connection.IsClosing)
        {
            // Refused after the upgrade (over the per-user cap): the run sends the error and closes properly.
            return connection.RunAsync(registry);
        }

        IAsyncDisposable subscription;
        try
        {
            subscription = await broker.SubscribeAsync(connection.UserId, ticket.Resume, connection, context.RequestAborted);
        }
        catch (BrokerUnavailableException)
        {
            // Not a server fault: the broker's store is briefly unreachable; the client retries.
            await CloseUnsubscribedAsync(connection, socket, CloseCodes.TryAgainLater, "event broker unavailable: retry shortly");
            return Task.CompletedTask;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            var correlationId = Guid.NewGuid().ToString("N");
            GatewayLog.ConnectionFailed(logger, ex, connection.Id, correlationId);
            await CloseUnsubscribedAsync(connection, socket, WebSocketCloseStatus.InternalServerError, $"internal error {correlationId}");
            return Task.CompletedTask;
        }
        catch (OperationCanceledException)
        {
            registry.Remove(connection);
            connection.Dispose();
            socket.Dispose();
            throw;
        }

        return connection.RunAsync(registry, subscription);
    }

    private async Task CloseUnsubscribedAsync(GatewayConnection connection, WebSocket socket, WebSocketCloseStatus status, string description)
    {
        try
        {
            await socket.CloseOutputAsync(status, description, CancellationToken.None);
        }
        finally
        {
            registry.Remove(connection);
            connection.Dispose();
            socket.Dispose();
        }
    }

    /// <summary>
    /// Every check before the upgrade. What the connection needs is copied into a small
    /// <see cref="ConnectionTicket"/>: the validation (principal, parsed JWT, token) and the offered
    /// subprotocols (one of them carries the token) end with this method instead of living on in the
    /// connection's frame.
    /// </summary>
    private async Task<Admission> AdmitAsync(HttpContext context)
    {
        var requestedProtocols = context.WebSockets.WebSocketRequestedProtocols;
        var token = ExtractToken(context.Request, requestedProtocols, out var missingReason);
        if (token is null)
        {
            return new(Unauthorized(context, missingReason));
        }

        var validation = await services.TokenValidator.ValidateAsync(token, context.RequestAborted);
        if (!validation.IsValid || string.IsNullOrEmpty(validation.UserId))
        {
            return new(Unauthorized(context, validation.FailureReason ?? "The access token is not valid."));
        }

        if (!IsOriginAllowed(context.Request))
        {
            return new(Refuse(StatusCodes.Status403Forbidden, "Forbidden", "This origin may not open WebSocket connections.", "https://tools.ietf.org/html/rfc9110#section-15.5.4"));
        }

        if (!context.WebSockets.IsWebSocketRequest)
        {
            return new(Refuse(StatusCodes.Status400BadRequest, "Bad Request", "This endpoint only accepts WebSocket upgrades.", "https://tools.ietf.org/html/rfc9110#section-15.5.1"));
        }

        // Parsed here rather than through Request.Query, whose parsed copy the context would keep for the socket's life.
        if (!TryParseResume(new QueryCollection(QueryHelpers.ParseQuery(context.Request.QueryString.Value)), out var resume, out var resumeError))
        {
            return new(Refuse(StatusCodes.Status400BadRequest, "Bad Request", resumeError, "https://tools.ietf.org/html/rfc9110#section-15.5.1"));
        }

        if (registry.IsStopping)
        {
            return new(Refuse(StatusCodes.Status503ServiceUnavailable, "Service Unavailable", "The server is shutting down; reconnect shortly.", "https://tools.ietf.org/html/rfc9110#section-15.6.4"));
        }

        // Never echo the token-bearing entry; select only the literal the client offered.
        var subProtocol = requestedProtocols.Contains(JwtAuthProtocol, StringComparer.Ordinal) ? JwtAuthProtocol : null;
        return new(new ConnectionTicket(validation.UserId, validation.TokenId, validation.SessionId, validation.ExpiresAt, resume, subProtocol));
    }

    /// <summary>
    /// Completes the upgrade. An HTTP/1.1 upgrade is answered here (RFC 6455 section 4.2.2, as the
    /// WebSocket middleware answers it) so that the socket runs over a <see cref="CoalescingStream"/>
    /// and the send loop can hand a batch of frames to the transport in one write; anything else
    /// (an HTTP/2 extended CONNECT) goes through the middleware.
    /// </summary>
    private static async Task<(WebSocket Socket, CoalescingStream? Stream)> AcceptAsync(HttpContext context, string? subProtocol)
    {
        var upgrade = context.Features.Get<IHttpUpgradeFeature>();
        var key = context.Request.Headers.SecWebSocketKey.ToString();
        if (upgrade is not { IsUpgradableRequest: true } || key.Length == 0)
        {
            var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
            {
                SubProtocol = subProtocol,
                // The protocol's own heartbeat keeps the line alive; a runtime keep-alive would add a timer per socket.
                KeepAliveInterval = TimeSpan.Zero,
            });
            return (socket, null);
        }

        var headers = context.Response.Headers;
        headers.Connection = "Upgrade";
        headers.Upgrade = "websocket";
        headers.SecWebSocketAccept = AcceptKey(key);
        if (subProtocol is not null)
        {
            headers.SecWebSocketProtocol = subProtocol;
        }

        // A socket lives for hours: no request timeout applies to it.
        context.Features.Get<Microsoft.AspNetCore.Http.Timeouts.IHttpRequestTimeoutFeature>()?.DisableTimeout();
        var stream = new CoalescingStream(await upgrade.UpgradeAsync());
        var created = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions
        {
            IsServer = true,
            SubProtocol = subProtocol,
            KeepAliveInterval = TimeSpan.Zero,
        });
        return (created, stream);
    }

    /// <summary>Sec-WebSocket-Accept: base64 of the SHA-1 of the client's key and the RFC 6455 GUID.</summary>
    internal static string AcceptKey(string key)
    {
        Span<byte> hash = stackalloc byte[20];
#pragma warning disable CA5350 // RFC 6455 names SHA-1 for the handshake; it protects nothing secret.
        System.Security.Cryptography.SHA1.HashData(Encoding.ASCII.GetBytes(key.Trim() + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"), hash);
#pragma warning restore CA5350
        return Convert.ToBase64String(hash);
    }

    /// <summary>Header first, then the subprotocol entries; never the query string (it ends up in logs).</summary>
    internal static string? ExtractToken(HttpRequest request, IList<string> requestedProtocols, out string reason)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            var value = authorization["Bearer ".Length..].Trim();
            reason = "The Authorization header carries an empty bearer token.";
            return value.Length > 0 ? value : null;
        }

        foreach (var protocol in requestedProtocols)
        {
            string? encoded = null;
            if (protocol.StartsWith(JwtPrefix, StringComparison.OrdinalIgnoreCase))
            {
                encoded = protocol[JwtPrefix.Length..];
            }
            else if (protocol.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
            {
                encoded = protocol[BearerPrefix.Length..];
            }

            if (encoded is null)
            {
                continue;
            }

            if (DecodeSubprotocolToken(encoded) is { } decoded)
            {
                reason = string.Empty;
                return decoded;
            }

            reason = "The subprotocol token is neither a JWT nor base64url of one.";
            return null;
        }

        reason = request.Query.ContainsKey("token") || request.Query.ContainsKey("access_token")
            ? "Query-string tokens are not accepted; send the token in the Authorization header or as a 'jwt.<token>' subprotocol."
            : authorization.Length > 0
                ? "Only the Bearer scheme is accepted in the Authorization header."
                : "An access token is required: Authorization: Bearer <token>, or a 'jwt.<token>' subprotocol.";
        return null;
    }

    /// <summary>A raw JWT has dots; base64url never does, so the two forms cannot be confused.</summary>
    internal static string? DecodeSubprotocolToken(string value)
    {
        if (value.Length == 0)
        {
            return null;
        }

        if (value.Contains('.', StringComparison.Ordinal))
        {
            return value;
        }

        if (!Base64Url.IsValid(value, out var length) || length == 0)
        {
            return null;
        }

        var bytes = new byte[length];
        if (Base64Url.DecodeFromChars(value, bytes, out _, out var written) != System.Buffers.OperationStatus.Done)
        {
            return null;
        }

        try
        {
            var decoded = new UTF8Encoding(false, true).GetString(bytes, 0, written);
            return decoded.Contains('.', StringComparison.Ordinal) ? decoded : null;
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    internal static bool TryParseResume(IQueryCollection query, out StreamPosition? resume, out string error)
    {
        resume = null;
        error = string.Empty;
        var epoch = query["epoch"].ToString();
        var lastSeq = query["last_seq"].ToString();
        if (epoch.Length == 0 && lastSeq.Length == 0)
        {
            return true;
        }

        if (epoch.Length == 0 || lastSeq.Length == 0)
        {
            error = "A resume needs both 'epoch' and 'last_seq'.";
            return false;
        }

        if (epoch.Length > MaxEpochLength)
        {
            error = "'epoch' is too long.";
            return false;
        }

        if (!long.TryParse(lastSeq, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seq))
        {
            error = "'last_seq' must be a non-negative integer.";
            return false;
        }

        resume = new StreamPosition(epoch, seq);
        return true;
    }

    private bool IsOriginAllowed(HttpRequest request)
    {
        var origin = request.Headers.Origin.ToString();
        if (origin.Length == 0)
        {
            // Non-browser clients send no Origin; cross-site browser pages always do.
            return true;
        }

        origin = origin.TrimEnd('/');
        var own = $"{request.Scheme}://{request.Host.Value}";
        return string.Equals(origin, own, StringComparison.OrdinalIgnoreCase)
            || _allowedOrigins.Contains(origin, StringComparer.OrdinalIgnoreCase);
    }

    private static string[] BuildAllowedOrigins(ApexOptions options)
    {
        var origins = options.AllowedOrigins.Select(o => o.Trim().TrimEnd('/')).Where(o => o.Length > 0).ToList();
        if (Uri.TryCreate(options.PublicUrl, UriKind.Absolute, out var publicUrl))
        {
            origins.Add(publicUrl.GetLeftPart(UriPartial.Authority));
        }

        return [.. origins];
    }

    private ProblemHttpResult Unauthorized(HttpContext context, string reason)
    {
        context.Response.Headers[HeaderNames.WWWAuthenticate] = "Bearer";
        return Refuse(StatusCodes.Status401Unauthorized, "Unauthorized", reason, "https://tools.ietf.org/html/rfc9110#section-15.5.2");
    }

    private ProblemHttpResult Refuse(int status, string title, string detail, string type)
    {
        GatewayLog.Refused(logger, status, detail);
        return TypedResults.Problem(detail: detail, statusCode: status, title: title, type: type);
    }
}

/// <summary>What a connection keeps of its handshake: who it is for, its token's identity and lifetime, where it resumes.</summary>
internal sealed record ConnectionTicket(string UserId, string? TokenId, string? SessionId, DateTimeOffset? ExpiresAt, StreamPosition? Resume, string? SubProtocol);

/// <summary>The outcome of the handshake's checks: a refusal, or the ticket of the connection to open.</summary>
internal readonly record struct Admission(ProblemHttpResult? Refusal, ConnectionTicket? Ticket)
{
    public Admission(ProblemHttpResult refusal)
        : this(refusal, null)
    {
    }

    public Admission(ConnectionTicket ticket)
        : this(null, ticket)
    {
    }
}
