using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Unicode;
using Apex.Contracts;
using Microsoft.Extensions.DependencyInjection;

namespace Apex.Realtime.Gateway;

/// <summary>Client-to-server messages (docs/spec/realtime-protocol.md section 3) and the inbound rate limit.</summary>
internal sealed partial class GatewayConnection
{
    private double _tokens;
    private long _lastRefillMs;
    private int _rejected;

    /// <summary>
    /// A token bucket: <see cref="GatewayOptions.MessageBurst"/> deep, refilled at
    /// <see cref="GatewayOptions.MessagesPerSecond"/>. The refused messages of one episode (until the
    /// bucket is full again) are counted; past the limit the client is abusive and closed with 1008.
    /// </summary>
    private bool TryTakeRateToken()
    {
        var now = Environment.TickCount64;
        _tokens = Math.Min(_options.MessageBurst, _tokens + ((now - _lastRefillMs) * _options.MessagesPerSecond / 1000.0));
        _lastRefillMs = now;
        if (_tokens >= _options.MessageBurst)
        {
            _rejected = 0;
        }

        if (_tokens >= 1)
        {
            _tokens -= 1;
            return true;
        }

        _rejected++;
        if (_rejected == 1)
        {
            Send(Frames.Error(ErrorCodes.RateLimited, $"More than {_options.MessagesPerSecond} messages per second; messages are being dropped."));
        }
        else if (_rejected >= _options.RejectedMessagesBeforeClose)
        {
            GatewayLog.PolicyClose(Logger, Id, "rate limit abuse");
            RequestClose(WebSocketCloseStatus.PolicyViolation, "rate limit exceeded");
        }

        return false;
    }

    private async Task HandleMessageAsync(ReadOnlyMemory<byte> data, WebSocketMessageType messageType, CancellationToken ct)
    {
        // Text frames with invalid UTF-8 never get here: the WebSocket layer fails them with 1007
        // as RFC 6455 section 8.1 requires. Binary frames are checked here.
        if (messageType != WebSocketMessageType.Text && !Utf8.IsValid(data.Span))
        {
            Send(Frames.Error(ErrorCodes.InvalidMessage, "Frames must be UTF-8 JSON text."));
            return;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(data);
        }
        catch (JsonException)
        {
            Send(Frames.Error(ErrorCodes.InvalidJson, "The message is not valid JSON."));
            return;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                Send(Frames.Error(ErrorCodes.InvalidMessage, "A message is a JSON object with a 'type'."));
                return;
            }

            var clientId = root.TryGetProperty("id"u8, out var id) ? id.ValueKind switch
            {
                JsonValueKind.String => id.GetString(),
                JsonValueKind.Number => id.GetRawText(),
                _ => null,
            } : null;
            if (!root.TryGetProperty("type"u8, out var typeElement) || typeElement.ValueKind != JsonValueKind.String || typeElement.GetString() is not { Length: > 0 } type)
            {
                Send(Frames.Error(ErrorCodes.InvalidMessage, "The message has no 'type'.", clientId));
                return;
            }

            // Older clients put the fields at the top level.
            var payload = root.TryGetProperty("payload"u8, out var p) && p.ValueKind == JsonValueKind.Object ? p : root;
            switch (type)
            {
                case EventTypes.Ping:
                    Send(Frames.Pong(payload.TryGetProperty("timestamp"u8, out var ts) ? ts : null));
                    break;
                case EventTypes.HeartbeatAck:
                    break;
                case EventTypes.UserMessage or "chat_message" or "message" or "chat":
                    await StartRunAsync(type, clientId, GetString(payload, "text") ?? GetString(payload, "content") ?? GetString(payload, "message"), payload, context: null, ct);
                    break;
                case EventTypes.StartAgent:
                    await StartRunAsync(type, clientId, GetString(payload, "user_request") ?? GetString(payload, "text"), payload,
                        payload.TryGetProperty("context"u8, out var context) && context.ValueKind != JsonValueKind.Null ? context.Clone() : null, ct);
                    break;
                case EventTypes.StopAgent:
                    await StopRunAsync(type, clientId, GetString(payload, "run_id"), ct);
                    break;
                case EventTypes.Auth:
                    await RenewAsync(type, clientId, GetString(payload, "token"), ct);
                    break;
                default:
                    Send(Frames.Error(ErrorCodes.UnknownType, $"Unknown message type '{Truncate(type)}'.", clientId));
                    break;
            }
        }
    }

    private async Task StartRunAsync(string type, string? clientId, string? text, JsonElement payload, JsonElement? context, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            Send(Frames.Error(ErrorCodes.InvalidMessage, type == EventTypes.StartAgent ? "'user_request' is required." : "'text' is required.", clientId));
            return;
        }

        var command = new StartRunCommand(UserId, text, GetString(payload, "thread_id"), GetString(payload, "dataset_id"), context);
        await RunCommandAsync(type, clientId, (handler, token) => handler.StartRunAsync(command, token), ct);
    }

    private async Task StopRunAsync(string type, string? clientId, string? runId, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(runId))
        {
            Send(Frames.Error(ErrorCodes.InvalidMessage, "'run_id' is required.", clientId));
            return;
        }

        await RunCommandAsync(type, clientId, (handler, token) => handler.StopRunAsync(UserId, runId, token), ct);
    }

    private async Task RunCommandAsync(string type, string? clientId, Func<IRunCommandHandler, CancellationToken, Task<RunCommandResult>> call, CancellationToken ct)
    {
        // A scope per command: a connection lives for hours, a database context must not.
        await using var scope = _services.ScopeFactory.CreateAsyncScope();
        var handler = scope.ServiceProvider.GetService<IRunCommandHandler>();
        if (handler is null)
        {
            Send(Frames.Error(ErrorCodes.Unavailable, "Runs are not available on this server.", clientId));
            return;
        }

        RunCommandResult result;
        try
        {
            result = await call(handler, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            var correlationId = Guid.NewGuid().ToString("N");
            GatewayLog.CommandFailed(Logger, ex, type, Id, correlationId);
            Send(Frames.Error(ErrorCodes.InternalError, $"The server failed to handle '{type}' (correlation id {correlationId}).", clientId));
            return;
        }

        Send(result.Ok
            ? Frames.Ack(type, clientId, result.ThreadId, result.RunId)
            : Frames.Error(result.ErrorCode!, result.ErrorMessage ?? result.ErrorCode!, clientId));
    }

    private async Task RenewAsync(string type, string? clientId, string? token, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(token))
        {
            Send(Frames.Error(ErrorCodes.InvalidMessage, "'token' is required.", clientId));
            return;
        }

        var validation = await _services.TokenValidator.ValidateAsync(token, ct);
        if (!validation.IsValid)
        {
            Send(Frames.Error(ErrorCodes.InvalidToken, validation.FailureReason ?? "The token is not valid.", clientId));
            return;
        }

        if (!string.Equals(validation.UserId, UserId, StringComparison.Ordinal))
        {
            Send(Frames.Error(ErrorCodes.InvalidToken, "The token belongs to another user.", clientId));
            return;
        }

        var expiresAt = validation.ExpiresAt?.ToUnixTimeMilliseconds() ?? long.MaxValue;
        Volatile.Write(ref _expiresAtUnixMs, expiresAt);
        _credential = new Credential(validation.TokenId, validation.SessionId);
        Send(Frames.Ack(type, clientId, expiresAt: validation.ExpiresAt));
    }

    private static string? GetString(JsonElement payload, string name) =>
        payload.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string Truncate(string value) => value.Length <= 64 ? value : value[..64] + "…";
}
