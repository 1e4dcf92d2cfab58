using System.Globalization;

namespace Apex.Agents.Data.Import;

/// <summary>
/// Value parsers shared by every format: timestamps (ISO 8601, epoch seconds/milliseconds/nanoseconds,
/// dates), token counts, money amounts (a leading '$', cents) and durations. None of them knows a format.
/// </summary>
public static class UsageValues
{
    /// <summary>ISO 8601 (fast path for <c>yyyy-MM-ddTHH:mm:ss[.fff]Z</c>), a plain date, or epoch seconds/ms/µs/ns.</summary>
    public static bool TryParseTimestamp(ReadOnlySpan<char> span, out long unixMs)
    {
        unixMs = 0;
        span = span.Trim();
        if (span.IsEmpty)
        {
            return false;
        }

        if (TryParseUtcIso(span, out unixMs))
        {
            return true;
        }

        // Epoch numbers, as API responses and some exporters write them (seconds, ms, µs or ns by size).
        if (long.TryParse(span, NumberStyles.None, CultureInfo.InvariantCulture, out var epoch))
        {
            unixMs = epoch switch
            {
                < 100_000_000_000 => epoch * 1000,
                < 100_000_000_000_000 => epoch,
                < 100_000_000_000_000_000 => epoch / 1000,
                _ => epoch / 1_000_000,
            };
            return unixMs is > 0 and < 253402300799999;
        }

        if (double.TryParse(span, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var seconds) && seconds < 100_000_000_000)
        {
            unixMs = (long)Math.Round(seconds * 1000);
            return unixMs > 0;
        }

        if (DateTimeOffset.TryParse(span, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var dto))
        {
            unixMs = dto.ToUnixTimeMilliseconds();
            return true;
        }

        return false;
    }

    /// <summary>
    /// The shape exporters write almost always (<c>yyyy-MM-ddTHH:mm:ss[.fff…]Z</c>), parsed without the
    /// general parser, which costs several times more per row; anything else goes the general way.
    /// </summary>
    public static bool TryParseUtcIso(ReadOnlySpan<char> s, out long unixMs)
    {
        unixMs = 0;
        if (s.Length < 20 || s[^1] != 'Z' || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
        {
            return false;
        }

        if (!Digits(s, 0, 4, out var year) || !Digits(s, 5, 2, out var month) || !Digits(s, 8, 2, out var day)
            || !Digits(s, 11, 2, out var hour) || !Digits(s, 14, 2, out var minute) || !Digits(s, 17, 2, out var second))
        {
            return false;
        }

        var ms = 0;
        var end = s.Length - 1;
        if (end > 19)
        {
            if (s[19] != '.' || end == 20)
            {
                return false;
            }

            var scale = 100;
            for (var i = 20; i < end; i++)
            {
                var d = s[i] - '0';
                if ((uint)d > 9)
                {
                    return false;
                }

                ms += d * scale;
                scale /= 10;
            }
        }

        if (year < 1 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
        {
            return false;
        }

        unixMs = (long)(new DateTime(year, month, day, hour, minute, second, DateTimeKind.Utc) - DateTime.UnixEpoch).TotalMilliseconds + ms;
        return true;
    }

    private static bool Digits(ReadOnlySpan<char> s, int start, int count, out int value)
    {
        value = 0;
        for (var i = start; i < start + count; i++)
        {
            var d = s[i] - '0';
            if ((uint)d > 9)
            {
                return false;
            }

            value = value * 10 + d;
        }

        return true;
    }

    /// <summary>A whole, non-negative count; empty is "missing" (an error only when <paramref name="required"/>).</summary>
    public static bool TryParseCount(ReadOnlySpan<char> span, bool required, out int value, out string error)
    {
        value = 0;
        error = string.Empty;
        span = span.Trim();
        if (span.IsEmpty || span.SequenceEqual("null"))
        {
            error = "is missing";
            return !required;
        }

        if (long.TryParse(span, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole))
        {
            return Range(whole, out value, out error);
        }

        if (double.TryParse(span, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d) && d == Math.Floor(d))
        {
            return Range(d, out value, out error);
        }

        error = "is not a whole number";
        return false;
    }

    private static bool Range(double whole, out int value, out string error)
    {
        value = 0;
        error = string.Empty;
        if (whole < 0)
        {
            error = "is negative";
            return false;
        }

        if (whole > int.MaxValue)
        {
            error = "is too large";
            return false;
        }

        value = (int)whole;
        return true;
    }

    /// <summary>A non-negative amount, with an optional leading '$'; <paramref name="divisor"/> 100 reads cents as dollars.</summary>
    public static bool TryParseMoney(ReadOnlySpan<char> span, double divisor, out double usd)
    {
        usd = double.NaN;
        span = span.Trim();
        if (span.Length > 0 && span[0] == '$')
        {
            span = span[1..];
        }

        if (!double.TryParse(span, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < 0 || !double.IsFinite(value))
        {
            return false;
        }

        usd = value / divisor;
        return true;
    }

    /// <summary>A non-negative number of <paramref name="unitMs"/>-millisecond units (1 for ms, 1000 for seconds) as whole milliseconds.</summary>
    public static bool TryParseDuration(ReadOnlySpan<char> span, double unitMs, out int ms)
    {
        ms = -1;
        span = span.Trim();
        if (!double.TryParse(span, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < 0 || !double.IsFinite(value)
            || value * unitMs > int.MaxValue)
        {
            return false;
        }

        ms = (int)Math.Round(value * unitMs);
        return true;
    }

    public static bool IsTrue(ReadOnlySpan<char> span)
    {
        span = span.Trim();
        return span.Equals("true", StringComparison.OrdinalIgnoreCase) || span.SequenceEqual("1") || span.Equals("yes", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>FNV-1a over the text: stable across processes (string.GetHashCode is not), and stored.</summary>
    public static ulong Hash(ReadOnlySpan<char> text)
    {
        var hash = 14695981039346656037UL;
        foreach (var c in text)
        {
            hash ^= c;
            hash *= 1099511628211UL;
        }

        return hash == 0 ? 1 : hash;
    }
}
