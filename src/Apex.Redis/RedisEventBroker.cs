using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Apex.Contracts;
using Apex.Realtime;
using Apex.Realtime.Broker;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using StreamPosition = Apex.Realtime.Broker.StreamPosition;

namespace Apex.Redis;

/// <summary>
/// Per-user streams shared by every node through Redis. For each user Redis holds the epoch, the
/// last <c>seq</c> (INCR) and the replay window (a Redis stream bounded by count on publish and by age on read); one Lua
/// script numbers, stores and publishes the events of a batch, so every node sees one order. A
/// batch is what waited together for one shard (<see cref="RedisPublishBatcher"/>): one script call
/// and one shard message for all of them. Events go out on a
/// small fixed set of shard channels (a user's shard is a stable hash of its id), so a node holds at
/// most <see cref="ShardCount"/> Redis subscriptions whatever its number of users: each user's part of
/// a received message is handed to the node's <see cref="RedisUserChannel"/> of that user, if any (a dictionary
/// miss otherwise), which delivers to the local subscribers in <c>seq</c> order (the scripts are in
/// <see cref="RedisScripts"/>): a gap (a message lost while a link was down) is filled from the stream, and a lost history
/// (Redis restarted, keys expired) gives a new epoch and ends the local subscriptions so that clients
/// resume and learn <c>recovered: false</c>.
/// </summary>
internal sealed partial class RedisEventBroker : IEventBroker, IHealthCheck, IAsyncDisposable
{
    private readonly RedisConnection _redis;
    private readonly ILogger<RedisEventBroker> _logger;
    private readonly int _historySize;
    private readonly long _historyTtlMs;
    private readonly int _keyTtlSeconds;
    private readonly ConcurrentDictionary<string, RedisUserChannel> _channels = new(StringComparer.Ordinal);

    // Users whose publish failed, with the epoch the event was lost from ('' if unknown): their
    // stream misses an event, so that history restarts with a new epoch once Redis answers.
    private readonly ConcurrentDictionary<string, string> _broken = new(StringComparer.Ordinal);

    // The epoch this node last published to, per user: what a failed publish was lost from.
    private readonly ConcurrentDictionary<string, string> _publishedEpochs = new(StringComparer.Ordinal);
    private const int MaxRememberedEpochs = 100_000;

    // A publish renews the keys' expiry only once it has run down this far (keys live a day longer
    // than the window, so they still outlive it by 23 hours).
    private const int KeyTtlRenewMarginSeconds = 3_600;

    /// <summary>
    /// Shard channels. Fixed, not configurable: every node must map a user to the same channel, and a
    /// node that disagreed would silently miss that user's events. Each shard delivers in order
    /// (one queue per shard), so more shards also mean less waiting behind one user's catch-up read.
    /// </summary>
    internal const int ShardCount = 32;

    // The subscription of each shard, made when the first local user of that shard joins and kept
    // until the broker is disposed (a handful of channels, cheaper to keep than to churn).
    private readonly Task<ChannelMessageQueue>?[] _shards = new Task<ChannelMessageQueue>?[ShardCount];
    private readonly ConcurrentDictionary<string, RedisUserChannel>.AlternateLookup<ReadOnlySpan<char>> _channelsBySpan;
    private readonly RedisPublishBatcher _batcher;

    public RedisEventBroker(RedisConnection redis, IOptions<BrokerOptions> options, ILogger<RedisEventBroker> logger)
    {
        _redis = redis;
        _logger = logger;
        _historySize = options.Value.HistorySize;
        _historyTtlMs = options.Value.HistoryTtlSeconds * 1000L;
        // Epoch and seq outlive the replay window by a day so that an idle connected user keeps its
        // numbering; every read renews them, a publish once they have run down by an hour.
        _keyTtlSeconds = options.Value.HistoryTtlSeconds + 86_400;
        _channelsBySpan = _channels.GetAlternateLookup<ReadOnlySpan<char>>();
        _batcher = new RedisPublishBatcher(redis, Keys, ShardChannelName, _historySize, _keyTtlSeconds, _keyTtlSeconds - KeyTtlRenewMarginSeconds);
        _redis.Failed += OnConnectionFailed;
        _redis.Restored += OnConnectionRestored;
    }

    public int ChannelCount => _channels.Count;

    internal RedisConnection Redis => _redis;

    internal ILogger Logger => _logger;

    public async ValueTask<EventEnvelope> PublishAsync(string userId, EventEnvelope envelope, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        ArgumentNullException.ThrowIfNull(envelope);
        var body = EnvelopeSerializer.Serialize(envelope, seq: null);
        try
        {
            if (_broken.ContainsKey(userId))
            {
                await ResetAsync(userId, Keys(userId), ct);
            }

            // The batcher sends this event with the others of its shard waiting at the same time. The
            // connection's own async timeout (Redis:OperationTimeoutMs) bounds the wait, so no timer
            // per event is added here.
            var publishing = _batcher.PublishAsync(userId, body);
            var published = ct.CanBeCanceled ? await publishing.WaitAsync(ct) : await publishing;
            if (_publishedEpochs.Count >= MaxRememberedEpochs)
            {
                _publishedEpochs.Clear();
            }

            _publishedEpochs[userId] = published.Epoch;
            RealtimeMetrics.Published();
            return envelope with { Seq = published.Seq };
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            // The event may or may not have been stored: either way this user's stream can no longer
            // be trusted to be complete, so it restarts with a new epoch once Redis answers.
            _broken[userId] = _publishedEpochs.GetValueOrDefault(userId)
                ?? (_channels.TryGetValue(userId, out var channel) ? channel.Epoch : null) ?? string.Empty;
            LogPublishFailed(_logger, ex.GetType().Name);
            throw new BrokerUnavailableException("The event broker (Redis) did not answer.", ex);
        }
    }

    public async ValueTask<IAsyncDisposable> SubscribeAsync(string userId, StreamPosition? resumeFrom, IStreamSubscriber subscriber, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        ArgumentNullException.ThrowIfNull(subscriber);
        try
        {
            if (_broken.ContainsKey(userId))
            {
                await ResetAsync(userId, Keys(userId), ct);
            }

            while (true)
            {
                var channel = _channels.GetOrAdd(userId, static (id, self) => new RedisUserChannel(self, id), this);
                var member = await channel.JoinAsync(subscriber, resumeFrom, ct);
                if (member is not null)
                {
                    return new Subscription(channel, member);
                }

                // The channel was closing when we joined: take a fresh one.
                _channels.TryRemove(new KeyValuePair<string, RedisUserChannel>(userId, channel));
            }
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            LogSubscribeFailed(_logger, ex.GetType().Name);
            throw new BrokerUnavailableException("The event broker (Redis) did not answer.", ex);
        }
    }

    public async ValueTask<StreamPosition> GetPositionAsync(string userId, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        try
        {
            var read = await ReadAsync(userId, long.MaxValue, ct);
            return new StreamPosition(read.Epoch, read.Seq);
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            throw new BrokerUnavailableException("The event broker (Redis) did not answer.", ex);
        }
    }

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await _redis.Database.PingAsync().WaitAsync(_redis.Timeout, cancellationToken);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            return HealthCheckResult.Unhealthy("Redis did not answer.", ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _redis.Failed -= OnConnectionFailed;
        _redis.Restored -= OnConnectionRestored;
        foreach (var channel in _channels.Values)
        {
            await channel.CloseAsync();
        }

        for (var i = 0; i < _shards.Length; i++)
        {
            Task<ChannelMessageQueue>? shard;
            lock (_shards)
            {
                shard = _shards[i];
                _shards[i] = null;
            }

            if (shard is { IsCompletedSuccessfully: true })
            {
                try
                {
                    await shard.Result.UnsubscribeAsync().WaitAsync(_redis.Timeout);
                }
                catch (Exception ex) when (IsRedisFailure(ex))
                {
                    // The server drops the subscription with the connection anyway.
                }
            }
        }
    }

    internal static bool IsRedisFailure(Exception ex) =>
        ex is RedisException or TimeoutException or ObjectDisposedException or RedisServerException;

    private RedisKey[] Keys(string userId)
    {
        // The hash tag keeps one user's keys in one slot, so the scripts also run on Redis Cluster.
        var root = $"{_redis.Prefix}s:{{{userId}}}:";
        return [root + "e", root + "q", root + "x"];
    }

    /// <summary>The shard of a user: FNV-1a of its id's UTF-16 code units, the same in every process.</summary>
    internal static int ShardOf(string userId)
    {
        var hash = 2166136261u;
        foreach (var c in userId)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)(hash % ShardCount);
    }

    // "b:" (batch messages), not the "f:" of single-event messages: a node of an older version, which
    // cannot read a batch, does not receive one as if it were a single event.
    private string ShardChannelName(int shard) => _redis.Prefix + "b:" + shard.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Subscribes this node to the shard of <paramref name="userId"/> unless it already is. Once the
    /// returned task completes, every event published to that user afterwards reaches
    /// <see cref="OnShardMessageAsync"/>.
    /// </summary>
    internal Task EnsureShardAsync(string userId)
    {
        var shard = ShardOf(userId);
        lock (_shards)
        {
            var task = _shards[shard];
            if (task is null || task.IsFaulted || task.IsCanceled)
            {
                task = _shards[shard] = SubscribeShardAsync(shard);
            }

            return task;
        }
    }

    private async Task<ChannelMessageQueue> SubscribeShardAsync(int shard)
    {
        // A queue (not a handler) because it hands messages over one at a time, in the order Redis
        // sent them: that is what keeps each user's events in seq order on this node.
        var queue = await _redis.Subscriber.SubscribeAsync(RedisChannel.Literal(ShardChannelName(shard))).WaitAsync(_redis.Timeout);
        queue.OnMessage(OnShardMessageAsync);
        return queue;
    }

    private Task OnShardMessageAsync(ChannelMessage message)
    {
        // The message's own buffer, not a copy: most of a message is only looked at, not delivered.
        ReadOnlyMemory<byte> raw = message.Message;
        List<(RedisUserChannel Channel, string Epoch, long First, ReadOnlyMemory<byte>[] Bodies)>? local = null;
        var at = 0;
        // A part that is not what Apex publishes ends the message (nothing after it can be trusted);
        // one shard carries many users' events, so it is dropped rather than fail the shard.
        while (at < raw.Length && TryReadUserEvents(raw, ref at, out var channel, out var epoch, out var first, out var bodies))
        {
            if (channel is not null)
            {
                (local ??= []).Add((channel, epoch!, first, bodies!));
            }
        }

        return local switch
        {
            null => Task.CompletedTask,
            [var only] => only.Channel.OnEventsAsync(only.Epoch, only.First, only.Bodies),
            _ => DeliverAllAsync(local),
        };
    }

    private static async Task DeliverAllAsync(List<(RedisUserChannel Channel, string Epoch, long First, ReadOnlyMemory<byte>[] Bodies)> local)
    {
        foreach (var (channel, epoch, first, bodies) in local)
        {
            await channel.OnEventsAsync(epoch, first, bodies);
        }
    }

    /// <summary>
    /// Reads one user's part of a shard message at <paramref name="at"/>:
    /// <c>&lt;utf-8 length&gt;:&lt;id&gt;&lt;epoch&gt;|&lt;first seq&gt;|&lt;count&gt;|</c>, then per event
    /// <c>&lt;length&gt;:&lt;envelope&gt;</c>. The channel is that of a user with subscribers on this
    /// node, else null (then neither the epoch nor the bodies are taken out).
    /// </summary>
    private bool TryReadUserEvents(ReadOnlyMemory<byte> raw, ref int at, out RedisUserChannel? channel, out string? epoch, out long first, out ReadOnlyMemory<byte>[]? bodies)
    {
        channel = null;
        epoch = null;
        first = 0;
        bodies = null;
        var span = raw.Span;
        var pos = at;
        if (!TryReadLength(span, ref pos, out var userLength))
        {
            return false;
        }

        // Most users of a shard have no socket on this node: find the channel without allocating the id.
        var userBytes = span.Slice(pos, userLength);
        pos += userLength;
        if (userLength <= 256)
        {
            Span<char> chars = stackalloc char[userLength];
            var n = System.Text.Encoding.UTF8.GetChars(userBytes, chars);
            _channelsBySpan.TryGetValue(chars[..n], out channel);
        }
        else
        {
            _channels.TryGetValue(System.Text.Encoding.UTF8.GetString(userBytes), out channel);
        }

        var epochEnd = span[pos..].IndexOf((byte)'|');
        if (epochEnd <= 0)
        {
            return false;
        }

        var epochBytes = span.Slice(pos, epochEnd);
        pos += epochEnd + 1;
        if (!TryReadNumber(span, ref pos, (byte)'|', out first) || first <= 0
            || !TryReadNumber(span, ref pos, (byte)'|', out var count) || count <= 0 || count > span.Length - pos)
        {
            return false;
        }

        if (channel is not null)
        {
            bodies = new ReadOnlyMemory<byte>[(int)count];
        }

        for (var i = 0; i < count; i++)
        {
            if (!TryReadLength(span, ref pos, out var length) || !IsEnvelope(span.Slice(pos, length)))
            {
                return false;
            }

            if (bodies is not null)
            {
                bodies[i] = raw.Slice(pos, length);
            }

            pos += length;
        }

        if (channel is not null)
        {
            epoch = System.Text.Encoding.UTF8.GetString(epochBytes);
        }

        at = pos;
        return true;
    }

    /// <summary>Reads <c>&lt;length&gt;:</c> at <paramref name="pos"/>, a length that fits in what follows.</summary>
    private static bool TryReadLength(ReadOnlySpan<byte> span, ref int pos, out int length)
    {
        if (!TryReadNumber(span, ref pos, (byte)':', out var value) || value <= 0 || value > span.Length - pos)
        {
            length = 0;
            return false;
        }

        length = (int)value;
        return true;
    }

    private static bool TryReadNumber(ReadOnlySpan<byte> span, ref int pos, byte end, out long value)
    {
        var rest = span[pos..];
        var stop = rest.IndexOf(end);
        // 18 digits at most: never overflows, and no seq or length comes near it.
        if (stop is <= 0 or > 18 || !long.TryParse(rest[..stop], NumberStyles.None, CultureInfo.InvariantCulture, out value))
        {
            value = 0;
            return false;
        }

        pos += stop + 1;
        return true;
    }

    // What ToStreamEvent needs: {"type":"<type>" at the start.
    private static bool IsEnvelope(ReadOnlySpan<byte> body)
    {
        var prefix = "{\"type\":\""u8;
        return body.StartsWith(prefix) && body[prefix.Length..].Contains((byte)'"');
    }

    private async Task ResetAsync(string userId, RedisKey[] keys, CancellationToken ct)
    {
        if (!_broken.TryGetValue(userId, out var lostFrom))
        {
            return;
        }

        var reset = (long)await _redis.Database.ScriptEvaluateAsync(RedisScripts.ResetScript, keys, [StreamRecovery.NewEpoch(), _keyTtlSeconds, lostFrom]).WaitAsync(_redis.Timeout, ct);
        _broken.TryRemove(new KeyValuePair<string, string>(userId, lostFrom));
        _publishedEpochs.TryRemove(userId, out _);
        if (reset == 1)
        {
            LogStreamReset(_logger, userId);
        }
    }

    /// <summary>Reads the stream's position and every event after <paramref name="afterSeq"/> still in the window.</summary>
    internal async Task<ReadResult> ReadAsync(string userId, long afterSeq, CancellationToken ct)
    {
        var result = (RedisResult[])(await _redis.Database.ScriptEvaluateAsync(RedisScripts.ReadScript, Keys(userId),
            [afterSeq == long.MaxValue ? long.MaxValue.ToString(CultureInfo.InvariantCulture) : afterSeq, _historySize, StreamRecovery.NewEpoch(), _keyTtlSeconds, _historyTtlMs])
            .WaitAsync(_redis.Timeout, ct))!;
        var epoch = (string)result[0]!;
        var seq = (long)result[1];
        if (result[2].Resp2Type == ResultType.Integer)
        {
            return new ReadResult(epoch, seq, null);
        }

        var entries = (RedisResult[])result[2]!;
        var events = new StreamEvent[entries.Length];
        for (var i = 0; i < entries.Length; i++)
        {
            // Newest first from XREVRANGE: fill from the end. Each entry is [id, [s, seq, d, body]].
            var fields = (RedisResult[])((RedisResult[])entries[i]!)[1]!;
            long entrySeq = 0;
            byte[]? data = null;
            for (var f = 0; f + 1 < fields.Length; f += 2)
            {
                var name = (string)fields[f]!;
                if (name == "s")
                {
                    entrySeq = (long)fields[f + 1];
                }
                else if (name == "d")
                {
                    data = (byte[])fields[f + 1]!;
                }
            }

            events[entries.Length - 1 - i] = ToStreamEvent(entrySeq, data!);
        }

        return new ReadResult(epoch, seq, events);
    }

    /// <summary>
    /// The frame of an event stored without its seq: the seq goes right after <c>type</c>, where
    /// <see cref="EnvelopeSerializer"/> puts it, so frames are byte-identical on every node and the
    /// body is never parsed again.
    /// </summary>
    internal static StreamEvent ToStreamEvent(long seq, ReadOnlySpan<byte> body)
    {
        // body = {"type":"<type>",... ; a type value never holds a raw quote (the writer escapes it).
        var prefix = "{\"type\":\""u8;
        if (!body.StartsWith(prefix))
        {
            throw new FormatException("A stored event does not start with its type.");
        }

        var typeEnd = prefix.Length + body[prefix.Length..].IndexOf((byte)'"') + 1;
        Span<byte> seqText = stackalloc byte[32];
        var seqName = ",\"seq\":"u8;
        seqName.CopyTo(seqText);
        seq.TryFormat(seqText[seqName.Length..], out var digits, default, CultureInfo.InvariantCulture);
        var seqLength = seqName.Length + digits;
        var frame = new byte[body.Length + seqLength];
        body[..typeEnd].CopyTo(frame);
        seqText[..seqLength].CopyTo(frame.AsSpan(typeEnd));
        body[typeEnd..].CopyTo(frame.AsSpan(typeEnd + seqLength));
        return new StreamEvent(seq, frame);
    }

    private void OnConnectionFailed(ConnectionType type)
    {
        // Events published while the link is down never reach this node's sockets: rather than leave
        // clients waiting on a silent stream, end their subscriptions; they resume when Redis answers.
        foreach (var channel in _channels.Values)
        {
            _ = channel.LoseAllAsync("event broker unavailable");
        }
    }

    private void OnConnectionRestored(ConnectionType type)
    {
        foreach (var userId in _broken.Keys)
        {
            _ = ResetQuietlyAsync(userId);
        }

        foreach (var channel in _channels.Values)
        {
            _ = channel.CatchUpSafeAsync();
        }
    }

    private async Task ResetQuietlyAsync(string userId)
    {
        try
        {
            await ResetAsync(userId, Keys(userId), CancellationToken.None);
        }
        catch (Exception ex) when (IsRedisFailure(ex))
        {
            // Still unreachable: the next publish or subscribe of this user retries.
        }
    }

    internal sealed record ReadResult(string Epoch, long Seq, StreamEvent[]? Events);

    /// <summary>Drops a channel whose last local subscriber left (unless another took its place).</summary>
    internal void Forget(string userId, RedisUserChannel channel) =>
        _channels.TryRemove(new KeyValuePair<string, RedisUserChannel>(userId, channel));

    private sealed class Subscription(RedisUserChannel channel, RedisUserChannel.Member member) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => channel.LeaveAsync(member);
    }

    [LoggerMessage(EventId = 7010, Level = LogLevel.Warning, Message = "Publishing to Redis failed ({ErrorType}); the user's stream restarts with a new epoch")]
    private static partial void LogPublishFailed(ILogger logger, string errorType);

    [LoggerMessage(EventId = 7011, Level = LogLevel.Warning, Message = "Subscribing through Redis failed ({ErrorType})")]
    private static partial void LogSubscribeFailed(ILogger logger, string errorType);

    [LoggerMessage(EventId = 7012, Level = LogLevel.Information, Message = "Ended {Count} local subscriptions: {Reason}")]
    internal static partial void LogSubscriptionsLost(ILogger logger, int count, string reason);

    [LoggerMessage(EventId = 7013, Level = LogLevel.Information, Message = "Stream of user {UserId} restarted with a new epoch after lost events")]
    private static partial void LogStreamReset(ILogger logger, string userId);
}
