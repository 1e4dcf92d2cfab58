namespace Apex.Agents.Data;

/// <summary>
/// Read access to a user's stored usage datasets, for the agent and for the chat module (which checks
/// that a message's <c>dataset_id</c> is the caller's). Every call is scoped to the owner: another
/// user's dataset id behaves exactly like one that does not exist.
/// </summary>
public interface IUsageDataSource
{
    Task<bool> ExistsAsync(string userId, string datasetId, CancellationToken ct);
}
