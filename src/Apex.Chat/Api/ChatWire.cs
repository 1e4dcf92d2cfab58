using System.Text.Json;
using System.Text.Json.Serialization;

namespace Apex.Chat.Api;

public sealed record ThreadResponse
{
    public required string Id { get; init; }
    public required string Title { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
    public required bool Archived { get; init; }
    public string? LastRunStatus { get; init; }
}

public sealed record MessageResponse
{
    public required string Id { get; init; }
    public required string Role { get; init; }
    public required string Content { get; init; }
    public string? RunId { get; init; }
    public string? DatasetId { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
}

public sealed record RunResponse
{
    public required string Id { get; init; }
    public required string ThreadId { get; init; }
    public required string Status { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    public string? DatasetId { get; init; }
    public JsonElement? Report { get; init; }
    public RunErrorResponse? Error { get; init; }
}

public sealed record RunErrorResponse(string Code, string Message);

public sealed record PageResponse<T>(IReadOnlyList<T> Items,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? NextCursor);

public sealed record PostMessageResponse(MessageResponse Message, RunResponse Run);

public sealed record CreateThreadRequest(string? Title);

public sealed record UpdateThreadRequest(string? Title, bool? Archived);

public sealed record PostMessageRequest(string? Content, string? DatasetId);
