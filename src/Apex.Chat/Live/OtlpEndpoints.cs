using System.Buffers;
using System.Globalization;
using System.IO.Compression;
using System.Threading.RateLimiting;
using Apex.Agents.Catalog;
using Apex.Agents.Data.Import;
using Google.Protobuf;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry.Proto.Collector.Trace.V1;
using Prometheus;

namespace Apex.Chat.Live;

/// <summary>
/// <c>POST /v1/traces</c>, the OTLP/HTTP trace receiver (OTLP specification, "OTLP/HTTP"): the answer is in
/// the request's encoding, errors carry a google.rpc.Status, 429 says when to retry. The key is checked
/// before anything about the body, so an unknown caller learns nothing but 401.
/// </summary>
internal static partial class OtlpEndpoints
{
    public const string Path = "/v1/traces";
    private const string Protobuf = "application/x-protobuf";
    private const string Json = "application/json";

    private static readonly Counter Spans = Metrics.CreateCounter(
        "apex_otlp_spans_total", "Spans received on /v1/traces: stored (GenAI usage rows), ignored (no GenAI usage), rejected (GenAI spans refused).",
        new CounterConfiguration { LabelNames = ["outcome"] });

    private static readonly Counter Requests = Metrics.CreateCounter(
        "apex_otlp_requests_total", "OTLP export requests by HTTP status.", new CounterConfiguration { LabelNames = ["status"] });

    public static IEndpointRouteBuilder MapOtlpRoutes(this IEndpointRouteBuilder endpoints)
    {
        foreach (var outcome in new[] { "stored", "ignored", "rejected" })
        {
            Spans.WithLabels(outcome);
        }

        // The body is read here under Live:MaxRequestBytes, not under the API's small default limit.
        endpoints.MapPost(Path, HandleAsync).AllowAnonymous().DisableAntiforgery()
            .WithMetadata(new Apex.Hosting.Http.RequestSizeLimit(null)).WithTags("Live usage").ExcludeFromDescription();
        return endpoints;
    }

    private static async Task HandleAsync(HttpContext http, IngestKeyStore keys, LiveUsageStore store, BudgetEvaluator budgets, PriceCatalog catalog,
        TimeProvider time, IOptions<LiveOptions> options, OtlpRateLimiter limiter, ILoggerFactory loggers, CancellationToken ct)
    {
        var request = http.Request;
        var mediaType = request.ContentType?.Split(';', 2)[0].Trim();
        var json = string.Equals(mediaType, Json, StringComparison.OrdinalIgnoreCase);
        var protobuf = string.Equals(mediaType, Protobuf, StringComparison.OrdinalIgnoreCase);
        var caller = KeyOf(request) is { } key ? await keys.AuthenticateAsync(key, ct) : null;
        if (caller is null)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
            await ErrorAsync(http, json || !protobuf, StatusCodes.Status401Unauthorized, 16, "A valid ingest key is required (Authorization: Bearer apx_ik_…).");
            return;
        }

        if (!json && !protobuf)
        {
            await ErrorAsync(http, true, StatusCodes.Status415UnsupportedMediaType, 3, "Send application/x-protobuf or application/json (OTLP/HTTP).");
            return;
        }

        using var lease = limiter.Acquire(caller.KeyId);
        if (!lease.IsAcquired)
        {
            var wait = lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromSeconds(1);
            http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
            await ErrorAsync(http, json, StatusCodes.Status429TooManyRequests, 8, "Too many export requests for this ingest key; retry after the Retry-After seconds.");
            return;
        }

        var max = options.Value.MaxRequestBytes;
        byte[] body;
        int length;
        try
        {
            (body, length) = await ReadBodyAsync(http, max, ct);
        }
        catch (BodyTooLargeException)
        {
            await ErrorAsync(http, json, StatusCodes.Status413PayloadTooLarge, 8, $"The export is larger than {max:N0} bytes (Live:MaxRequestBytes); send smaller batches.");
            return;
        }
        catch (InvalidDataException)
        {
            await ErrorAsync(http, json, StatusCodes.Status400BadRequest, 3, "Content-Encoding is gzip but the body cannot be decompressed.");
            return;
        }
        catch (BadHttpRequestException)
        {
            await ErrorAsync(http, json, StatusCodes.Status400BadRequest, 3, "The request body ended before it was complete.");
            return;
        }
        catch (UnsupportedEncodingException e)
        {
            await ErrorAsync(http, json, StatusCodes.Status415UnsupportedMediaType, 3, $"Content-Encoding '{e.Message}' is not supported; send gzip or no encoding.");
            return;
        }

        OtlpBatch batch;
        try
        {
            var span = body.AsSpan(0, length);
            var export = json ? OtlpDecoder.ParseJson(span) : OtlpDecoder.ParseProtobuf(span);
            var reader = OtlpSpans.Reader(Blank(options.Value.FeatureAttribute), Blank(options.Value.PromptHashAttribute));
            batch = new OtlpDecoder(catalog, time, reader).Map(export, ct);
        }
        catch (MalformedOtlpException e)
        {
            await ErrorAsync(http, json, StatusCodes.Status400BadRequest, 3, e.Message);
            return;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body);
        }

        var logger = loggers.CreateLogger("Apex.Chat.Live");
        try
        {
            await store.AppendAsync(caller, batch.Result, batch.Rows, ct);
        }
        catch (LiveDatasetGoneException)
        {
            await ErrorAsync(http, json, StatusCodes.Status401Unauthorized, 16, "The ingest key's live dataset was deleted; create a new key.");
            return;
        }

        Spans.WithLabels("stored").Inc(batch.Result.Rows);
        Spans.WithLabels("ignored").Inc(batch.Ignored);
        Spans.WithLabels("rejected").Inc(batch.Rejected);
        LogBatch(logger, caller.DatasetId, batch.Spans, batch.Result.Rows, batch.Ignored, batch.Rejected);
        if (batch.Result.Rows > 0)
        {
            // Budgets are checked after the rows are stored; an alert is best effort and never fails the export.
            await budgets.EvaluateAsync(caller, batch.Rows, ct);
        }

        var response = new ExportTraceServiceResponse();
        if (batch.Rejected > 0)
        {
            response.PartialSuccess = new ExportTracePartialSuccess { RejectedSpans = batch.Rejected, ErrorMessage = batch.RejectionMessage ?? string.Empty };
        }

        Requests.WithLabels("200").Inc();
        await WriteAsync(http, json, StatusCodes.Status200OK, response);
    }

    private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    /// <summary>The key from <c>Authorization: Bearer</c>, else from <c>x-api-key</c>.</summary>
    private static string? KeyOf(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return authorization["Bearer ".Length..].Trim();
        }

        var apiKey = request.Headers["x-api-key"].ToString().Trim();
        return apiKey.Length > 0 ? apiKey : null;
    }

    /// <summary>
    /// The whole body in a pooled buffer, inflated when gzip; neither the sent bytes nor the inflated
    /// bytes may pass <paramref name="max"/> (a gzip bomb stops at the limit).
    /// </summary>
    private static async Task<(byte[] Buffer, int Length)> ReadBodyAsync(HttpContext http, long max, CancellationToken ct)
    {
        var request = http.Request;
        if (request.ContentLength > max)
        {
            throw new BodyTooLargeException();
        }

        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = max;
        }

        var encoding = request.Headers.ContentEncoding.ToString().Trim();
        Stream source = request.Body;
        if (encoding.Equals("gzip", StringComparison.OrdinalIgnoreCase))
        {
            source = new GZipStream(request.Body, CompressionMode.Decompress, leaveOpen: true);
        }
        else if (encoding.Length > 0 && !encoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
        {
            throw new UnsupportedEncodingException(encoding.Length > 32 ? encoding[..32] : encoding);
        }

        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(max + 1, Math.Max(4096, request.ContentLength ?? 64 * 1024)));
        var length = 0;
        try
        {
            await using (source)
            {
                while (true)
                {
                    if (length == buffer.Length)
                    {
                        if (length > max)
                        {
                            throw new BodyTooLargeException();
                        }

                        var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(max + 1, (long)buffer.Length * 2));
                        buffer.AsSpan(0, length).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }

                    var read = await source.ReadAsync(buffer.AsMemory(length), ct);
                    if (read == 0)
                    {
                        break;
                    }

                    length += read;
                    if (length > max)
                    {
                        throw new BodyTooLargeException();
                    }
                }
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw new BodyTooLargeException();
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }

        return (buffer, length);
    }

    /// <summary>An OTLP error: the HTTP status with a google.rpc.Status (<paramref name="code"/> is its gRPC code) in the request's encoding.</summary>
    private static Task ErrorAsync(HttpContext http, bool json, int status, int code, string message)
    {
        Requests.WithLabels(status.ToString(CultureInfo.InvariantCulture)).Inc();
        return WriteAsync(http, json, status, new Google.Rpc.Status { Code = code, Message = message });
    }

    private static async Task WriteAsync(HttpContext http, bool json, int status, IMessage message)
    {
        http.Response.StatusCode = status;
        if (json)
        {
            http.Response.ContentType = Json;
            await http.Response.WriteAsync(JsonFormatter.Default.Format(message));
        }
        else
        {
            http.Response.ContentType = Protobuf;
            await http.Response.Body.WriteAsync(message.ToByteArray());
        }
    }

    [LoggerMessage(EventId = 4402, Level = LogLevel.Debug, Message = "Live dataset {DatasetId}: {Spans} spans, {Stored} stored, {Ignored} ignored, {Rejected} rejected")]
    private static partial void LogBatch(ILogger logger, string datasetId, int spans, int stored, int ignored, int rejected);

    private sealed class BodyTooLargeException : Exception;

    private sealed class UnsupportedEncodingException(string encoding) : Exception(encoding);
}

/// <summary>
/// The per-key export rate: a token bucket per ingest key (<c>Live:RequestsPerSecond</c> sustained,
/// <c>Live:Burst</c> at once), from ASP.NET Core's rate limiting primitives. It is applied in the
/// handler, after the key is known, so an unknown key gets 401 and never spends another key's tokens.
/// </summary>
internal sealed class OtlpRateLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<string> _limiter;

    public OtlpRateLimiter(IOptions<LiveOptions> options)
    {
        var o = options.Value;
        // Tokens are replenished every 100 ms (or every token when slower) so Retry-After stays short.
        var period = TimeSpan.FromSeconds(Math.Max(0.1, 1 / o.RequestsPerSecond));
        var perPeriod = Math.Max(1, (int)Math.Round(o.RequestsPerSecond * period.TotalSeconds));
        _limiter = PartitionedRateLimiter.Create<string, string>(keyId => RateLimitPartition.GetTokenBucketLimiter(keyId, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = o.Burst,
            TokensPerPeriod = perPeriod,
            ReplenishmentPeriod = period,
            QueueLimit = 0,
            AutoReplenishment = true,
        }));
    }

    public RateLimitLease Acquire(string keyId) => _limiter.AttemptAcquire(keyId);

    public void Dispose() => _limiter.Dispose();
}
