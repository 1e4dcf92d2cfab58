using System.Net.Http.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace Apex.Auth.Keys;

/// <summary>
/// API role: the auth node's public keys, fetched from <see cref="AuthOptions.JwksUrl"/>, cached for
/// <see cref="AuthOptions.JwksRefreshSeconds"/> and fetched again early when a token names an
/// unknown <c>kid</c> (at most once per <see cref="UnknownKidCooldown"/>, so forged kids cannot
/// turn this node into a load generator against the auth node).
/// </summary>
internal sealed partial class JwksKeySource(
    IHttpClientFactory httpClients,
    IOptions<AuthOptions> options,
    TimeProvider time,
    ILogger<JwksKeySource> logger) : ISigningKeySource, IDisposable
{
    public const string HttpClientName = "apex-jwks";
    private static readonly TimeSpan UnknownKidCooldown = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan RetryAfterFailure = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private KeySet? _keys;
    private DateTimeOffset _nextRefresh;
    private DateTimeOffset _lastFetch;

    public bool CanRefresh => true;

    public ValueTask<KeySet> GetAsync(CancellationToken ct)
    {
        var keys = Volatile.Read(ref _keys);
        if (keys is not null && time.GetUtcNow() < _nextRefresh)
        {
            return ValueTask.FromResult(keys);
        }

        return new ValueTask<KeySet>(FetchAsync(onlyIfCooledDown: false, ct));
    }

    public async ValueTask<KeySet> RefreshAsync(CancellationToken ct) => await FetchAsync(onlyIfCooledDown: true, ct);

    public void Dispose() => _gate.Dispose();

    private async Task<KeySet> FetchAsync(bool onlyIfCooledDown, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            var now = time.GetUtcNow();
            var current = _keys;
            if (current is not null && (onlyIfCooledDown ? now - _lastFetch < UnknownKidCooldown : now < _nextRefresh))
            {
                return current;
            }

            _lastFetch = now;
            var url = options.Value.JwksUrl!;
            try
            {
                var client = httpClients.CreateClient(HttpClientName);
                var json = await client.GetStringAsync(new Uri(url), ct);
                var set = new JsonWebKeySet(json);
                var keys = set.Keys.Select(KeyMaterial.FromPublicJwk).OfType<SigningKey>().ToList();
                var result = KeyMaterial.SetOf(keys);
                Volatile.Write(ref _keys, result);
                _nextRefresh = now + TimeSpan.FromSeconds(options.Value.JwksRefreshSeconds);
                LogFetched(logger, keys.Count);
                return result;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or ArgumentException or FormatException)
            {
                LogFetchFailed(logger, ex.GetType().Name);
                _nextRefresh = now + RetryAfterFailure;
                // Keep validating with the keys we had: an auth node restart must not log everyone out.
                return current ?? KeyMaterial.SetOf([]);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    [LoggerMessage(EventId = 1111, Level = LogLevel.Information, Message = "Fetched the auth node's JWKS: {KeyCount} signing keys")]
    private static partial void LogFetched(ILogger logger, int keyCount);

    [LoggerMessage(EventId = 1112, Level = LogLevel.Warning, Message = "Could not fetch the auth node's JWKS ({ErrorType}); keeping the cached keys")]
    private static partial void LogFetchFailed(ILogger logger, string errorType);
}
