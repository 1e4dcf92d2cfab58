using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;

namespace Apex.Agents.Data;

/// <summary>One parsed usage row, before it is stored.</summary>
public struct UsageRow
{
    public long TimestampMs { get; init; }
    public string Model { get; init; }
    public string Feature { get; init; }
    public string UserTier { get; init; }

    /// <summary>All prompt tokens of the row, cache reads and cache writes included.</summary>
    public int InputTokens { get; init; }

    /// <summary>All completion tokens of the row, reasoning tokens included (they bill as output).</summary>
    public int OutputTokens { get; init; }

    /// <summary>Prompt tokens read from the provider's cache (part of <see cref="InputTokens"/>).</summary>
    public int CachedInputTokens { get; init; }

    /// <summary>Prompt tokens written to the provider's cache (part of <see cref="InputTokens"/>; Anthropic bills them above input).</summary>
    public int CacheWriteTokens { get; init; }

    /// <summary>Reasoning tokens (part of <see cref="OutputTokens"/>); 0 when the export does not say.</summary>
    public int ReasoningTokens { get; init; }

    /// <summary>Calls the row stands for: 1 for a per-call log, the bucket's request count for an aggregated export.</summary>
    public int Requests { get; init; }

    /// <summary>-1 when the row has no latency.</summary>
    public int LatencyMs { get; init; }

    /// <summary>NaN when the cost is unknown (no <c>cost_usd</c> and a model the catalog does not price).</summary>
    public double CostUsd { get; init; }
    public ulong PromptHash { get; init; }
    public byte Flags { get; init; }
}

/// <summary>Bits of <see cref="UsageRow.Flags"/>.</summary>
public static class UsageFlags
{
    public const byte Error = 1;
    public const byte InteractiveKnown = 2;
    public const byte Interactive = 4;

    /// <summary>The cost came from the catalog, not from the file's <c>cost_usd</c>.</summary>
    public const byte CostFromCatalog = 8;

    /// <summary>
    /// The row sums several calls (a daily or hourly bucket): its latency, prompt and output length
    /// are not per call, so per-call statistics (percentiles, repeats, tails) leave it out.
    /// </summary>
    public const byte Aggregated = 16;

    /// <summary>
    /// A line of a cost export (cost per model or line item, no tokens or calls): it counts in spend
    /// breakdowns only; per-call advice needs the usage export.
    /// </summary>
    public const byte CostOnly = 32;
}

/// <summary>
/// Usage rows in columns: the storage chunk format (one compressed blob per chunk) and the agent's
/// in-memory table. Columns of primitives keep a million rows near 50 MB and let the tools scan them
/// without allocating; strings (model, feature, user tier) are interned into a small table.
/// </summary>
public sealed class UsageColumns
{
    /// <summary>Rows per stored chunk: large enough to compress well, small enough to stream.</summary>
    public const int ChunkRows = 65_536;
    private const int FormatVersion = 2;

    /// <summary>Chunks stored before request counts, cache writes and reasoning tokens existed.</summary>
    private const int FormatVersion1 = 1;

    private readonly Dictionary<string, int> _stringIndex = new(StringComparer.Ordinal);

    public UsageColumns(int capacity = ChunkRows)
    {
        capacity = Math.Max(capacity, 16);
        Timestamp = new long[capacity];
        Model = new int[capacity];
        Feature = new int[capacity];
        Tier = new int[capacity];
        Input = new int[capacity];
        Output = new int[capacity];
        Cached = new int[capacity];
        CacheWrite = new int[capacity];
        Reasoning = new int[capacity];
        Requests = new int[capacity];
        Latency = new int[capacity];
        Cost = new double[capacity];
        Prompt = new ulong[capacity];
        Flags = new byte[capacity];
        Intern(string.Empty);
    }

    public int Count { get; private set; }
    public long[] Timestamp { get; private set; }
    public int[] Model { get; private set; }
    public int[] Feature { get; private set; }
    public int[] Tier { get; private set; }
    public int[] Input { get; private set; }
    public int[] Output { get; private set; }
    public int[] Cached { get; private set; }
    public int[] CacheWrite { get; private set; }
    public int[] Reasoning { get; private set; }

    /// <summary>Calls per row (see <see cref="UsageRow.Requests"/>); always at least 1.</summary>
    public int[] Requests { get; private set; }
    public int[] Latency { get; private set; }
    public double[] Cost { get; private set; }
    public ulong[] Prompt { get; private set; }
    public byte[] Flags { get; private set; }

    /// <summary>Interned strings; index 0 is the empty string (no value).</summary>
    public List<string> Strings { get; } = [];

    public int Intern(string value)
    {
        if (_stringIndex.TryGetValue(value, out var index))
        {
            return index;
        }

        index = Strings.Count;
        Strings.Add(value);
        _stringIndex.Add(value, index);
        return index;
    }

    /// <summary>Row <paramref name="i"/> as a <see cref="UsageRow"/>, the inverse of <see cref="Add"/>.</summary>
    public UsageRow RowAt(int i) => new()
    {
        TimestampMs = Timestamp[i],
        Model = Strings[Model[i]],
        Feature = Strings[Feature[i]],
        UserTier = Strings[Tier[i]],
        InputTokens = Input[i],
        OutputTokens = Output[i],
        CachedInputTokens = Cached[i],
        CacheWriteTokens = CacheWrite[i],
        ReasoningTokens = Reasoning[i],
        Requests = Requests[i],
        LatencyMs = Latency[i],
        CostUsd = Cost[i],
        PromptHash = Prompt[i],
        Flags = Flags[i],
    };

    public void Add(in UsageRow row)
    {
        EnsureCapacity(Count + 1);
        var i = Count++;
        Timestamp[i] = row.TimestampMs;
        Model[i] = Intern(row.Model ?? string.Empty);
        Feature[i] = Intern(row.Feature ?? string.Empty);
        Tier[i] = Intern(row.UserTier ?? string.Empty);
        Input[i] = row.InputTokens;
        Output[i] = row.OutputTokens;
        Cached[i] = row.CachedInputTokens;
        CacheWrite[i] = row.CacheWriteTokens;
        Reasoning[i] = row.ReasoningTokens;
        // A cost-only line (a spend export's line item) stands for no known number of calls.
        Requests[i] = (row.Flags & UsageFlags.CostOnly) != 0 ? 0 : Math.Max(1, row.Requests);
        Latency[i] = row.LatencyMs;
        Cost[i] = row.CostUsd;
        Prompt[i] = row.PromptHash;
        Flags[i] = row.Flags;
    }

    public void Clear() => Count = 0;

    /// <summary>The chunk's bytes: a versioned header, the string table and each column, compressed.</summary>
    public byte[] Encode()
    {
        using var output = new MemoryStream();
        using (var zlib = new ZLibStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            Span<byte> header = stackalloc byte[12];
            BinaryPrimitives.WriteInt32LittleEndian(header, FormatVersion);
            BinaryPrimitives.WriteInt32LittleEndian(header[4..], Count);
            BinaryPrimitives.WriteInt32LittleEndian(header[8..], Strings.Count);
            zlib.Write(header);
            Span<byte> length = stackalloc byte[4];
            foreach (var s in Strings)
            {
                var bytes = Encoding.UTF8.GetBytes(s);
                BinaryPrimitives.WriteInt32LittleEndian(length, bytes.Length);
                zlib.Write(length);
                zlib.Write(bytes);
            }

            var n = Count;
            zlib.Write(MemoryMarshal.AsBytes(Timestamp.AsSpan(0, n)));
            zlib.Write(MemoryMarshal.AsBytes(Model.AsSpan(0, n)));
            zlib.Write(MemoryMarshal.AsBytes(Feature.AsSpan(0, n)));
            zlib.Write(MemoryMarshal.AsBytes(Tier.AsSpan(0, n)));
            zlib.Write(MemoryMarshal.AsBytes(Input.AsSpan(0, n)));
            zlib.Write(MemoryMarshal.AsBytes(Output.AsSpan(0, n)));
            zlib.Write(MemoryMarshal.AsBytes(Cached.AsSpan(0, n)));
            zlib.Write(MemoryMarshal.AsBytes(CacheWrite.AsSpan(0, n)));
            zlib.Write(MemoryMarshal.AsBytes(Reasoning.AsSpan(0, n)));
            zlib.Write(MemoryMarshal.AsBytes(Requests.AsSpan(0, n)));
            zlib.Write(MemoryMarshal.AsBytes(Latency.AsSpan(0, n)));
            zlib.Write(MemoryMarshal.AsBytes(Cost.AsSpan(0, n)));
            zlib.Write(MemoryMarshal.AsBytes(Prompt.AsSpan(0, n)));
            zlib.Write(Flags.AsSpan(0, n));
        }

        return output.ToArray();
    }

    /// <summary>Appends an encoded chunk's rows, mapping its strings onto this table's.</summary>
    public void AppendEncoded(byte[] chunk)
    {
        using var zlib = new ZLibStream(new MemoryStream(chunk, writable: false), CompressionMode.Decompress);
        Span<byte> header = stackalloc byte[12];
        zlib.ReadExactly(header);
        var version = BinaryPrimitives.ReadInt32LittleEndian(header);
        if (version != FormatVersion && version != FormatVersion1)
        {
            throw new InvalidDataException("Unsupported usage chunk format.");
        }

        var n = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
        var stringCount = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
        var map = new int[stringCount];
        Span<byte> length = stackalloc byte[4];
        for (var s = 0; s < stringCount; s++)
        {
            zlib.ReadExactly(length);
            var bytes = new byte[BinaryPrimitives.ReadInt32LittleEndian(length)];
            zlib.ReadExactly(bytes);
            map[s] = Intern(Encoding.UTF8.GetString(bytes));
        }

        EnsureCapacity(Count + n);
        var start = Count;
        zlib.ReadExactly(MemoryMarshal.AsBytes(Timestamp.AsSpan(start, n)));
        ReadStrings(zlib, Model.AsSpan(start, n), map);
        ReadStrings(zlib, Feature.AsSpan(start, n), map);
        ReadStrings(zlib, Tier.AsSpan(start, n), map);
        zlib.ReadExactly(MemoryMarshal.AsBytes(Input.AsSpan(start, n)));
        zlib.ReadExactly(MemoryMarshal.AsBytes(Output.AsSpan(start, n)));
        zlib.ReadExactly(MemoryMarshal.AsBytes(Cached.AsSpan(start, n)));
        if (version == FormatVersion1)
        {
            CacheWrite.AsSpan(start, n).Clear();
            Reasoning.AsSpan(start, n).Clear();
            Requests.AsSpan(start, n).Fill(1);
        }
        else
        {
            zlib.ReadExactly(MemoryMarshal.AsBytes(CacheWrite.AsSpan(start, n)));
            zlib.ReadExactly(MemoryMarshal.AsBytes(Reasoning.AsSpan(start, n)));
            zlib.ReadExactly(MemoryMarshal.AsBytes(Requests.AsSpan(start, n)));
        }

        zlib.ReadExactly(MemoryMarshal.AsBytes(Latency.AsSpan(start, n)));
        zlib.ReadExactly(MemoryMarshal.AsBytes(Cost.AsSpan(start, n)));
        zlib.ReadExactly(MemoryMarshal.AsBytes(Prompt.AsSpan(start, n)));
        zlib.ReadExactly(Flags.AsSpan(start, n));
        Count += n;
    }

    private static void ReadStrings(Stream stream, Span<int> target, int[] map)
    {
        stream.ReadExactly(MemoryMarshal.AsBytes(target));
        for (var i = 0; i < target.Length; i++)
        {
            var local = target[i];
            if ((uint)local >= (uint)map.Length)
            {
                throw new InvalidDataException("Corrupt usage chunk: string index out of range.");
            }

            target[i] = map[local];
        }
    }

    private void EnsureCapacity(int needed)
    {
        if (needed <= Timestamp.Length)
        {
            return;
        }

        var size = Math.Max(needed, Timestamp.Length * 2);
        Timestamp = Grow(Timestamp, size);
        Model = Grow(Model, size);
        Feature = Grow(Feature, size);
        Tier = Grow(Tier, size);
        Input = Grow(Input, size);
        Output = Grow(Output, size);
        Cached = Grow(Cached, size);
        CacheWrite = Grow(CacheWrite, size);
        Reasoning = Grow(Reasoning, size);
        Requests = Grow(Requests, size);
        Latency = Grow(Latency, size);
        Cost = Grow(Cost, size);
        Prompt = Grow(Prompt, size);
        Flags = Grow(Flags, size);
    }

    private static T[] Grow<T>(T[] array, int size)
    {
        Array.Resize(ref array, size);
        return array;
    }
}
