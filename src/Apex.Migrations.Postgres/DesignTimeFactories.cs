using Apex.Auth.Data;
using Apex.Chat.Data;
using Apex.Chat.Datasets;
using Apex.Hosting;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Apex.Migrations.Postgres;

/// <summary>
/// PostgreSQL migrations of every module's context live in this assembly (the SQLite ones stay in
/// each module). <c>dotnet ef migrations add</c> runs with this project as startup and migrations
/// project, and these factories give it the PostgreSQL model; no server is needed to generate.
/// </summary>
internal static class PostgresDesignTime
{
    public static DbContextOptions<TContext> Options<TContext>()
        where TContext : DbContext
    {
        var builder = new DbContextOptionsBuilder<TContext>();
        Database.Configure(builder, new ApexOptions(),
            new DatabaseOptions { Provider = DatabaseProvider.Postgres, ConnectionString = "Host=127.0.0.1;Database=apex_design" },
            Database.HistoryTable<TContext>());
        return builder.Options;
    }
}

internal sealed class AuthContextFactory : IDesignTimeDbContextFactory<AuthDbContext>
{
    public AuthDbContext CreateDbContext(string[] args) => new(PostgresDesignTime.Options<AuthDbContext>());
}

internal sealed class ChatContextFactory : IDesignTimeDbContextFactory<ChatDbContext>
{
    public ChatDbContext CreateDbContext(string[] args) => new(PostgresDesignTime.Options<ChatDbContext>());
}

internal sealed class DatasetsContextFactory : IDesignTimeDbContextFactory<DatasetsDbContext>
{
    public DatasetsDbContext CreateDbContext(string[] args) => new(PostgresDesignTime.Options<DatasetsDbContext>());
}
