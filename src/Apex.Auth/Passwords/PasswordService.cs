using System.Collections.Frozen;
using System.Text;
using Apex.Auth.Data;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;

namespace Apex.Auth.Passwords;

/// <summary>
/// PBKDF2-HMAC-SHA512 through ASP.NET Core Identity's <see cref="PasswordHasher{TUser}"/> (format v3,
/// salted, iteration count in the hash so a raised count triggers a rehash on the next login).
/// </summary>
internal sealed class PasswordService
{
    /// <summary>Longer input is refused: nobody types it, and it only costs hashing time.</summary>
    public const int MaxLength = 1024;

    private static readonly Lazy<FrozenSet<string>> Common = new(LoadCommonPasswords);
    private readonly PasswordHasher<UserRecord> _hasher;
    private readonly PasswordSettings _settings;
    private readonly Lazy<string> _dummyHash;

    public PasswordService(IOptions<AuthOptions> options)
    {
        _settings = options.Value.Password;
        _hasher = new PasswordHasher<UserRecord>(Options.Create(new PasswordHasherOptions
        {
            CompatibilityMode = PasswordHasherCompatibilityMode.IdentityV3,
            IterationCount = _settings.Iterations,
        }));
        _dummyHash = new Lazy<string>(() => _hasher.HashPassword(null!, "apex-dummy-" + Guid.NewGuid()));
    }

    public int Iterations => _settings.Iterations;

    public string Hash(string password) => _hasher.HashPassword(null!, password);

    public PasswordVerificationResult Verify(string hash, string password) =>
        _hasher.VerifyHashedPassword(null!, hash, password);

    /// <summary>
    /// Spends the same time as a real check, for unknown emails and accounts without a password, so
    /// response time does not tell whether an account exists.
    /// </summary>
    public void VerifyDummy(string password) => _hasher.VerifyHashedPassword(null!, _dummyHash.Value, password);

    /// <summary>Why this password may not be used, or null.</summary>
    public string? Weakness(string password, string? email)
    {
        var length = password.EnumerateRunes().Count();
        if (length < _settings.MinLength)
        {
            return $"Use at least {_settings.MinLength} characters.";
        }

        if (password.Length > MaxLength)
        {
            return $"Use at most {MaxLength} characters.";
        }

        var lowered = password.Trim().ToLowerInvariant();
        if (Common.Value.Contains(lowered))
        {
            return "This password is too common; choose another.";
        }

        if (email is not null)
        {
            var local = email.Split('@')[0];
            if (lowered == email || (local.Length >= 4 && lowered.Contains(local, StringComparison.Ordinal) && lowered.Length - local.Length < 4))
            {
                return "The password must not be based on the email address.";
            }
        }

        if (password.Distinct().Count() < 3)
        {
            return "Use more than two different characters.";
        }

        return null;
    }

    private static FrozenSet<string> LoadCommonPasswords()
    {
        using var stream = typeof(PasswordService).Assembly.GetManifestResourceStream("Apex.Auth.common-passwords.txt")
            ?? throw new InvalidOperationException("The common-password list is missing from the assembly.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var set = new HashSet<string>(StringComparer.Ordinal);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0 && line[0] != '#')
            {
                set.Add(line.ToLowerInvariant());
            }
        }

        return set.ToFrozenSet(StringComparer.Ordinal);
    }
}
