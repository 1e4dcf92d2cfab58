using System.Globalization;
using Apex.Realtime.Broker;
using StackExchange.Redis;

namespace Apex.Redis;

/// <summary>
/// Sends the publishes of a shard that wait together as one script call (<see cref="RedisScripts.PublishBatchScript"/>)
/// and one shard message. Each shard has one queue and at most one batch in flight: the first event
/// of an idle shard goes out at once, and the events that arrive while a batch is in Redis go out
/// together as the next one, so a burst (many runs publishing at once, or one run's events) pays one
/// round trip and one script execution per batch instead of per event, and a lone event waits for
/// nothing. A shard's batches go out in queue order on the one connection, so each user's events keep
/// the order their publishes were made in; the seq numbering stays in the script, atomic with storing
/// and publishing. A caller completes when its batch is acknowledged, or fails with the batch's error.
/// </summary>
internal sealed class RedisPublishBatcher
{
    /// <summary>Events in one batch at most: bounds how long one script holds Redis.</summary>
    internal const int MaxBatchEvents = 256;

    /// <summary>Body bytes in one batch at most (a single larger event still goes alone).</summary>
    internal const int MaxBatchBytes = 256 * 1024;

    private const int FixedArgs = 5;

    private readonly RedisConnection _redis;
    private readonly Func<string, RedisKey[]> _keys;
    private readonly Func<int, string> _channelName;
    private readonly int _historySize;
    private readonly int _keyTtlSeconds;
    private readonly int _renewBelowSeconds;
    private readonly Shard[] _shards;

    public RedisPublishBatcher(RedisConnection redis, Func<string, RedisKey[]> keys, Func<int, string> channelName,
        int historySize, int keyTtlSeconds, int renewBelowSeconds)
    {
        _redis = redis;
        _keys = keys;
        _channelName = channelName;
        _historySize = historySize;
        _keyTtlSeconds = keyTtlSeconds;
        _renewBelowSeconds = renewBelowSeconds;
        _shards = new Shard[RedisEventBroker.ShardCount];
        for (var i = 0; i < _shards.Length; i++)
        {
            _shards[i] = new Shard(this, i);
        }
    }

    /// <summary>The stream position an event was published at.</summary>
    internal readonly record struct Published(string Epoch, long Seq);

    /// <summary>Queues one event of <paramref name="userId"/>; completes once Redis has numbered, stored and published it.</summary>
    public Task<Published> PublishAsync(string userId, byte[] body)
    {
        var pending = new Pending(userId, body);
        _shards[RedisEventBroker.ShardOf(userId)].Add(pending);
        return pending.Completion.Task;
    }

    private sealed class Pending(string userId, byte[] body)
    {
        public string UserId { get; } = userId;

        public byte[] Body { get; } = body;

        public TaskCompletionSource<Published> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Shard(RedisPublishBatcher owner, int index) : IThreadPoolWorkItem
    {
        private readonly Queue<Pending> _queue = new();
        private bool _sending;

        public void Add(Pending pending)
        {
            lock (_queue)
            {
                _queue.Enqueue(pending);
                if (_sending)
                {
                    return;
                }

                _sending = true;
            }

            // Started on the pool, not inline: the publishes a caller makes in one go (a round of many
            // users) are all queued by the time the first batch is taken.
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }

        public void Execute() => _ = SendAllAsync();

        private async Task SendAllAsync()
        {
            while (true)
            {
                List<Pending> batch;
                lock (_queue)
                {
                    if (_queue.Count == 0)
                    {
                        _sending = false;
                        return;
                    }

                    batch = Take();
                }

                try
                {
                    await owner.SendAsync(index, batch);
                }
#pragma warning disable CA1031 // Every failure of a batch goes to its callers, whatever it is: none may wait forever.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    foreach (var pending in batch)
                    {
                        pending.Completion.TrySetException(ex);
                    }
                }
            }
        }

        private List<Pending> Take()
        {
            var batch = new List<Pending>(Math.Min(_queue.Count, MaxBatchEvents));
            var bytes = 0;
            while (batch.Count < MaxBatchEvents && _queue.TryPeek(out var next)
                && (batch.Count == 0 || bytes + next.Body.Length <= MaxBatchBytes))
            {
                batch.Add(_queue.Dequeue());
                bytes += next.Body.Length;
            }

            return batch;
        }
    }

    private async Task SendAsync(int shard, List<Pending> batch)
    {
        // On Redis Cluster a script may only touch keys of one hash slot: there a batch goes out as one
        // script per slot (all at once). A single server takes the whole batch in one script.
        if (_redis.IsCluster)
        {
            var bySlot = new Dictionary<int, List<Pending>>();
            foreach (var pending in batch)
            {
                var slot = _redis.HashSlot(_keys(pending.UserId)[0]);
                if (!bySlot.TryGetValue(slot, out var group))
                {
                    bySlot[slot] = group = [];
                }

                group.Add(pending);
            }

            await Task.WhenAll(bySlot.Values.Select(group => SendGroupAsync(shard, group)));
            return;
        }

        await SendGroupAsync(shard, batch);
    }

    private async Task SendGroupAsync(int shard, List<Pending> batch)
    {
        // The batch's users in the order of their first event, each with its events in queue order.
        var users = new List<(string UserId, List<Pending> Events)>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var pending in batch)
        {
            if (!index.TryGetValue(pending.UserId, out var i))
            {
                index[pending.UserId] = i = users.Count;
                users.Add((pending.UserId, []));
            }

            users[i].Events.Add(pending);
        }

        var keys = new RedisKey[users.Count * 3];
        var args = new RedisValue[FixedArgs + (users.Count * 3) + batch.Count];
        args[0] = _historySize;
        args[1] = _keyTtlSeconds;
        args[2] = _renewBelowSeconds;
        args[3] = _channelName(shard);
        args[4] = users.Count;
        var body = FixedArgs + (users.Count * 3);
        for (var u = 0; u < users.Count; u++)
        {
            var (userId, events) = users[u];
            _keys(userId).CopyTo(keys, u * 3);
            args[FixedArgs + (u * 3)] = StreamRecovery.NewEpoch();
            args[FixedArgs + (u * 3) + 1] = MessagePrefix(userId);
            args[FixedArgs + (u * 3) + 2] = events.Count;
            foreach (var pending in events)
            {
                args[body++] = pending.Body;
            }
        }

        var result = (RedisResult[])(await _redis.Database.ScriptEvaluateAsync(RedisScripts.PublishBatchScript, keys, args))!;
        if (result.Length != users.Count * 2)
        {
            throw new RedisException($"The publish script answered {result.Length} values for {users.Count} users.");
        }

        for (var u = 0; u < users.Count; u++)
        {
            var epoch = (string)result[u * 2]!;
            var first = (long)result[(u * 2) + 1];
            var events = users[u].Events;
            for (var e = 0; e < events.Count; e++)
            {
                if (first <= 0)
                {
                    // Redis refused this user's stream (its keys hold other data); the batch's other
                    // users were published.
                    events[e].Completion.TrySetException(new RedisException("Redis refused to store the events of this stream."));
                }
                else
                {
                    events[e].Completion.TrySetResult(new Published(epoch, first + e));
                }
            }
        }
    }

    /// <summary>What precedes the epoch of a user's events in a shard message: the user id's UTF-8 length, ':' and the id.</summary>
    internal static string MessagePrefix(string userId) =>
        System.Text.Encoding.UTF8.GetByteCount(userId).ToString(CultureInfo.InvariantCulture) + ":" + userId;
}
