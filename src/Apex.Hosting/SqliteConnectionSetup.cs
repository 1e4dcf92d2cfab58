using System.Collections.Concurrent;
using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Diagnostics;
using SQLitePCL;

namespace Apex.Hosting;

/// <summary>
/// Prepares every SQLite connection Apex opens. The database file is put in write-ahead-log mode
/// (the mode is stored in the file, so this is done once per file), so readers never block a
/// writer's commit and a writer never blocks readers. Each connection gets SQLite's own busy
/// timeout: a write that meets another connection's lock waits for it inside SQLite, at every step
/// of the statement including the commit of an implicit transaction, instead of failing with
/// "database is locked" (the provider's own retry covers only a statement's first step, not the
/// end of an <c>INSERT … RETURNING</c>).
/// </summary>
internal sealed class SqliteConnectionSetup : DbConnectionInterceptor
{
    private static readonly ConcurrentDictionary<string, bool> WalFiles = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<int, SqliteConnectionSetup> Instances = new();
    private readonly int _busyTimeoutMs;

    private SqliteConnectionSetup(int busyTimeoutSeconds) =>
        _busyTimeoutMs = (int)Math.Min(busyTimeoutSeconds * 1000L, int.MaxValue);

    /// <summary>One interceptor per timeout, shared by every context.</summary>
    public static SqliteConnectionSetup For(int busyTimeoutSeconds) =>
        Instances.GetOrAdd(busyTimeoutSeconds, static s => new SqliteConnectionSetup(s));

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        SetBusyTimeout(connection);
        if (NeedsWal(connection))
        {
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA journal_mode = WAL;";
            Switched(connection, command.ExecuteScalar());
        }
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        SetBusyTimeout(connection);
        if (NeedsWal(connection))
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA journal_mode = WAL;";
            Switched(connection, await command.ExecuteScalarAsync(cancellationToken));
        }
    }

    // Every open of a pooled connection passes here (EF Core opens and closes around each query), so
    // the timeout is set by one call into SQLite instead of preparing and running a PRAGMA each time.
    private void SetBusyTimeout(DbConnection connection)
    {
        if (connection is SqliteConnection { Handle: { } handle })
        {
            SqliteException.ThrowExceptionForRC(raw.sqlite3_busy_timeout(handle, _busyTimeoutMs), handle);
            return;
        }

        using var command = connection.CreateCommand();
        command.CommandText = $"PRAGMA busy_timeout = {_busyTimeoutMs};";
        command.ExecuteNonQuery();
    }

    // An in-memory database has no log to switch, and a read-only connection (EF Core's existence
    // check opens one before the file is created) may not switch it.
    private static bool NeedsWal(DbConnection connection) =>
        connection.DataSource is { Length: > 0 } file && file != ":memory:" && !WalFiles.ContainsKey(file)
        && new SqliteConnectionStringBuilder(connection.ConnectionString).Mode is not SqliteOpenMode.ReadOnly;

    // The switch answers the mode now in force; it stays "delete" while another connection holds
    // the file, so a later connection tries again.
    private static void Switched(DbConnection connection, object? mode)
    {
        if (string.Equals(mode as string, "wal", StringComparison.OrdinalIgnoreCase))
        {
            WalFiles[connection.DataSource] = true;
        }
    }
}
