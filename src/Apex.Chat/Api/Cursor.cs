using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Apex.Chat.Api;

/// <summary>
/// Keyset cursors: the sort key of the last item returned (ticks and id), base64url encoded so that
/// clients treat it as opaque. Keyset rather than offset pagination keeps pages stable while new
/// threads and messages arrive.
/// </summary>
internal readonly record struct Cursor(long Ticks, string Id)
{
    public string Encode() =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{Ticks}|{Id}")));

    public static bool TryDecode(string? text, out Cursor cursor)
    {
        cursor = default;
        if (string.IsNullOrEmpty(text) || text.Length > 256)
        {
            return false;
        }

        byte[] bytes;
        try
        {
            bytes = Base64Url.DecodeFromChars(text);
        }
        catch (FormatException)
        {
            return false;
        }

        var parts = Encoding.UTF8.GetString(bytes).Split('|');
        if (parts.Length != 2 || parts[1].Length == 0
            || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks))
        {
            return false;
        }

        cursor = new Cursor(ticks, parts[1]);
        return true;
    }
}

/// <summary>Parses <c>?limit=</c> and <c>?cursor=</c>, collecting 422 errors.</summary>
internal static class Paging
{
    public static int ParseLimit(string? value, Dictionary<string, string[]> errors)
    {
        if (string.IsNullOrEmpty(value))
        {
            return ChatLimits.DefaultPageSize;
        }

        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var limit) || limit < 1)
        {
            errors["limit"] = [$"limit must be an integer between 1 and {ChatLimits.MaxPageSize}."];
            return 0;
        }

        // Larger pages are not an error: clients get the maximum and follow next_cursor.
        return Math.Min(limit, ChatLimits.MaxPageSize);
    }

    public static Cursor? ParseCursor(string? value, Dictionary<string, string[]> errors)
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        if (Cursor.TryDecode(value, out var cursor))
        {
            return cursor;
        }

        errors["cursor"] = ["cursor is not a cursor returned by this API."];
        return null;
    }
}
