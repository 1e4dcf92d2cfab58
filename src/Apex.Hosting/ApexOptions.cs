using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;

namespace Apex.Hosting;

/// <summary>Which parts of Apex a process serves (<c>apex serve --role</c>).</summary>
public enum ServerRole
{
    All,
    Auth,
    Api,
}

/// <summary>Reads the role before the options are bound (modules choose their services by it).</summary>
public static class ServerRoles
{
    public static ServerRole Read(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return configuration.GetValue<ServerRole?>($"{ApexOptions.Section}:{nameof(ApexOptions.Role)}") ?? ServerRole.All;
    }
}

/// <summary>Process-wide settings, section <c>Apex</c>.</summary>
public sealed class ApexOptions
{
    public const string Section = "Apex";
    public const string DefaultDataDir = "./data";

    /// <summary>Where the SQLite database, signing keys and other local state live.</summary>
    [Required(AllowEmptyStrings = false)]
    public string DataDir { get; set; } = DefaultDataDir;

    public ServerRole Role { get; set; } = ServerRole.All;

    /// <summary>
    /// The public base URL of this deployment (e.g. https://apex.example.com). Used as the token
    /// issuer and in the public config; when empty the first listening address is used.
    /// </summary>
    public string? PublicUrl { get; set; }

    /// <summary>Browser origins allowed by CORS and by the WebSocket Origin check.</summary>
    public string[] AllowedOrigins { get; set; } = [];

    public string ResolveDataDir() => Path.GetFullPath(DataDir);
}

public enum DatabaseProvider
{
    Sqlite,
    Postgres,
}

/// <summary>Section <c>Database</c>: the embedded SQLite default or PostgreSQL.</summary>
public sealed class DatabaseOptions
{
    public const string Section = "Database";

    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;

    /// <summary>
    /// ADO.NET connection string. Optional for SQLite (defaults to <c>{DataDir}/apex.db</c>),
    /// required for PostgreSQL.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>Seconds a database command may take before it fails with a clear error.</summary>
    [Range(1, 600)]
    public int CommandTimeoutSeconds { get; set; } = 15;
}
