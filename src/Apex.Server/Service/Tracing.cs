using Apex.Hosting.Telemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Apex.Server.Service;

/// <summary>
/// OpenTelemetry tracing, configured by the standard <c>OTEL_*</c> variables (read through
/// <see cref="IConfiguration"/>, so the command line and appsettings.json work too). Without an OTLP
/// endpoint nothing is registered: no listener is attached to any source and spans cost nothing.
/// </summary>
public static class Tracing
{
    public const string EndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";
    public const string TracesEndpointKey = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
    public const string ProtocolKey = "OTEL_EXPORTER_OTLP_PROTOCOL";
    public const string TracesProtocolKey = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
    public const string TracesHeadersKey = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
    public const string ServiceNameKey = "OTEL_SERVICE_NAME";
    public const string SdkDisabledKey = "OTEL_SDK_DISABLED";
    public const string DefaultServiceName = "apex";

    public static bool IsEnabled(IConfiguration configuration) =>
        !string.Equals(configuration[SdkDisabledKey]?.Trim(), "true", StringComparison.OrdinalIgnoreCase)
        && (!string.IsNullOrWhiteSpace(configuration[EndpointKey]) || !string.IsNullOrWhiteSpace(configuration[TracesEndpointKey]));

    public static WebApplicationBuilder AddApexTracing(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        if (!IsEnabled(configuration))
        {
            return builder;
        }

        // A wrong value fails the start (and `apex check-config`) naming its key, instead of spans silently going nowhere.
        RequireHttpUrl(configuration, EndpointKey);
        RequireHttpUrl(configuration, TracesEndpointKey);
        RequireProtocol(configuration, ProtocolKey);
        RequireProtocol(configuration, TracesProtocolKey);
        var serviceName = configuration[ServiceNameKey] is { Length: > 0 } name ? name : DefaultServiceName;
        var version = typeof(Tracing).Assembly.GetName().Version?.ToString();
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName, serviceVersion: version))
            .WithTracing(tracing => tracing
                .AddSource([.. ApexActivitySources.All])
                // Probes and scrapes arrive every few seconds and say nothing about where a request's time went.
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !IsProbe(context.Request.Path))
                .AddHttpClientInstrumentation()
                .AddEntityFrameworkCoreInstrumentation()
                .AddOtlpExporter(o => ApplyTracesOverrides(o, configuration)));
        return builder;
    }

    /// <summary>
    /// The SDK's AddOtlpExporter reads the signal-neutral variables only; the traces-specific ones
    /// of the OTel specification win over them, and a traces endpoint is used exactly as given.
    /// </summary>
    private static void ApplyTracesOverrides(OtlpExporterOptions options, ConfigurationManager configuration)
    {
        if (configuration[TracesProtocolKey] is { Length: > 0 } protocol)
        {
            options.Protocol = protocol.Trim() == "grpc" ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
        }

        if (configuration[TracesEndpointKey] is { Length: > 0 } endpoint)
        {
            options.Endpoint = new Uri(endpoint.Trim(), UriKind.Absolute);
        }

        if (configuration[TracesHeadersKey] is { Length: > 0 } headers)
        {
            options.Headers = headers;
        }
    }

    private static void RequireHttpUrl(ConfigurationManager configuration, string key)
    {
        if (configuration[key] is { Length: > 0 } value
            && !(Uri.TryCreate(value.Trim(), UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
        {
            throw new InvalidOperationException($"{key} must be an absolute http(s) URL such as http://collector:4318.");
        }
    }

    private static void RequireProtocol(ConfigurationManager configuration, string key)
    {
        if (configuration[key] is { Length: > 0 } value && value.Trim() is not ("grpc" or "http/protobuf"))
        {
            throw new InvalidOperationException($"{key} must be grpc or http/protobuf.");
        }
    }

    private static bool IsProbe(PathString path) =>
        path.StartsWithSegments("/health", StringComparison.OrdinalIgnoreCase)
        || path.StartsWithSegments("/metrics", StringComparison.OrdinalIgnoreCase);
}
