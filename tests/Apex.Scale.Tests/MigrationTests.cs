using Apex.Auth.Data;
using Apex.Chat.Data;
using Apex.Chat.Datasets;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Apex.Scale.Tests;

/// <summary>
/// Every module's model is fully described by its migrations on both providers: a model change
/// without a new migration (SQLite in the module, PostgreSQL in Apex.Migrations.Postgres) fails here.
/// </summary>
public sealed class MigrationTests
{
    public static TheoryData<string, string> Contexts => new()
    {
        { "sqlite", nameof(AuthDbContext) },
        { "sqlite", nameof(ChatDbContext) },
        { "sqlite", nameof(DatasetsDbContext) },
        { "postgres", nameof(AuthDbContext) },
        { "postgres", nameof(ChatDbContext) },
        { "postgres", nameof(DatasetsDbContext) },
    };

    [Theory(Timeout = 30_000)]
    [MemberData(nameof(Contexts))]
    public async Task Model_has_no_pending_changes(string provider, string context)
    {
        await using var db = Create(provider, context);
        Assert.NotEmpty(db.Database.GetMigrations());
        Assert.False(db.Database.HasPendingModelChanges(),
            $"{context} on {provider} has model changes without a migration: "
            + (provider == "postgres" ? "run src/Apex.Migrations.Postgres/regenerate.sh" : "add a migration in the module"));
    }

    private static DbContext Create(string provider, string context) => (provider, context) switch
    {
        ("sqlite", nameof(AuthDbContext)) => new AuthDbContextFactory().CreateDbContext([]),
        ("sqlite", nameof(ChatDbContext)) => Factory<ChatDbContext>(typeof(ChatDbContext).Assembly),
        ("sqlite", nameof(DatasetsDbContext)) => new DatasetsDbContextDesignFactory().CreateDbContext([]),
        ("postgres", _) => PostgresFactory(context),
        _ => throw new ArgumentOutOfRangeException(nameof(context)),
    };

    private static DbContext PostgresFactory(string context)
    {
        var assembly = typeof(Apex.Migrations.Postgres.PostgresDesignTime).Assembly;
        var contextType = typeof(ChatDbContext).Assembly.GetType($"Apex.Chat.Data.{context}")
            ?? typeof(DatasetsDbContext).Assembly.GetType($"Apex.Chat.Datasets.{context}")
            ?? typeof(AuthDbContext).Assembly.GetType($"Apex.Auth.Data.{context}")!;
        return CreateWithFactory(assembly, contextType);
    }

    private static TContext Factory<TContext>(System.Reflection.Assembly assembly)
        where TContext : DbContext => (TContext)CreateWithFactory(assembly, typeof(TContext));

    /// <summary>Finds the assembly's design-time factory for the context, exactly as <c>dotnet ef</c> does.</summary>
    private static DbContext CreateWithFactory(System.Reflection.Assembly assembly, Type contextType)
    {
        var factoryInterface = typeof(IDesignTimeDbContextFactory<>).MakeGenericType(contextType);
        var factory = assembly.GetTypes().Single(t => factoryInterface.IsAssignableFrom(t));
        return (DbContext)factoryInterface.GetMethod("CreateDbContext")!.Invoke(Activator.CreateInstance(factory, nonPublic: true), [Array.Empty<string>()])!;
    }
}
