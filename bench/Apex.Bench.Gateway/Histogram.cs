using System.Globalization;
using System.Text;

namespace Apex.Bench.Gateway;

/// <summary>
/// Latency histogram with fixed log-linear buckets (about 2 % resolution from 1 µs to 100 s), so
/// client processes can send bucket counts and the orchestrator merges them exactly.
/// </summary>
internal sealed class Histogram
{
    private const int SubBuckets = 64;
    private const int Magnitudes = 28;
    private readonly long[] _counts = new long[SubBuckets * Magnitudes];

    public long Count { get; private set; }

    public void RecordMicroseconds(long micros)
    {
        var index = IndexOf(Math.Max(1, micros));
        Interlocked.Increment(ref _counts[index]);
    }

    public void Reset() => Array.Clear(_counts);

    public string Serialize()
    {
        var sb = new StringBuilder();
        for (var i = 0; i < _counts.Length; i++)
        {
            var c = Interlocked.Read(ref _counts[i]);
            if (c > 0)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{i}:{c},");
            }
        }

        return sb.Length == 0 ? "-" : sb.ToString(0, sb.Length - 1);
    }

    public void Merge(string serialized)
    {
        if (serialized == "-")
        {
            return;
        }

        foreach (var part in serialized.Split(','))
        {
            var colon = part.IndexOf(':', StringComparison.Ordinal);
            _counts[int.Parse(part.AsSpan(0, colon), CultureInfo.InvariantCulture)] += long.Parse(part.AsSpan(colon + 1), CultureInfo.InvariantCulture);
        }
    }

    public double PercentileMilliseconds(double percentile)
    {
        var total = _counts.Sum();
        Count = total;
        if (total == 0)
        {
            return double.NaN;
        }

        var rank = (long)Math.Ceiling(total * percentile / 100.0);
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return UpperBoundMicros(i) / 1000.0;
            }
        }

        return UpperBoundMicros(_counts.Length - 1) / 1000.0;
    }

    private static int IndexOf(long micros)
    {
        // Block 0 is linear (0..63 µs); block m >= 1 covers [64 * 2^(m-1), 64 * 2^m) in 64 steps.
        if (micros < SubBuckets)
        {
            return (int)micros;
        }

        var magnitude = (int)(64 - long.LeadingZeroCount(micros)) - 6;
        if (magnitude >= Magnitudes)
        {
            return (SubBuckets * Magnitudes) - 1;
        }

        var sub = (int)(micros >> (magnitude - 1)) - SubBuckets;
        return (magnitude * SubBuckets) + sub;
    }

    private static long UpperBoundMicros(int index)
    {
        if (index < SubBuckets)
        {
            return index + 1;
        }

        var magnitude = index / SubBuckets;
        var sub = index % SubBuckets;
        return (long)(SubBuckets + sub + 1) << (magnitude - 1);
    }
}
