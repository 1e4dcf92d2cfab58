using System.ComponentModel.DataAnnotations;

namespace Apex.Chat.Datasets;

/// <summary>Section <c>Datasets</c>.</summary>
public sealed class DatasetsOptions
{
    public const string Section = "Datasets";

    /// <summary>50 MB: a month of a busy service's usage export as CSV.</summary>
    public const long DefaultMaxUploadBytes = 50L * 1024 * 1024;

    /// <summary>Largest accepted file (multipart) or JSON body, in bytes; larger uploads get 413.</summary>
    [Range(1024, 2L * 1024 * 1024 * 1024, ErrorMessage = "Datasets:MaxUploadBytes must be between 1024 and 2147483648.")]
    public long MaxUploadBytes { get; set; } = DefaultMaxUploadBytes;
}

internal static class DatasetLimits
{
    public const int MaxNameLength = 200;
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 200;

    /// <summary>Room for multipart boundaries and headers on top of the file itself.</summary>
    public const long MultipartOverheadBytes = 64 * 1024;

    /// <summary>
    /// A gzip upload may inflate to this many times Datasets:MaxUploadBytes: CSV exports compress about
    /// 5-10x, and the cap keeps a gzip bomb from filling memory with rows.
    /// </summary>
    public const long DecompressedFactor = 20;
}
