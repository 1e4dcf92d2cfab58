using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
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
/// last <c>seq</c> (INCR) and the replay window (a Redis stream trimmed by count and by age); one Lua
/// script numbers, stores and publishes an event, so every node sees one order. Each node subscribes
/// to the pub/sub channel of the users it holds sockets for, and delivers to them in <c>seq</c>
/// order: a gap (a message lost while a link was down) is filled from the stream, and a lost history
/// (Redis restarted, keys expired) gives a new epoch and ends the local subscriptions so that clients
/// resume and learn <c>recovered: false</c>.
/// </summary>
internal sealed partial class RedisEventBroker : IEventBroker, IHealthCheck, IAsyncDisposable
{
    // KEYS: epoch, seq, events. ARGV: candidate epoch, envelope (no seq), max length, window ms, key ttl s, channel.
    private const string PublishScript = """
        local epoch = redis.call('GET', KEYS[1])
        if not epoch then
          epoch = ARGV[1]
          redis.call('SET', KEYS[1], epoch)
          redis.call('DEL', KEYS[2], KEYS[3])
        end
        local seq = redis.call('INCR', KEYS[2])
        redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[3], '*', 's', seq, 'd', ARGV[2])
        local t = redis.call('TIME')
        local cutoff = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[4])
        if cutoff > 0 then redis.call('XTRIM', KEYS[3], 'MINID', cutoff) end
        redis.call('EXPIRE', KEYS[1], ARGV[5])
        redis.call('EXPIRE', KEYS[2], ARGV[5])
        redis.call('EXPIRE', KEYS[3], ARGV[5])
        redis.call('PUBLISH', ARGV[6], epoch .. '|' .. seq .. '|' .. ARGV[2])
        return {epoch, seq}
        """;

    // KEYS: epoch, seq, events. ARGV: after seq, max entries, candidate epoch, key ttl s.
    // Returns {epoch, seq, entries-or-0}; entries newest first, 0 when the range is larger than the window.
    private const string ReadScript = """
        local epoch = redis.call('GET', KEYS[1])
        if not epoch then
          epoch = ARGV[3]
          redis.call('SET', KEYS[1], epoch, 'EX', ARGV[4])
          redis.call('DEL', KEYS[2], KEYS[3])
          return {epoch, 0, {}}
        end
        redis.call('EXPIRE', KEYS[1], ARGV[4])
        redis.call('EXPIRE', KEYS[2], ARGV[4])
        redis.call('EXPIRE', KEYS[3], ARGV[4])
        local seq = tonumber(redis.call('GET', KEYS[2]) or '0')
        local n = seq - tonumber(ARGV[1])
        if n <= 0 then return {epoch, seq, {}} end
        if n > tonumber(ARGV[2]) then return {epoch, seq, 0} end
        return {epoch, seq, redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', n)}
        """;

    // KEYS: epoch, seq, events. ARGV: new epoch, key ttl s, the epoch that lost an event ('' if unknown).
    // Starts a new history, unless the one that lost the event is already gone (Redis restarted).
    private const string ResetScript = """
        if ARGV[3] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[3] then return 0 end
        redis.call('DEL', KEYS[2], KEYS[3])
        redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
        return 1
        """;

    private readonly RedisConnection _redis;
    private readonly ILogger<RedisEventBroker> _logger;
    private readonly int _historySize;
    private readonly long _historyTtlMs;
    private readonly int _keyTtlSeconds;
    private readonly ConcurrentDictionary<string, UserChannel> _channels = new(StringComparer.Ordinal);

    // Users whose publish failed, with the epoch the event was lost from ('' if unknown): their
    // stream misses an event, so that history restarts with a new epoch once Redis answers.
    private readonly ConcurrentDictionary<string, string> _broken = new(StringComparer.Ordinal);

    // The epoch this node last published to, per user: what a failed publish was lost from.
    private readonly ConcurrentDictionary<string, string> _publishedEpochs = new(StringComparer.Ordinal);
    private const int MaxRememberedEpochs = 100_000;

    public RedisEventBroker(RedisConnection redis, IOptions<BrokerOptions> options, ILogger<RedisEventBroker> logger)
    {
        _redis = redis;
        _logger = logger;
        _historySize = options.Value.HistorySize;
        _historyTtlMs = options.Value.HistoryTtlSeconds * 1000L;
        // Epoch and seq outlive the replay window by a day so that an idle connected user keeps its
        // numbering; every read and publish renews them.
        _keyTtlSeconds = options.Value.HistoryTtlSeconds + 86_400;
        _redis.Failed += OnConnectionFailed;
        _redis.Restored += OnConnectionRestored;
    }

    public int ChannelCount => _channels.Count;

    public async ValueTask<EventEnvelope> PublishAsync(string userId, EventEnvelope envelope, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(userId);
        ArgumentNullException.ThrowIfNull(envelope);
        var keys = Keys(userId);
        var body = EnvelopeSerializer.Serialize(envelope with { Seq = null });
        try
        {
            if (_broken.ContainsKey(userId))
            {
                await ResetAsync(userId, keys, ct);
            }

            var result = (RedisResult[])(await _redis.Database.ScriptEvaluateAsync(PublishScript, keys,
                [NewEpoch(), body, _historySize, _historyTtlMs, _keyTtlSeconds, (RedisValue)ChannelName(userId)]).WaitAsync(_redis.Timeout, ct))!;
            if (_publishedEpochs.Count >= MaxRememberedEpochs)
            {
                _publishedEpochs.Clear();
            }

            _publishedEpochs[userId] = (string)result[0]!;
            RealtimeMetrics.Published();
            return envelope with { Seq = (long)result[1] };
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
                var channel = _channels.GetOrAdd(userId, static (id, self) => new UserChannel(self, id), this);
                var member = await channel.JoinAsync(subscriber, resumeFrom, ct);
                if (member is not null)
                {
                    return new Subscription(channel, member);
                }

                // The channel was closing when we joined: take a fresh one.
                _channels.TryRemove(new KeyValuePair<string, UserChannel>(userId, channel));
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
    }

    internal static bool IsRedisFailure(Exception ex) =>
        ex is RedisException or TimeoutException or ObjectDisposedException or RedisServerException;

    private RedisKey[] Keys(string userId)
    {
        // The hash tag keeps one user's keys in one slot, so the scripts also run on Redis Cluster.
        var root = $"{_redis.Prefix}s:{{{userId}}}:";
        return [root + "e", root + "q", root + "x"];
    }

    private string ChannelName(string userId) => _redis.Prefix + "s:" + userId;

    private async Task ResetAsync(string userId, RedisKey[] keys, CancellationToken ct)
    {
        if (!_broken.TryGetValue(userId, out var lostFrom))
        {
            return;
        }

        var reset = (long)await _redis.Database.ScriptEvaluateAsync(ResetScript, keys, [NewEpoch(), _keyTtlSeconds, lostFrom]).WaitAsync(_redis.Timeout, ct);
        _broken.TryRemove(new KeyValuePair<string, string>(userId, lostFrom));
        _publishedEpochs.TryRemove(userId, out _);
        if (reset == 1)
        {
            LogStreamReset(_logger, userId);
        }
    }

    /// <summary>Reads the stream's position and every event after <paramref name="afterSeq"/> still in the window.</summary>
    private async Task<ReadResult> ReadAsync(string userId, long afterSeq, CancellationToken ct)
    {
        var result = (RedisResult[])(await _redis.Database.ScriptEvaluateAsync(ReadScript, Keys(userId),
            [afterSeq == long.MaxValue ? long.MaxValue.ToString(CultureInfo.InvariantCulture) : afterSeq, _historySize, NewEpoch(), _keyTtlSeconds])
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

    private static string NewEpoch()
    {
        Span<byte> bytes = stackalloc byte[9];
        RandomNumberGenerator.Fill(bytes);
        return Convert.ToBase64String(bytes).Replace('+', '-').Replace('/', '_');
    }

    private sealed record ReadResult(string Epoch, long Seq, StreamEvent[]? Events);

    private sealed class Subscription(UserChannel channel, UserChannel.Member member) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => channel.LeaveAsync(member);
    }

    /// <summary>
    /// This node's view of one user's stream. Every change (a message, a join, a catch-up, a leave)
    /// runs under <see cref="_work"/>, so local subscribers receive events one at a time in seq order
    /// and a join never falls between the replay and the live events.
    /// </summary>
    private sealed class UserChannel(RedisEventBroker broker, string userId)
    {
        private readonly SemaphoreSlim _work = new(1, 1);
        private readonly List<Member> _members = [];
        private ChannelMessageQueue? _queue;
        private string? _epoch;
        private long _last;
        private bool _closed;

        public string? Epoch => Volatile.Read(ref _epoch);

        public sealed class Member(IStreamSubscriber subscriber)
        {
            public IStreamSubscriber Subscriber { get; } = subscriber;
        }

        public async Task<Member?> JoinAsync(IStreamSubscriber subscriber, StreamPosition? resumeFrom, CancellationToken ct)
        {
            await _work.WaitAsync(ct);
            try
            {
                if (_closed)
                {
                    return null;
                }

                if (_queue is null)
                {
                    try
                    {
                        // Subscribe first: whatever is published from now on arrives on the queue and
                        // waits for _work, so the read below and the live messages overlap, never gap.
                        _queue = await broker._redis.Subscriber.SubscribeAsync(RedisChannel.Literal(broker.ChannelName(userId))).WaitAsync(broker._redis.Timeout, ct);
                        _queue.OnMessage(OnMessageAsync);
                        var start = await broker.ReadAsync(userId, long.MaxValue, ct);
                        _epoch = start.Epoch;
                        _last = start.Seq;
                    }
                    catch
                    {
                        await CloseCoreAsync();
                        throw;
                    }
                }
                else
                {
                    // Messages may still be in flight to this node: bring the channel up to Redis's
                    // position so a resume from a seq another node already delivered is not "ahead".
                    await CatchUpCoreAsync(ct);
                }

                ResumeOutcome? outcome = null;
                IReadOnlyList<StreamEvent> replay = [];
                if (resumeFrom is not null)
                {
                    (outcome, replay) = await ResumeAsync(resumeFrom, ct);
                    (outcome.Recovered ? RealtimeMetrics.ReplayHits : RealtimeMetrics.ReplayMisses).Inc();
                }

                var member = new Member(subscriber);
                subscriber.OnSubscribed(new SubscriptionStart(_epoch!, _last, outcome, replay));
                lock (_members)
                {
                    _members.Add(member);
                }

                return member;
            }
            finally
            {
                _work.Release();
            }
        }

        public async ValueTask LeaveAsync(Member member)
        {
            await _work.WaitAsync();
            try
            {
                bool empty;
                lock (_members)
                {
                    _members.Remove(member);
                    empty = _members.Count == 0;
                }

                if (empty && !_closed)
                {
                    broker._channels.TryRemove(new KeyValuePair<string, UserChannel>(userId, this));
                    await CloseCoreAsync();
                }
            }
            finally
            {
                _work.Release();
            }
        }

        public async Task CloseAsync()
        {
            await _work.WaitAsync();
            try
            {
                await CloseCoreAsync();
            }
            finally
            {
                _work.Release();
            }
        }

        public async Task LoseAllAsync(string reason)
        {
            await _work.WaitAsync();
            try
            {
                LoseAll(reason);
            }
            finally
            {
                _work.Release();
            }
        }

        public async Task CatchUpSafeAsync()
        {
            try
            {
                await _work.WaitAsync();
                try
                {
                    if (!_closed && _queue is not null)
                    {
                        await CatchUpCoreAsync(CancellationToken.None);
                    }
                }
                finally
                {
                    _work.Release();
                }
            }
            catch (Exception ex) when (IsRedisFailure(ex))
            {
                LoseAll("event broker unavailable");
            }
        }

        private async Task<(ResumeOutcome, IReadOnlyList<StreamEvent>)> ResumeAsync(StreamPosition from, CancellationToken ct)
        {
            var fromSeq = from.Seq + 1;
            if (!string.Equals(from.Epoch, _epoch, StringComparison.Ordinal))
            {
                return (new ResumeOutcome(false, fromSeq, _last, 0, ResumeOutcome.EpochChanged), []);
            }

            if (from.Seq > _last)
            {
                return (new ResumeOutcome(false, fromSeq, _last, 0, ResumeOutcome.AheadOfStream), []);
            }

            if (from.Seq == _last)
            {
                return (new ResumeOutcome(true, fromSeq, _last, 0, null), []);
            }

            var read = await broker.ReadAsync(userId, from.Seq, ct);
            var replay = Slice(read, from.Seq, _last);
            return replay is null || read.Epoch != _epoch
                ? (new ResumeOutcome(false, fromSeq, _last, 0, ResumeOutcome.OutOfWindow), [])
                : (new ResumeOutcome(true, fromSeq, _last, replay.Count, null), replay);
        }

        /// <summary>The events after <paramref name="after"/> up to <paramref name="upTo"/>, or null if any is gone.</summary>
        private static List<StreamEvent>? Slice(ReadResult read, long after, long upTo)
        {
            if (read.Events is null)
            {
                return null;
            }

            var slice = new List<StreamEvent>((int)Math.Max(0, upTo - after));
            var expected = after + 1;
            foreach (var e in read.Events)
            {
                if (e.Seq < expected)
                {
                    continue;
                }

                if (e.Seq != expected || e.Seq > upTo)
                {
                    break;
                }

                slice.Add(e);
                expected++;
            }

            return expected == upTo + 1 ? slice : null;
        }

        private async Task OnMessageAsync(ChannelMessage message)
        {
            if (!TryParse(message.Message, out var epoch, out var seq, out var body))
            {
                return;
            }

            await _work.WaitAsync();
            try
            {
                if (_closed)
                {
                    return;
                }

                if (!string.Equals(epoch, _epoch, StringComparison.Ordinal) || seq > _last + 1)
                {
                    // A new history, or messages this node missed: Redis has the truth.
                    await CatchUpCoreAsync(CancellationToken.None);
                    return;
                }

                if (seq <= _last)
                {
                    return;
                }

                Deliver(ToStreamEvent(seq, body.Span));
                _last = seq;
            }
            catch (Exception ex) when (IsRedisFailure(ex))
            {
                LoseAll("event broker unavailable");
            }
            finally
            {
                _work.Release();
            }
        }

        /// <summary>Delivers what this node missed, or ends the subscriptions if it cannot.</summary>
        private async Task CatchUpCoreAsync(CancellationToken ct)
        {
            var read = await broker.ReadAsync(userId, _last, ct);
            if (!string.Equals(read.Epoch, _epoch, StringComparison.Ordinal))
            {
                LoseAll(ResumeOutcome.EpochChanged);
                _epoch = read.Epoch;
                _last = read.Seq;
                return;
            }

            if (read.Seq <= _last)
            {
                return;
            }

            var missed = Slice(read, _last, read.Seq);
            if (missed is null)
            {
                LoseAll(ResumeOutcome.OutOfWindow);
            }
            else
            {
                foreach (var e in missed)
                {
                    Deliver(e);
                }
            }

            _last = read.Seq;
        }

        private void Deliver(StreamEvent streamEvent)
        {
            Member[] members;
            lock (_members)
            {
                members = [.. _members];
            }

            foreach (var member in members)
            {
                if (!member.Subscriber.OnEvent(streamEvent))
                {
                    lock (_members)
                    {
                        _members.Remove(member);
                    }
                }
            }
        }

        private void LoseAll(string reason)
        {
            Member[] members;
            lock (_members)
            {
                members = [.. _members];
                _members.Clear();
            }

            foreach (var member in members)
            {
                member.Subscriber.OnStreamLost(reason);
            }

            if (members.Length > 0)
            {
                LogSubscriptionsLost(broker._logger, members.Length, reason);
            }
        }

        private async Task CloseCoreAsync()
        {
            _closed = true;
            if (_queue is { } queue)
            {
                _queue = null;
                try
                {
                    await queue.UnsubscribeAsync().WaitAsync(broker._redis.Timeout);
                }
                catch (Exception ex) when (IsRedisFailure(ex))
                {
                    // The server drops the subscription with the connection anyway.
                }
            }
        }

        private static bool TryParse(RedisValue value, out string epoch, out long seq, out ReadOnlyMemory<byte> body)
        {
            ReadOnlyMemory<byte> raw = (byte[])value!;
            var span = raw.Span;
            var first = span.IndexOf((byte)'|');
            var second = first < 0 ? -1 : span[(first + 1)..].IndexOf((byte)'|');
            if (first <= 0 || second <= 0
                || !long.TryParse(span.Slice(first + 1, second), NumberStyles.None, CultureInfo.InvariantCulture, out seq))
            {
                epoch = string.Empty;
                seq = 0;
                body = default;
                return false;
            }

            epoch = System.Text.Encoding.UTF8.GetString(span[..first]);
            body = raw[(first + second + 2)..];
            return true;
        }
    }

    [LoggerMessage(EventId = 7010, Level = LogLevel.Warning, Message = "Publishing to Redis failed ({ErrorType}); the user's stream restarts with a new epoch")]
    private static partial void LogPublishFailed(ILogger logger, string errorType);

    [LoggerMessage(EventId = 7011, Level = LogLevel.Warning, Message = "Subscribing through Redis failed ({ErrorType})")]
    private static partial void LogSubscribeFailed(ILogger logger, string errorType);

    [LoggerMessage(EventId = 7012, Level = LogLevel.Information, Message = "Ended {Count} local subscriptions: {Reason}")]
    private static partial void LogSubscriptionsLost(ILogger logger, int count, string reason);

    [LoggerMessage(EventId = 7013, Level = LogLevel.Information, Message = "Stream of user {UserId} restarted with a new epoch after lost events")]
    private static partial void LogStreamReset(ILogger logger, string userId);
}
