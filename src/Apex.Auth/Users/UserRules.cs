using System.Globalization;
using System.Net.Mail;
using System.Text;

namespace Apex.Auth.Users;

/// <summary>Email and display-name rules shared by the routes and <c>apex user add</c>.</summary>
internal static class UserRules
{
    public const int MaxEmailLength = 254;
    public const int MaxNameLength = 200;

    /// <summary>
    /// Trimmed, NFKC, case-folded: the one stored and compared form, so that <c>jos\u00e9</c> and
    /// <c>jose\u0301</c>, or fullwidth lookalikes, are one account. Lower-casing can leave a string
    /// unnormalised, hence NFKC again after it. Text that is not valid UTF-16 is left for the address
    /// rules to refuse.
    /// </summary>
    public static string NormalizeEmail(string email)
    {
        var trimmed = email.Trim();
        if (Ascii.IsValid(trimmed))
        {
            return trimmed.ToLowerInvariant();
        }

        try
        {
            return trimmed.Normalize(NormalizationForm.FormKC).ToLowerInvariant().Normalize(NormalizationForm.FormKC);
        }
        catch (ArgumentException)
        {
            // Lone surrogates: EmailProblem refuses them.
            return trimmed.ToLowerInvariant();
        }
    }

    /// <summary>
    /// False when the runtime cannot normalise Unicode (globalization invariant mode, no ICU): emails
    /// would then no longer compare as one account, so the auth service refuses to start.
    /// </summary>
    public static bool NormalizationAvailable() =>
        "e\u0301".Normalize(NormalizationForm.FormC) == "\u00e9" && "\uff41".Normalize(NormalizationForm.FormKC) == "a";

    /// <summary>Why this (normalised) email is not acceptable, or null.</summary>
    public static string? EmailProblem(string email)
    {
        if (email.Length == 0)
        {
            return "The email is required.";
        }

        if (email.Length > MaxEmailLength)
        {
            return $"The email may have at most {MaxEmailLength} characters.";
        }

        foreach (var c in email)
        {
            if (char.IsWhiteSpace(c) || char.IsControl(c) || char.GetUnicodeCategory(c) is UnicodeCategory.Format or UnicodeCategory.Surrogate || c is '<' or '>' or '"' or '(' or ')' or ',' or ';' or '\\' or '[' or ']' or '\'')
            {
                return "The email contains characters an address cannot have.";
            }
        }

        var at = email.IndexOf('@', StringComparison.Ordinal);
        if (at <= 0 || at != email.LastIndexOf('@') || at == email.Length - 1
            || !email[(at + 1)..].Contains('.', StringComparison.Ordinal) || email.EndsWith('.') || email[(at + 1)..].StartsWith('.')
            || !MailAddress.TryCreate(email, out var parsed) || !string.Equals(parsed.Address, email, StringComparison.Ordinal))
        {
            return "The email is not a valid address.";
        }

        return null;
    }

    /// <summary>Why this display name is not acceptable, or null. Markup is data, not a problem: clients escape it.</summary>
    public static string? NameProblem(string name)
    {
        if (name.Length > MaxNameLength)
        {
            return $"The name may have at most {MaxNameLength} characters.";
        }

        foreach (var c in name)
        {
            var category = char.GetUnicodeCategory(c);
            if (category is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.OtherNotAssigned)
            {
                return "The name contains control or invisible formatting characters.";
            }
        }

        return name.EnumerateRunes().Any(r => r == Rune.ReplacementChar) ? "The name is not valid text." : null;
    }
}
