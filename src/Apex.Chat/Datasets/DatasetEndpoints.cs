using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using Apex.Agents.Catalog;
using Apex.Agents.Data;
using Apex.Agents.Data.Import;
using Apex.Auth;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Apex.Chat.Datasets;

/// <summary>The dataset wire shape of docs/spec/rest-api.md ("Usage datasets").</summary>
public sealed record DatasetResponse
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required int Rows { get; init; }
    public required IReadOnlyList<string> Columns { get; init; }
    public DateTimeOffset? PeriodStart { get; init; }
    public DateTimeOffset? PeriodEnd { get; init; }
    public required IReadOnlyList<string> Warnings { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>The recognised export format's stable id (docs/spec/usage-imports.md).</summary>
    public required string SourceFormat { get; init; }
    public required string SourceFormatName { get; init; }

    /// <summary>Calls the rows stand for: request counts of aggregated rows summed.</summary>
    public required long Calls { get; init; }
    public required bool Aggregated { get; init; }
    public required bool CostOnly { get; init; }

    /// <summary><c>upload</c>, or <c>live</c> for a dataset an ingest key feeds.</summary>
    public required string Kind { get; init; }

    internal static DatasetResponse From(UsageDatasetInfo d) => new()
    {
        Id = d.Id, Name = d.Name, Rows = d.Rows, Columns = d.Columns, PeriodStart = d.PeriodStart, PeriodEnd = d.PeriodEnd,
        Warnings = d.Warnings, CreatedAt = d.CreatedAt, SourceFormat = d.SourceFormat, SourceFormatName = d.SourceFormatName,
        Calls = d.Calls, Aggregated = d.Aggregated, CostOnly = d.CostOnly, Kind = d.Kind,
    };
}

public sealed record DatasetPage(IReadOnlyList<DatasetResponse> Items,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? NextCursor);

internal static partial class DatasetEndpoints
{
    public static RouteGroupBuilder MapDatasetRoutes(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/datasets").RequireAuthorization().WithTags("Datasets");
        group.MapPost("/", UploadAsync).DisableAntiforgery();
        group.MapGet("/", ListAsync);
        group.MapGet("/{id}", GetAsync);
        group.MapDelete("/{id}", DeleteAsync);
        return group;
    }

    private static async Task<Results<Created<DatasetResponse>, ProblemHttpResult>> UploadAsync(
        HttpContext http, ClaimsPrincipal user, DatasetStore store, PriceCatalog catalog, TimeProvider time,
        IOptions<DatasetsOptions> options, ILoggerFactory loggers, CancellationToken ct)
    {
        var userId = user.GetUserId();
        var max = options.Value.MaxUploadBytes;
        var request = http.Request;
        var isMultipart = request.HasFormContentType && request.ContentType?.Contains("multipart/form-data", StringComparison.OrdinalIgnoreCase) == true;
        var isJson = request.HasJsonContentType();
        if (!isMultipart && !isJson)
        {
            return Problem(StatusCodes.Status415UnsupportedMediaType, "Unsupported Media Type",
                "Upload a file as multipart/form-data (field 'file', CSV or JSON Lines) or send application/json {name, rows:[...]}.");
        }

        var bodyLimit = isMultipart ? max + DatasetLimits.MultipartOverheadBytes : max;
        if (request.ContentLength > bodyLimit)
        {
            return TooLarge(max);
        }

        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = bodyLimit;
        }

        var importer = new UsageImporter(catalog, time);
        string name;
        UsageParseResult parsed;
        try
        {
            if (isMultipart)
            {
                var form = await request.ReadFormAsync(new FormOptions { MultipartBodyLengthLimit = bodyLimit, ValueLengthLimit = 4096 }, ct);
                var file = form.Files.GetFile("file") ?? (form.Files.Count > 0 ? form.Files[0] : null);
                if (file is null)
                {
                    return Validation("file", "Attach the usage export as the form field 'file'.");
                }

                if (file.Length > max)
                {
                    return TooLarge(max);
                }

                name = NameOf(form["name"].ToString(), file.FileName);
                if (file.Length == 0)
                {
                    return Unprocessable("The file is empty: it needs a header row and at least one usage row.", []);
                }

                if (!TryMapping(form["mapping"].ToString(), out var mapping, out var mappingError))
                {
                    return Validation("mapping", mappingError);
                }

                await using var stream = file.OpenReadStream();
                // A compressed export may inflate to DecompressedFactor times the upload limit, no more.
                parsed = await Task.Run(() => importer.ImportAsync(stream, mapping, ct, max * DatasetLimits.DecompressedFactor), ct);
            }
            else
            {
                using var doc = await JsonDocument.ParseAsync(request.Body, default, ct);
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("rows", out var rows) || rows.ValueKind != JsonValueKind.Array)
                {
                    return Validation("rows", "The body must be {\"name\": \"...\", \"rows\": [ {...}, ... ]}.");
                }

                name = NameOf(root.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null, null);
                var mappingText = root.TryGetProperty("mapping", out var m) && m.ValueKind != JsonValueKind.Null ? m.GetRawText() : null;
                if (!TryMapping(mappingText, out var mapping, out var mappingError))
                {
                    return Validation("mapping", mappingError);
                }

                parsed = await Task.Run(() => importer.ImportRows(rows, mapping, ct), ct);
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TooLarge(max);
        }
        catch (DecompressedTooLargeException e)
        {
            return Problem(StatusCodes.Status413PayloadTooLarge, "Payload Too Large",
                $"The compressed upload inflates beyond {e.Limit:N0} bytes ({DatasetLimits.DecompressedFactor} x Datasets:MaxUploadBytes): split the export by period.", "payload_too_large");
        }
        catch (InvalidDataException e) when (e.Message.Contains("limit", StringComparison.OrdinalIgnoreCase))
        {
            // The form reader's MultipartBodyLengthLimit.
            return TooLarge(max);
        }
        catch (InvalidDataException)
        {
            return Problem(StatusCodes.Status400BadRequest, "Bad Request", "The multipart body is malformed.");
        }
        catch (BadHttpRequestException)
        {
            // The client sent less than its Content-Length and closed: nothing was read completely, nothing is stored.
            return Problem(StatusCodes.Status400BadRequest, "Bad Request", "The request body ended before it was complete.", "incomplete_body");
        }
        catch (IOException) when (!ct.IsCancellationRequested)
        {
            // A multipart body without its closing boundary ("Unexpected end of Stream").
            return Problem(StatusCodes.Status400BadRequest, "Bad Request", "The multipart body ended before its closing boundary: the upload is incomplete.", "incomplete_body");
        }
        catch (JsonException)
        {
            return Problem(StatusCodes.Status400BadRequest, "Bad Request", "The body is not valid JSON.");
        }

        if (parsed.Error is not null)
        {
            return parsed.ErrorCode switch
            {
                "unrecognized_format" => UnrecognizedFormat(parsed),
                "no_token_counts" => NoTokenCounts(parsed),
                _ => Unprocessable(parsed.Error, parsed.Warnings),
            };
        }

        var info = await store.SaveAsync(userId, name, parsed, ct);
        var logger = loggers.CreateLogger("Apex.Chat.Datasets");
        Log.Uploaded(logger, info.Id, info.Rows, parsed.Warnings.Count);
        return TypedResults.Created($"/api/datasets/{info.Id}", DatasetResponse.From(info));
    }

    private static async Task<Results<Ok<DatasetPage>, ProblemHttpResult>> ListAsync(
        ClaimsPrincipal user, DatasetStore store, string? limit, string? cursor, CancellationToken ct)
    {
        var size = DatasetLimits.DefaultPageSize;
        if (!string.IsNullOrEmpty(limit))
        {
            if (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out size) || size < 1)
            {
                return Validation("limit", $"limit must be an integer between 1 and {DatasetLimits.MaxPageSize}.");
            }

            size = Math.Min(size, DatasetLimits.MaxPageSize);
        }

        if (cursor is not null && !Apex.Contracts.ApexIds.HasPrefix(cursor, Apex.Contracts.ApexIds.Dataset))
        {
            return Validation("cursor", "cursor is not a cursor returned by this API.");
        }

        var (items, next) = await store.ListAsync(user.GetUserId(), size, cursor, ct);
        return TypedResults.Ok(new DatasetPage([.. items.Select(DatasetResponse.From)], next));
    }

    private static async Task<Results<Ok<DatasetResponse>, ProblemHttpResult>> GetAsync(string id, ClaimsPrincipal user, DatasetStore store, CancellationToken ct)
    {
        var info = await store.GetInfoAsync(user.GetUserId(), id, ct);
        return info is null ? NotFound() : TypedResults.Ok(DatasetResponse.From(info));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(string id, ClaimsPrincipal user, DatasetStore store, CancellationToken ct) =>
        await store.DeleteAsync(user.GetUserId(), id, ct) ? TypedResults.NoContent() : NotFound();

    /// <summary>The optional <c>mapping</c>: a JSON object from Apex field to the file's column name.</summary>
    private static bool TryMapping(string? text, out IReadOnlyDictionary<string, string>? mapping, out string error)
    {
        mapping = null;
        error = string.Empty;
        if (string.IsNullOrWhiteSpace(text))
        {
            return true;
        }

        try
        {
            var parsed = JsonSerializer.Deserialize<Dictionary<string, string>>(text);
            if (parsed is null || parsed.Count == 0)
            {
                error = "mapping must be a JSON object from Apex field to column name, e.g. {\"timestamp\":\"Date\",\"model\":\"Model\"}.";
                return false;
            }

            mapping = parsed.Where(p => !string.IsNullOrWhiteSpace(p.Value)).ToDictionary(p => p.Key.Trim().ToLowerInvariant(), p => p.Value.Trim());
            return true;
        }
        catch (JsonException)
        {
            error = "mapping must be a JSON object of strings from Apex field to column name, e.g. {\"timestamp\":\"Date\",\"model\":\"Model\"}.";
            return false;
        }
    }

    private static string NameOf(string? given, string? fileName)
    {
        var name = !string.IsNullOrWhiteSpace(given) ? given.Trim()
            : !string.IsNullOrWhiteSpace(fileName) ? Path.GetFileName(fileName.Replace('\\', '/'))
            : "usage";
        return name.Length > DatasetLimits.MaxNameLength ? name[..DatasetLimits.MaxNameLength] : name;
    }

    private static ProblemHttpResult NotFound()
    {
        var problem = new ProblemDetails
        {
            Status = StatusCodes.Status404NotFound,
            Title = "Not Found",
            Type = "https://tools.ietf.org/html/rfc9110#section-15.5.5",
            Detail = "Dataset not found.",
        };
        problem.Extensions["code"] = "not_found";
        return TypedResults.Problem(problem);
    }

    private static ProblemHttpResult TooLarge(long max) =>
        Problem(StatusCodes.Status413PayloadTooLarge, "Payload Too Large",
            $"The upload is larger than {max:N0} bytes (Datasets:MaxUploadBytes).", "payload_too_large");

    private static ProblemHttpResult Unprocessable(string detail, IReadOnlyList<string> warnings)
    {
        var problem = new HttpValidationProblemDetails(new Dictionary<string, string[]> { ["file"] = [detail] })
        {
            Status = StatusCodes.Status422UnprocessableEntity,
            Title = "The upload has no usable usage rows.",
            Type = "https://tools.ietf.org/html/rfc4918#section-11.2",
            Detail = detail,
        };
        problem.Extensions["code"] = "invalid_dataset";
        problem.Extensions["warnings"] = warnings;
        return TypedResults.Problem(problem);
    }

    private static ProblemHttpResult UnrecognizedFormat(UsageParseResult parsed)
    {
        var problem = new ProblemDetails
        {
            Status = StatusCodes.Status422UnprocessableEntity,
            Title = "The file's format is not recognised.",
            Type = "https://tools.ietf.org/html/rfc4918#section-11.2",
            Detail = parsed.Error,
        };
        problem.Extensions["code"] = "unrecognized_format";
        problem.Extensions["columns_found"] = parsed.Columns;
        problem.Extensions["fields_needed"] = parsed.FieldsNeeded;
        problem.Extensions["fields_optional"] = parsed.FieldsOptional;
        return TypedResults.Problem(problem);
    }

    private static ProblemHttpResult NoTokenCounts(UsageParseResult parsed)
    {
        var problem = new ProblemDetails
        {
            Status = StatusCodes.Status422UnprocessableEntity,
            Title = "The file has no token counts.",
            Type = "https://tools.ietf.org/html/rfc4918#section-11.2",
            Detail = parsed.Error,
        };
        problem.Extensions["code"] = "no_token_counts";
        problem.Extensions["source_format"] = parsed.SourceFormat;
        problem.Extensions["source_format_name"] = parsed.SourceFormatName;
        return TypedResults.Problem(problem);
    }

    private static ProblemHttpResult Validation(string field, string message) =>
        TypedResults.Problem(new HttpValidationProblemDetails(new Dictionary<string, string[]> { [field] = [message] })
        {
            Status = StatusCodes.Status422UnprocessableEntity,
            Title = "The request is invalid.",
            Type = "https://tools.ietf.org/html/rfc4918#section-11.2",
            Detail = message,
        });

    private static ProblemHttpResult Problem(int status, string title, string detail, string? code = null)
    {
        var problem = new ProblemDetails { Status = status, Title = title, Detail = detail };
        if (code is not null)
        {
            problem.Extensions["code"] = code;
        }

        return TypedResults.Problem(problem);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4201, Level = LogLevel.Information, Message = "Dataset {DatasetId} stored: {Rows} rows, {Warnings} warnings")]
        public static partial void Uploaded(ILogger logger, string datasetId, int rows, int warnings);
    }
}
