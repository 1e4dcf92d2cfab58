using System.Buffers;
using System.Net.WebSockets;
using Apex.Realtime.Broker;
using Microsoft.Extensions.Logging;

namespace Apex.Realtime.Gateway;

/// <summary>
/// One open WebSocket: a receive loop that reads client messages and a send loop that drains a
/// per-connection queue. The broker writes into the queue without ever waiting, so a slow client
/// only ever costs its own queue; when that fills, the client is closed with 1013.
/// </summary>
internal sealed partial class GatewayConnection : IStreamSubscriber, IDisposable
{
    private const int InitialReceiveBuffer = 4 * 1024;

    private readonly WebSocket _socket;

    // The socket's byte stream when the gateway made it: the send loop corks it to send a batch in one write.
    private readonly CoalescingStream? _stream;
    private readonly GatewayServices _services;
    private readonly GatewayOptions _options;
    private readonly SendQueue _queue = new();

    // Gives the connection up when a requested close does not finish in time; made only when a close
    // is requested, so an open connection holds no timer and no cancellation source.
    private CancellationTokenSource? _closeDeadline;
    private int _finished;

    private int _pendingLive;
    private int _replayRemaining;
    private int _closeRequested;
    private volatile bool _discardQueued;
    private WebSocketCloseStatus _closeStatus;
    private string? _closeDescription;
    private long _lastSendMs;
    private long _expiresAtUnixMs;

    // The token the connection was opened (or last renewed) with: its revocation, or its session's, ends the connection.
    private volatile Credential _credential;

    public GatewayConnection(WebSocket socket, string userId, DateTimeOffset? expiresAt, GatewayServices services, string? tokenId = null, string? sessionId = null, CoalescingStream? stream = null)
    {
        _stream = stream;
        _credential = new Credential(tokenId, sessionId);
        _socket = socket;
        _services = services;
        _options = services.Options;
        UserId = userId;
        Id = Contracts.ApexIds.New(Contracts.ApexIds.Connection);
        _expiresAtUnixMs = expiresAt?.ToUnixTimeMilliseconds() ?? long.MaxValue;
        _lastSendMs = Environment.TickCount64;
        _tokens = _options.MessageBurst;
        _lastRefillMs = Environment.TickCount64;
    }

    public string Id { get; }

    public string UserId { get; }

    public DateTimeOffset ExpiresAt => DateTimeOffset.FromUnixTimeMilliseconds(Math.Min(Volatile.Read(ref _expiresAtUnixMs), DateTimeOffset.MaxValue.ToUnixTimeMilliseconds()));

    private ILogger Logger => _services.Logger;

    /// <summary>A close was requested (the connection is on its way out).</summary>
    public bool IsClosing => Volatile.Read(ref _closeRequested) != 0;

    public void OnSubscribed(SubscriptionStart start)
    {
        ArgumentNullException.ThrowIfNull(start);
        _queue.TryWrite(Frames.ConnectionEstablished(Id, UserId, _options.HeartbeatIntervalSeconds, _options.MaxMessageBytes, start.Epoch, start.LastSeq));
        if (start.Resume is { } resume)
        {
            _queue.TryWrite(Frames.Resumed(resume));
        }

        // The replay is not held to the live queue limit: it is bounded by the replay window.
        _replayRemaining = start.Replay.Count;
        foreach (var streamEvent in start.Replay)
        {
            _queue.TryWrite(streamEvent);
        }
    }

    public bool OnEvent(StreamEvent streamEvent)
    {
        if (Volatile.Read(ref _closeRequested) != 0)
        {
            return false;
        }

        if (Interlocked.Increment(ref _pendingLive) > _options.SendQueueLimit)
        {
            RequestClose(CloseCodes.TryAgainLater, "send queue full: reconnect and resume", discardQueued: true);
            GatewayLog.PolicyClose(Logger, Id, "slow consumer");
            return false;
        }

        return _queue.TryWrite(streamEvent);
    }

    public void OnStreamLost(string reason)
    {
        // The broker cannot promise a gap-free stream any more: the client resumes, and learns from
        // `resumed` whether it must reload over REST.
        _queue.TryWrite(Frames.Error(ErrorCodes.Unavailable, "The event stream was interrupted; reconnect and resume."));
        RequestClose(CloseCodes.TryAgainLater, "event stream interrupted: reconnect and resume");
        GatewayLog.PolicyClose(Logger, Id, reason);
    }

    /// <summary>Sends a frame to this connection only (ack, error, pong, heartbeat).</summary>
    public void Send(byte[] frame)
    {
        if (Volatile.Read(ref _closeRequested) == 0)
        {
            _queue.TryWrite(frame);
        }
    }

    /// <summary>
    /// Ends the connection with <paramref name="status"/>: frames already queued are sent first unless
    /// <paramref name="discardQueued"/>, then the close frame. The first request wins.
    /// </summary>
    public void RequestClose(WebSocketCloseStatus status, string description, bool discardQueued = false)
    {
        if (Interlocked.Exchange(ref _closeRequested, 1) != 0)
        {
            return;
        }

        _closeStatus = status;
        _closeDescription = description;
        _discardQueued |= discardQueued;
        _queue.Complete();
        RealtimeMetrics.ConnectionsClosed.WithLabels(((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
        if (Volatile.Read(ref _finished) != 0)
        {
            return;
        }

        var deadline = new CancellationTokenSource();
        deadline.Token.UnsafeRegister(static state => ((GatewayConnection)state!).GiveUp(), this);
        Volatile.Write(ref _closeDeadline, deadline);
        if (Volatile.Read(ref _finished) != 0)
        {
            // Finished meanwhile: RunAsync may have looked for the deadline before it was set.
            Interlocked.Exchange(ref _closeDeadline, null)?.Dispose();
            return;
        }

        try
        {
            deadline.CancelAfter(TimeSpan.FromSeconds(_options.CloseTimeoutSeconds));
        }
        catch (ObjectDisposedException)
        {
            // The connection finished in between.
        }
    }

    /// <summary>
    /// Gives the connection up (the peer vanished, or a close did not finish in time): aborting the
    /// socket ends whatever send or receive is pending, and completing the queue wakes the send loop.
    /// </summary>
    private void GiveUp()
    {
        _queue.Complete();
        _socket.Abort();
    }

    /// <summary>
    /// Ends the connection with <c>token_revoked</c> and 4401 when its token or session is revoked
    /// (logout, refresh-token reuse, a disabled account).
    /// </summary>
    public void CheckRevoked(Apex.Auth.Revocation.IRevocationFeed revocations)
    {
        var credential = _credential;
        if (Volatile.Read(ref _closeRequested) != 0 || credential.TokenId is null
            || !revocations.IsRevoked(credential.TokenId, credential.SessionId))
        {
            return;
        }

        _queue.TryWrite(Frames.Error(ErrorCodes.TokenRevoked, "The session was ended (logout or account disabled); sign in again."));
        RequestClose(CloseCodes.TokenExpired, "token revoked");
        GatewayLog.PolicyClose(Logger, Id, "token revoked");
    }

    /// <summary>Periodic check from the housekeeping loop: token expiry and server heartbeat.</summary>
    public void Tick(long nowUnixMs, long nowTickMs)
    {
        if (Volatile.Read(ref _closeRequested) != 0)
        {
            return;
        }

        if (nowUnixMs >= Volatile.Read(ref _expiresAtUnixMs))
        {
            _queue.TryWrite(Frames.Error(ErrorCodes.TokenExpired, "The access token expired; reconnect with a fresh token."));
            RequestClose(CloseCodes.TokenExpired, "token expired");
            GatewayLog.PolicyClose(Logger, Id, "token expired");
            return;
        }

        if (nowTickMs - Volatile.Read(ref _lastSendMs) >= _options.HeartbeatIntervalSeconds * 1000L)
        {
            // Count the heartbeat as sent now so a stalled send loop does not get one per tick.
            Volatile.Write(ref _lastSendMs, nowTickMs);
            _queue.TryWrite(Frames.Heartbeat());
        }
    }

    /// <summary>Releases the close deadline when the connection never ran (<see cref="RunAsync"/> releases it at its end).</summary>
    public void Dispose() => Finish();

    private void Finish()
    {
        Volatile.Write(ref _finished, 1);
        Interlocked.Exchange(ref _closeDeadline, null)?.Dispose();
    }

    /// <summary>
    /// Runs the connection until it is closed or lost: the receive loop here, the send loop beside it.
    /// Then ends its subscription, leaves <paramref name="registry"/> and releases the socket. One
    /// frame for the receive side and the teardown, since a frame lives as long as the socket.
    /// </summary>
    public async Task RunAsync(ConnectionRegistry? registry = null, IAsyncDisposable? subscription = null)
    {
        using var session = RealtimeTelemetry.StartSession(Id, UserId);
        try
        {
            var sending = SendLoopAsync();
            try
            {
                var token = CancellationToken.None;
                while (true)
                {
                    // Wait for data without holding a buffer: idle connections then cost no receive memory.
                    var peek = await _socket.ReceiveAsync(Memory<byte>.Empty, token);
                    if (peek.MessageType == WebSocketMessageType.Close)
                    {
                        OnClientClose();
                        break;
                    }

                    if (peek.EndOfMessage)
                    {
                        // An empty message: there is nothing more to read, and waiting for data would merge
                        // it with the next one. It is still a message (and invalid JSON).
                        if (Volatile.Read(ref _closeRequested) == 0 && TryTakeRateToken())
                        {
                            await HandleMessageAsync(ReadOnlyMemory<byte>.Empty, peek.MessageType, token);
                        }

                        continue;
                    }

                    var buffer = ArrayPool<byte>.Shared.Rent(InitialReceiveBuffer);
                    try
                    {
                        var length = 0;
                        var tooBig = false;
                        var clientClosed = false;
                        ValueWebSocketReceiveResult result;
                        while (true)
                        {
                            if (length == buffer.Length)
                            {
                                if (buffer.Length > _options.MaxMessageBytes)
                                {
                                    tooBig = true;
                                    length = 0;
                                }
                                else
                                {
                                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, _options.MaxMessageBytes + 1));
                                    buffer.AsSpan(0, length).CopyTo(larger);
                                    ArrayPool<byte>.Shared.Return(buffer);
                                    buffer = larger;
                                }
                            }

                            result = await _socket.ReceiveAsync(buffer.AsMemory(length), token);
                            if (result.MessageType == WebSocketMessageType.Close)
                            {
                                clientClosed = true;
                                break;
                            }

                            length += result.Count;
                            if (length > _options.MaxMessageBytes)
                            {
                                tooBig = true;
                                length = 0;
                            }

                            if (result.EndOfMessage)
                            {
                                break;
                            }
                        }

                        if (clientClosed)
                        {
                            OnClientClose();
                            break;
                        }

                        if (Volatile.Read(ref _closeRequested) != 0)
                        {
                            // Closing: read on only to see the client's close frame.
                            continue;
                        }

                        if (tooBig)
                        {
                            GatewayLog.PolicyClose(Logger, Id, "message too big");
                            RequestClose(WebSocketCloseStatus.MessageTooBig, $"message larger than {_options.MaxMessageBytes} bytes");
                            continue;
                        }

                        if (!TryTakeRateToken())
                        {
                            continue;
                        }

                        await HandleMessageAsync(buffer.AsMemory(0, length), result.MessageType, token);
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                    }
                }
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
            {
                GatewayLog.PeerDropped(Logger, Id);
                GiveUp();
            }
            catch (Exception ex)
            {
                // A real server fault: the client learns the correlation id, the log has the details.
                var correlationId = Guid.NewGuid().ToString("N");
                GatewayLog.ConnectionFailed(Logger, ex, Id, correlationId);
                RequestClose(WebSocketCloseStatus.InternalServerError, $"internal error {correlationId}", discardQueued: true);
            }
            finally
            {
                _queue.Complete();
            }

            await sending;
            Finish();
            if (_socket.State != WebSocketState.Closed)
            {
                _socket.Abort();
            }

            GatewayLog.Closed(Logger, Id, (int)(_socket.CloseStatus ?? _closeStatus), _closeDescription ?? string.Empty);
        }
        finally
        {
            try
            {
                if (subscription is not null)
                {
                    await subscription.DisposeAsync();
                }
            }
            finally
            {
                registry?.Remove(this);
                Finish();
                _socket.Dispose();
            }
        }
    }

    private async Task SendLoopAsync()
    {
        // Off the caller's thread: a long replay sent synchronously would otherwise hold back the
        // receive loop, and with it the client's close.
        await Task.Yield();
        try
        {
            while (await _queue.WaitToReadAsync())
            {
                // One wake drains everything waiting, and the corked stream sends it as one write.
                _stream?.Cork();
                var delivered = 0;
                while (_queue.TakeAll() is { } batch)
                {
                    foreach (var item in batch)
                    {
                        byte[] frame;
                        if (item is StreamEvent streamEvent)
                        {
                            if (_replayRemaining > 0)
                            {
                                _replayRemaining--;
                            }
                            else
                            {
                                Interlocked.Decrement(ref _pendingLive);
                            }

                            frame = streamEvent.Utf8;
                            delivered++;
                        }
                        else
                        {
                            frame = (byte[])item;
                        }

                        if (_discardQueued)
                        {
                            continue;
                        }

                        await _socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
                    }

                    _queue.Return(batch);
                }

                if (_stream is not null)
                {
                    await _stream.UncorkAsync(_discardQueued, CancellationToken.None);
                }

                Volatile.Write(ref _lastSendMs, Environment.TickCount64);

                if (delivered > 0 && !_discardQueued)
                {
                    RealtimeMetrics.Delivered(delivered);
                }
            }

            if (Volatile.Read(ref _closeRequested) != 0 && _socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await _socket.CloseOutputAsync(_closeStatus, _closeDescription, CancellationToken.None);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The peer is gone or did not take the close in time; the receive loop ends with it.
            GiveUp();
        }
    }

    private void OnClientClose()
    {
        // RFC 6455 5.5.1: answer the close at once; what is still queued (a replay, live events)
        // is of no use to a client that is leaving.
        _discardQueued = true;
        // Answer the client's close with its own code when it is one a server may send back.
        var status = _socket.CloseStatus is { } s && (int)s is >= 1000 and < 5000 and not 1005 and not 1006 and not 1015
            ? s
            : WebSocketCloseStatus.NormalClosure;
        RequestClose(status, string.Empty, discardQueued: true);
    }
}

internal sealed record Credential(string? TokenId, string? SessionId);
