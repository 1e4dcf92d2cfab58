namespace Apex.Redis;

/// <summary>
/// The Lua scripts of <see cref="RedisEventBroker"/>. A script runs atomically in Redis, which is
/// what numbering an event, storing it in the window and publishing it in one order needs; reads
/// that must see the epoch and the window together use one too. Keys of one user share a hash tag,
/// so the scripts also run on Redis Cluster.
/// </summary>
internal static class RedisScripts
{
    // KEYS: epoch, seq, events. ARGV: candidate epoch, envelope (no seq), max length, key ttl s,
    // renew below s, shard channel, message prefix (the user id with its length).
    // The message is prefix .. epoch|seq|envelope.
    //
    // Only what must happen in one order is here: numbering, storing and publishing. The window is
    // trimmed by count approximately (whole stream nodes, so never below the max length), which reads
    // never notice because they take at most max length entries; its age limit is applied by the read
    // (below), so no clock read and trim per event. The keys' expiry is renewed only once it has run
    // down by the margin the caller gives (an hour of a day and more), not on every event.
    public const string PublishScript = """
        local epoch = redis.call('GET', KEYS[1])
        if not epoch then
          epoch = ARGV[1]
          redis.call('SET', KEYS[1], epoch)
          redis.call('DEL', KEYS[2], KEYS[3])
        end
        local seq = redis.call('INCR', KEYS[2])
        redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 's', seq, 'd', ARGV[2])
        if redis.call('TTL', KEYS[3]) < tonumber(ARGV[5]) then
          redis.call('EXPIRE', KEYS[1], ARGV[4])
          redis.call('EXPIRE', KEYS[2], ARGV[4])
          redis.call('EXPIRE', KEYS[3], ARGV[4])
        end
        redis.call('PUBLISH', ARGV[6], ARGV[7] .. epoch .. '|' .. seq .. '|' .. ARGV[2])
        return {epoch, seq}
        """;

    // KEYS: epoch, seq, events. ARGV: after seq, max entries, candidate epoch, key ttl s, window ms.
    // Returns {epoch, seq, entries-or-0}; entries newest first, 0 when the range is larger than the
    // window. Entries older than the window's age (stream ids are Redis's clock in ms) are not read,
    // so a range reaching them comes back short and is not recovered.
    public const string ReadScript = """
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
        local t = redis.call('TIME')
        local cutoff = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[5])
        local oldest = '-'
        if cutoff > 0 then oldest = string.format('%d', cutoff) end
        return {epoch, seq, redis.call('XREVRANGE', KEYS[3], '+', oldest, 'COUNT', n)}
        """;

    // KEYS: epoch, seq, events. ARGV: new epoch, key ttl s, the epoch that lost an event ('' if unknown).
    // Starts a new history, unless the one that lost the event is already gone (Redis restarted).
    public const string ResetScript = """
        if ARGV[3] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[3] then return 0 end
        redis.call('DEL', KEYS[2], KEYS[3])
        redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
        return 1
        """;
}
