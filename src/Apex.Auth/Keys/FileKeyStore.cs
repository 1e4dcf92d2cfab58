using System.Text.Json;
using System.Text.Json.Serialization;
using Apex.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Apex.Auth.Keys;

/// <summary>
/// ES256 keys generated into <c>{DataDir}/keys</c>, one owner-only file per key. A rotated key is
/// published at once and signs after <see cref="AuthOptions.KeyActivationDelaySeconds"/>; a
/// superseded key stays published until every token it can have signed has expired. The running
/// server notices keys written by <c>apex keys rotate</c> within <see cref="RecheckInterval"/>.
/// </summary>
internal sealed partial class FileKeyStore : ISigningKeySource, IDisposable
{
    private static readonly TimeSpan RecheckInterval = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan MaxSnapshotAge = TimeSpan.FromMinutes(1);
    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly AuthOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<FileKeyStore> _logger;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Snapshot? _snapshot;

    public FileKeyStore(IOptions<ApexOptions> apex, IOptions<AuthOptions> options, TimeProvider time, ILogger<FileKeyStore> logger)
    {
        _options = options.Value;
        _time = time;
        _logger = logger;
        KeyDirectory = Path.Combine(apex.Value.ResolveDataDir(), "keys");
    }

    public string KeyDirectory { get; }

    public bool CanRefresh => true;

    /// <summary>How long a superseded key stays published: the longest a token it signed can live.</summary>
    public TimeSpan Retention
    {
        get
        {
            var access = TimeSpan.FromMinutes(_options.AccessTokenMinutes);
            var refresh = TimeSpan.FromDays(Math.Min(_options.RefreshTokenDays, _options.SessionDays));
            return (access > refresh ? access : refresh) + TimeSpan.FromSeconds(_options.ClockSkewSeconds);
        }
    }

    public ValueTask<KeySet> GetAsync(CancellationToken ct)
    {
        var snapshot = Volatile.Read(ref _snapshot);
        var now = _time.GetUtcNow();
        if (snapshot is not null && now - snapshot.CheckedAt < RecheckInterval)
        {
            return ValueTask.FromResult(snapshot.Keys);
        }

        return new ValueTask<KeySet>(ReloadAsync(force: false, ct));
    }

    public async ValueTask<KeySet> RefreshAsync(CancellationToken ct) => await ReloadAsync(force: false, ct);

    public void Dispose() => _gate.Dispose();

    /// <summary>Creates the first key if the store is empty; called before the server listens.</summary>
    public async Task EnsureKeyAsync(CancellationToken ct)
    {
        PrepareDirectory();
        await ReloadAsync(force: true, ct);
    }

    /// <summary>Adds a key that signs after the activation delay and removes keys past retention.</summary>
    public async Task<RotationResult> RotateAsync(CancellationToken ct)
    {
        PrepareDirectory();
        var now = _time.GetUtcNow();
        var activatesAt = now + TimeSpan.FromSeconds(_options.KeyActivationDelaySeconds);
        var kid = await WriteKeyAsync(activatesAt, ct);
        var removed = new List<string>();
        var stored = await ReadAllAsync(ct);
        for (var i = 0; i < stored.Count - 1; i++)
        {
            var supersededAt = stored[i + 1].ActivatesAt;
            if (supersededAt <= now && supersededAt + Retention < now)
            {
                File.Delete(Path.Combine(KeyDirectory, stored[i].Kid + ".json"));
                removed.Add(stored[i].Kid);
            }
        }

        LogKeyRotated(_logger, kid, activatesAt, removed.Count);
        await ReloadAsync(force: true, ct);
        return new RotationResult(kid, activatesAt, removed);
    }

    private async Task<KeySet> ReloadAsync(bool force, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            var now = _time.GetUtcNow();
            var fingerprint = Fingerprint();
            var current = _snapshot;
            if (!force && current is not null && current.Fingerprint == fingerprint && now - current.LoadedAt < MaxSnapshotAge)
            {
                Volatile.Write(ref _snapshot, current with { CheckedAt = now });
                return current.Keys;
            }

            var stored = await ReadAllAsync(ct);
            if (stored.Count == 0)
            {
                // First start: the first key signs at once, there is nobody to publish it to in advance.
                PrepareDirectory();
                await WriteKeyAsync(now, ct);
                stored = await ReadAllAsync(ct);
                fingerprint = Fingerprint();
            }

            var keys = new List<SigningKey>();
            for (var i = 0; i < stored.Count; i++)
            {
                var supersededAt = i + 1 < stored.Count ? stored[i + 1].ActivatesAt : (DateTimeOffset?)null;
                if (supersededAt is { } at && at <= now && at + Retention < now)
                {
                    continue;
                }

                keys.Add(KeyMaterial.FromPem(stored[i].Kid, stored[i].PrivateKeyPem, stored[i].ActivatesAt));
            }

            var set = KeyMaterial.SetOf(keys);
            Volatile.Write(ref _snapshot, new Snapshot(set, fingerprint, now, now));
            return set;
        }
        finally
        {
            _gate.Release();
        }
    }

    private void PrepareDirectory()
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(KeyDirectory);
            return;
        }

        Directory.CreateDirectory(KeyDirectory, OwnerOnlyDirectory);
        // An existing directory keeps its mode on CreateDirectory; private keys live here.
        File.SetUnixFileMode(KeyDirectory, OwnerOnlyDirectory);
    }

    private string[] ListKeyFiles() =>
        Directory.Exists(KeyDirectory) ? Directory.GetFiles(KeyDirectory, "*.json") : [];

    private string Fingerprint() =>
        string.Join('|', ListKeyFiles().Order(StringComparer.Ordinal).Select(f => f + ":" + File.GetLastWriteTimeUtc(f).Ticks));

    private async Task<string> WriteKeyAsync(DateTimeOffset activatesAt, CancellationToken ct)
    {
        var kid = "es-" + _time.GetUtcNow().ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture)
            + "-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4));
        var file = new StoredKey
        {
            Kid = kid,
            CreatedAt = _time.GetUtcNow(),
            ActivatesAt = activatesAt,
            PrivateKeyPem = KeyMaterial.NewPrivateKeyPem(),
        };
        var path = Path.Combine(KeyDirectory, kid + ".json");
        var temp = path + ".tmp";
        var streamOptions = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            streamOptions.UnixCreateMode = OwnerOnlyFile;
        }

        await using (var stream = new FileStream(temp, streamOptions))
        {
            await JsonSerializer.SerializeAsync(stream, file, StoredKeyJson.Default.StoredKey, ct);
        }

        // Rename is atomic, so a server reloading concurrently never reads half a key.
        File.Move(temp, path);
        LogKeyCreated(_logger, kid, activatesAt);
        return kid;
    }

    private async Task<List<StoredKey>> ReadAllAsync(CancellationToken ct)
    {
        var result = new List<StoredKey>();
        foreach (var path in ListKeyFiles())
        {
            try
            {
                await using var stream = File.OpenRead(path);
                var key = await JsonSerializer.DeserializeAsync(stream, StoredKeyJson.Default.StoredKey, ct);
                if (key is { Kid.Length: > 0, PrivateKeyPem.Length: > 0 })
                {
                    result.Add(key);
                }
            }
            catch (Exception ex) when (ex is JsonException or IOException or UnauthorizedAccessException)
            {
                LogUnreadableKey(_logger, Path.GetFileName(path), ex.GetType().Name);
            }
        }

        result.Sort((a, b) => a.ActivatesAt != b.ActivatesAt ? a.ActivatesAt.CompareTo(b.ActivatesAt) : string.CompareOrdinal(a.Kid, b.Kid));
        return result;
    }

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Created signing key {KeyId}, signing from {ActivatesAt:o}")]
    private static partial void LogKeyCreated(ILogger logger, string keyId, DateTimeOffset activatesAt);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Information, Message = "Rotated signing keys: new key {KeyId} signs from {ActivatesAt:o}; {RemovedCount} expired keys removed")]
    private static partial void LogKeyRotated(ILogger logger, string keyId, DateTimeOffset activatesAt, int removedCount);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Warning, Message = "Skipped unreadable key file {FileName} ({ErrorType})")]
    private static partial void LogUnreadableKey(ILogger logger, string fileName, string errorType);

    private sealed record Snapshot(KeySet Keys, string Fingerprint, DateTimeOffset LoadedAt, DateTimeOffset CheckedAt);
}

internal sealed record RotationResult(string KeyId, DateTimeOffset ActivatesAt, IReadOnlyList<string> RemovedKeyIds);

internal sealed class StoredKey
{
    public string Kid { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset ActivatesAt { get; set; }
    public string PrivateKeyPem { get; set; } = "";
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(StoredKey))]
internal sealed partial class StoredKeyJson : JsonSerializerContext;
