namespace Apex.Redis;

/// <summary>
/// The Lua scripts of <see cref="RedisEventBroker"/>. A script runs atomically in Redis, which is
/// what numbering an event, storing it in the window and publishing it in one order needs; reads
/// that must see the epoch and the window together use one too. Keys of one user share a hash tag,
/// so the scripts also run on Redis Cluster.
/// </summary>
internal static class RedisScripts
{
    // Publishes a batch: the events of one shard that were waiting together, of one or more users.
    // KEYS: epoch, seq, events of each user in turn (3 per user). ARGV: max length, key ttl s, renew
    // below s, shard channel, user count, then per user its candidate epoch, message prefix (the
    // user id with its length) and event count, then every body (no seq), user by user in order.
    // Returns each user's epoch and first seq; its events got first, first + 1, ...
    //
    // One PUBLISH carries the whole batch: per user
    //   prefix .. epoch '|' first '|' count '|'  then per event  #body ':' body
    // so a node receives one message per batch, not one per event.
    //
    // Only what must happen in one order is here: numbering, storing and publishing. The window is
    // trimmed by count approximately (whole stream nodes, so never below the max length), which reads
    // never notice because they take at most max length entries; its age limit is applied by the read
    // (below), so no clock read and trim per event. The keys' expiry is renewed only once it has run
    // down by the margin the caller gives (an hour of a day and more), not on every event.
    //
    // Each user's part runs under pcall: a stream whose keys Redis refuses (they hold other data)
    // fails only that user's events (epoch '' and first 0 in the answer), not the whole batch.
    public const string PublishBatchScript = """
        local maxlen, ttl, renew = ARGV[1], ARGV[2], tonumber(ARGV[3])
        local users = tonumber(ARGV[5])
        local function publish(u, body, n)
          local ke, kq, kx = KEYS[u * 3 + 1], KEYS[u * 3 + 2], KEYS[u * 3 + 3]
          local a = 6 + u * 3
          local epoch = redis.call('GET', ke)
          if not epoch then
            epoch = ARGV[a]
            redis.call('SET', ke, epoch)
            redis.call('DEL', kq, kx)
          end
          local first = redis.call('INCRBY', kq, n) - n + 1
          local parts = {ARGV[a + 1] .. epoch .. '|' .. first .. '|' .. n .. '|'}
          for i = 0, n - 1 do
            local d = ARGV[body + i]
            redis.call('XADD', kx, 'MAXLEN', '~', maxlen, '*', 's', first + i, 'd', d)
            parts[#parts + 1] = #d .. ':'
            parts[#parts + 1] = d
          end
          if redis.call('TTL', kx) < renew then
            redis.call('EXPIRE', ke, ttl)
            redis.call('EXPIRE', kq, ttl)
            redis.call('EXPIRE', kx, ttl)
          end
          return epoch, first, parts
        end
        local out, result = {}, {}
        local body = 6 + users * 3
        for u = 0, users - 1 do
          local n = tonumber(ARGV[6 + u * 3 + 2])
          local ok, epoch, first, parts = pcall(publish, u, body, n)
          if ok then
            for _, p in ipairs(parts) do out[#out + 1] = p end
            result[#result + 1] = epoch
            result[#result + 1] = first
          else
            result[#result + 1] = ''
            result[#result + 1] = 0
          end
          body = body + n
        end
        if #out > 0 then redis.call('PUBLISH', ARGV[4], table.concat(out)) end
        return result
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
