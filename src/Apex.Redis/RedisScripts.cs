namespace Apex.Redis;

/// <summary>
/// The Lua scripts of <see cref="RedisEventBroker"/>. A script runs atomically in Redis, which is
/// what numbering an event, storing it in the window and publishing it in one order needs; reads
/// that must see the epoch and the window together use one too. Keys of one user share a hash tag,
/// so the scripts also run on Redis Cluster.
/// </summary>
internal static class RedisScripts
{
    // KEYS: epoch, seq, events. ARGV: candidate epoch, envelope (no seq), max length, window ms, key ttl s,
    // shard channel, message prefix (the user id with its length). The message is prefix .. epoch|seq|envelope.
    public const string PublishScript = """
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
        redis.call('PUBLISH', ARGV[6], ARGV[7] .. epoch .. '|' .. seq .. '|' .. ARGV[2])
        return {epoch, seq}
        """;

    // KEYS: epoch, seq, events. ARGV: after seq, max entries, candidate epoch, key ttl s.
    // Returns {epoch, seq, entries-or-0}; entries newest first, 0 when the range is larger than the window.
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
        return {epoch, seq, redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', n)}
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
