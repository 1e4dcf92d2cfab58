using Npgsql;

namespace Apex.Testing;

/// <summary>
/// A fresh, empty PostgreSQL database for one test server or test class, created on the server
/// named by <c>APEX_TEST_POSTGRES</c> (an Npgsql connection string whose role may create databases)
/// and dropped at dispose.
/// </summary>
public sealed class PostgresTestDatabase : IAsyncDisposable
{
    public const string ServerVariable = "APEX_TEST_POSTGRES";

    private readonly string _adminConnectionString;

    private PostgresTestDatabase(string adminConnectionString, string name, string connectionString)
    {
        _adminConnectionString = adminConnectionString;
        Name = name;
        ConnectionString = connectionString;
    }

    public string Name { get; }

    public string ConnectionString { get; }

    /// <summary>The server's connection string, or null when the PostgreSQL suites are not configured.</summary>
    public static string? ServerConnectionString =>
        Environment.GetEnvironmentVariable(ServerVariable) is { Length: > 0 } value ? value : null;

    public static async Task<PostgresTestDatabase> CreateAsync(string? serverConnectionString = null, CancellationToken ct = default)
    {
        var server = serverConnectionString ?? ServerConnectionString
            ?? throw new InvalidOperationException($"{ServerVariable} is not set: it must name a PostgreSQL server for this test.");
        var name = "apex_test_" + Guid.NewGuid().ToString("N")[..16];
        await using (var connection = new NpgsqlConnection(server))
        {
            await connection.OpenAsync(ct);
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync(ct);
        }

        var builder = new NpgsqlConnectionStringBuilder(server) { Database = name };
        return new PostgresTestDatabase(server, name, builder.ConnectionString);
    }

    /// <summary>A database created earlier by <see cref="CreateAsync"/> (a restarted server's).</summary>
    public static PostgresTestDatabase Attach(string name, string? serverConnectionString = null)
    {
        var server = serverConnectionString ?? ServerConnectionString
            ?? throw new InvalidOperationException($"{ServerVariable} is not set: it must name a PostgreSQL server for this test.");
        return new PostgresTestDatabase(server, name, new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString);
    }

    public async ValueTask DisposeAsync()
    {
        // Pooled connections of the servers that used it would block the drop; FORCE ends them.
        NpgsqlConnection.ClearAllPools();
        try
        {
            await using var connection = new NpgsqlConnection(_adminConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)", connection);
            await command.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException)
        {
            // The server went away (a restart test); the database is a throwaway either way.
        }
    }
}
