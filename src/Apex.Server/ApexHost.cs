using Apex.Agents;
using Apex.Auth;
using Apex.Chat;
using Apex.Chat.Datasets;
using Apex.Hosting;
using Apex.Hosting.Http;
using Apex.Realtime;
using Apex.Redis;
using Apex.Server.Service;
using Apex.Server.Web;
using Microsoft.Extensions.Options;

namespace Apex.Server;

/// <summary>
/// The composition root: one list of modules, switched on by <c>Apex:Role</c>. The CLI and the
/// test fixtures build the server through here, so tests run exactly what <c>apex serve</c> runs.
/// </summary>
public static class ApexHost
{
    public const string EnvironmentPrefix = "APEX__";

    /// <summary>Builds the web application from command-line style configuration arguments.</summary>
    /// <param name="args">Configuration overrides such as <c>--Apex:DataDir=/tmp/x</c>.</param>
    /// <param name="configure">Last-word changes to the builder (tests replace services here).</param>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            // appsettings.json and the web app ship next to the binary; ./data stays relative to the
            // working directory.
            ContentRootPath = AppContext.BaseDirectory,
            WebRootPath = Path.Combine(AppContext.BaseDirectory, "wwwroot"),
        });
        AddConfigurationSources(builder.Configuration, args);

        var role = ServerRoles.Read(builder.Configuration);
        builder.Services.AddApexCoreOptions(builder.Configuration);
        builder.AddApexHttpDefaults();
        builder.AddApexAuth();
        builder.AddApexService();
        if (role != ServerRole.Auth)
        {
            builder.Services.AddApexAgents(builder.Configuration);
            builder.AddApexRealtime();
            builder.AddApexChat();
            builder.AddApexDatasets();
        }

        // After the modules: with Redis configured it replaces single-node services (broker, revocations, run registry).
        builder.AddApexRedis();
        // Off unless an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT and friends).
        builder.AddApexTracing();

        configure?.Invoke(builder);

        var app = builder.Build();
        // The gateway's upgrades skip routing and the authentication chain (it authenticates itself).
        app.UseApexHttpDefaults(role != ServerRole.Auth ? static a => a.UseApexRealtimeUpgrades() : null);
        app.MapApexService();
        if (role != ServerRole.Api)
        {
            app.MapApexAuth();
        }

        if (role != ServerRole.Auth)
        {
            app.MapApexChat();
            app.MapApexDatasets();
            app.MapApexRealtime();
            app.MapApexWeb();
        }

        return app;
    }

    /// <summary>
    /// Prepares storage before the server listens: the embedded SQLite database is migrated
    /// automatically; PostgreSQL is migrated only by <c>apex migrate</c>.
    /// </summary>
    public static async Task PrepareAsync(WebApplication app, CancellationToken ct = default)
    {
        var db = app.Services.GetRequiredService<IOptions<DatabaseOptions>>().Value;
        if (db.Provider == DatabaseProvider.Sqlite)
        {
            await Database.MigrateAllAsync(app.Services, ct);
        }
    }

    public static void AddConfigurationSources(ConfigurationManager configuration, string[] args)
    {
        // APEX__Auth__AccessTokenMinutes=5 sets Auth:AccessTokenMinutes; the command line wins over both.
        configuration.AddEnvironmentVariables(EnvironmentPrefix);
        configuration.AddCommandLine(args);
    }
}
