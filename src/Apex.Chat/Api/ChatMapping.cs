using System.Text.Json;
using Apex.Chat.Data;

namespace Apex.Chat.Api;

internal static class ChatMapping
{
    public static ThreadResponse ToResponse(this ChatThread t) => new()
    {
        Id = t.Id,
        Title = t.Title,
        CreatedAt = t.CreatedAt,
        UpdatedAt = t.UpdatedAt,
        Archived = t.Archived,
        LastRunStatus = t.LastRunStatus,
    };

    public static MessageResponse ToResponse(this ChatMessage m) => new()
    {
        Id = m.Id,
        Role = m.Role,
        Content = m.Content,
        RunId = m.RunId,
        DatasetId = m.DatasetId,
        CreatedAt = m.CreatedAt,
    };

    public static RunResponse ToResponse(this ChatRun r) => new()
    {
        Id = r.Id,
        ThreadId = r.ThreadId,
        Status = r.Status,
        CreatedAt = r.CreatedAt,
        StartedAt = r.StartedAt,
        FinishedAt = r.FinishedAt,
        DatasetId = r.DatasetId,
        Report = r.Report is null ? null : ParseElement(r.Report),
        Error = r.ErrorCode is null ? null : new RunErrorResponse(r.ErrorCode, r.ErrorMessage ?? r.ErrorCode),
    };

    public static JsonElement ParseElement(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.Clone();
    }
}
