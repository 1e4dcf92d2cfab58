using NUlid;

namespace Apex.Contracts;

/// <summary>
/// Opaque, time-sortable identifiers with a type prefix (docs/spec/rest-api.md): <c>thr_</c>, <c>msg_</c>,
/// <c>run_</c>, <c>ds_</c>, <c>usr_</c>. The suffix is a ULID, so ids sort by creation time.
/// </summary>
public static class ApexIds
{
    public const string User = "usr";
    public const string Thread = "thr";
    public const string Message = "msg";
    public const string Run = "run";
    public const string Dataset = "ds";
    public const string Connection = "conn";

    public static string New(string prefix) => string.Concat(prefix, "_", Ulid.NewUlid().ToString());

    public static bool HasPrefix(string? id, string prefix) =>
        id is not null && id.Length > prefix.Length + 1 && id.StartsWith(prefix, StringComparison.Ordinal) && id[prefix.Length] == '_';
}
