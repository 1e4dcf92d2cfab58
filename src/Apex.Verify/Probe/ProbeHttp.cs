using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Apex.Verify.Probe;

/// <summary>One HTTP exchange as observed: status, headers, body text and its JSON when it parses.</summary>
internal sealed class ProbeResponse
{
    private readonly Lazy<JsonElement?> _json;

    public ProbeResponse(HttpMethod method, Uri uri, HttpResponseMessage response, string body, TimeSpan elapsed)
    {
        Method = method;
        Uri = uri;
        Status = (int)response.StatusCode;
        Headers = response.Headers;
        ContentHeaders = response.Content.Headers;
        Body = body;
        Elapsed = elapsed;
        _json = new Lazy<JsonElement?>(() => Probe.Json.TryParse(body));
    }

    public HttpMethod Method { get; }
    public Uri Uri { get; }
    public int Status { get; }
    public HttpResponseHeaders Headers { get; }
    public HttpContentHeaders ContentHeaders { get; }
    public string Body { get; }
    public TimeSpan Elapsed { get; }
    public JsonElement? Json => _json.Value;
    public string? MediaType => ContentHeaders.ContentType?.MediaType;

    public string? Header(string name)
    {
        if (Headers.TryGetValues(name, out var values) || ContentHeaders.TryGetValues(name, out values))
        {
            return string.Join(", ", values);
        }

        return null;
    }

    /// <summary>"GET /auth/me -> 401" for details.</summary>
    public string Describe() => $"{Method} {Uri.PathAndQuery} -> {Status}";

    /// <summary>A short, secret-free excerpt of a problem body for failure details.</summary>
    public string ProblemSummary()
    {
        var json = Json;
        var title = json.Str("title");
        var detail = json.Str("detail");
        var text = string.Join(": ", new[] { title, detail }.Where(s => !string.IsNullOrEmpty(s)));
        if (text.Length == 0)
        {
            text = Body.Length > 120 ? Body[..120] + "…" : Body;
        }

        return text.ReplaceLineEndings(" ");
    }

    /// <summary>Fails the check unless the status is one of <paramref name="expected"/>.</summary>
    public ProbeResponse Expect(params int[] expected)
    {
        if (!expected.Contains(Status))
        {
            var summary = ProblemSummary();
            throw new CheckFailedException(
                $"{Describe()}, expected {string.Join(" or ", expected)}" + (summary.Length > 0 ? $" ({summary})" : string.Empty));
        }

        return this;
    }

    /// <summary>Fails the check unless the body is a JSON object.</summary>
    public JsonElement ExpectJsonObject()
    {
        if (Json is not { ValueKind: JsonValueKind.Object } obj)
        {
            throw new CheckFailedException($"{Describe()}: body is not a JSON object ({MediaType ?? "no content type"})");
        }

        return obj;
    }

    /// <summary>Fails unless the body is RFC 7807 problem JSON carrying the response's status.</summary>
    public void ExpectProblem()
    {
        var obj = Json;
        if (obj is not { ValueKind: JsonValueKind.Object } || obj.Long("status") != Status || obj.Str("title") is null)
        {
            throw new CheckFailedException($"{Describe()}: body is not problem JSON with title and status {Status} ({MediaType ?? "no content type"})");
        }
    }
}

/// <summary>The HTTP side of the probe: no redirects followed, a timeout on every request.</summary>
internal sealed class ProbeHttp : IDisposable
{
    private readonly HttpClient _client;
    private readonly TimeSpan _timeout;

    public ProbeHttp(TimeSpan timeout)
    {
        _timeout = timeout;
        _client = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            ConnectTimeout = timeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            AutomaticDecompression = DecompressionMethods.All,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("apex-verify", typeof(ProbeHttp).Assembly.GetName().Version?.ToString(3) ?? "0"));
    }

    public Task<ProbeResponse> GetAsync(Uri uri, string? bearer, CancellationToken ct, IEnumerable<KeyValuePair<string, string>>? headers = null) =>
        SendAsync(HttpMethod.Get, uri, bearer, null, ct, headers);

    /// <param name="body">Serialised as snake_case JSON, or sent as is when a string.</param>
    public Task<ProbeResponse> PostAsync(Uri uri, string? bearer, object? body, CancellationToken ct) =>
        SendAsync(HttpMethod.Post, uri, bearer, body, ct);

    public async Task<ProbeResponse> SendAsync(
        HttpMethod method, Uri uri, string? bearer, object? body, CancellationToken ct, IEnumerable<KeyValuePair<string, string>>? headers = null)
    {
        using var request = new HttpRequestMessage(method, uri);
        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        if (body is not null)
        {
            var text = body as string ?? Json.Serialize(body);
            request.Content = new StringContent(text, Encoding.UTF8, "application/json");
        }

        foreach (var (name, value) in headers ?? [])
        {
            if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                request.Content ??= new ByteArrayContent([]);
                request.Content.Headers.TryAddWithoutValidation(name, value);
            }
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_timeout);
        var stopwatch = Stopwatch.StartNew();
        try
        {
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseContentRead, timeout.Token);
            var text = await response.Content.ReadAsStringAsync(timeout.Token);
            return new ProbeResponse(method, uri, response, text, stopwatch.Elapsed);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new CheckFailedException($"{method} {uri}: no answer within {_timeout.TotalSeconds:0.#} s");
        }
        catch (HttpRequestException ex)
        {
            throw new ProbeConnectionException(uri, ex);
        }
    }

    public void Dispose() => _client.Dispose();
}

/// <summary>A service did not accept the connection at all (refused, unknown host, TLS failure).</summary>
internal sealed class ProbeConnectionException(Uri uri, Exception inner)
    : Exception($"cannot connect to {uri.GetLeftPart(UriPartial.Authority)}: {Describe(inner)}", inner)
{
    public Uri Uri { get; } = uri;

    private static string Describe(Exception ex) =>
        ex.InnerException is { } inner && !string.IsNullOrEmpty(inner.Message) ? inner.Message : ex.Message;
}
