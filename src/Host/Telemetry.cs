using EventProfiles.Commands.Operability;
using EventProfiles.Commands.Security;
using JasperFx.OpenTelemetry;
using Marten;
using Microsoft.AspNetCore.Authorization;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace EventProfiles.Host;

/// <summary>
/// OpenTelemetry for the Host (issue 18 §6): metrics always (our meter, ASP.NET Core, HttpClient, the runtime, Npgsql,
/// Marten incl. the daemon's per-shard gap, Wolverine), a Prometheus scrape endpoint at <c>/metrics</c> behind org-wide
/// admin auth, and traces and logs over OTLP only when an endpoint is configured: with no trace listener every
/// ActivitySource on the hot path (ours, Npgsql's, Marten's, Wolverine's) starts nothing. Configuration keys and the
/// series are in docs/operations.md, "Telemetry".
/// </summary>
public static class Telemetry
{
    public const string Section = "EventProfiles:Telemetry";
    public const string ScrapePath = "/metrics";

    public static WebApplicationBuilder AddEventProfilesTelemetry(this WebApplicationBuilder builder)
    {
        var section = builder.Configuration.GetSection(Section);
        // Our key first, then the standard variable the OTLP exporter also reads by itself.
        var otlpEndpoint = section["OtlpEndpoint"] is { Length: > 0 } ours ? ours : builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        var otlp = otlpEndpoint is { Length: > 0 } && Uri.TryCreate(otlpEndpoint, UriKind.Absolute, out _);
        var prometheus = section.GetValue("Prometheus", true);
        if (!otlp && !prometheus) return builder;

        builder.Services.AddSingleton<TelemetryGauges>();
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(section["ServiceName"] ?? "eventprofiles", serviceInstanceId: Environment.MachineName + ":" + Environment.ProcessId))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(Metrics.MeterName, TelemetryGauges.MeterName, "Marten", "Npgsql", "Wolverine*")
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddRuntimeInstrumentation();
                if (prometheus) metrics.AddPrometheusExporter(o => o.ScrapeEndpointPath = ScrapePath);
            });
        if (otlp)
        {
            telemetry.WithTracing(tracing => tracing
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !context.Request.Path.StartsWithSegments(ScrapePath))
                .AddHttpClientInstrumentation()
                .AddNpgsql()
                .AddSource("Marten", "Wolverine"));
            telemetry.WithLogging();
            // Traces, metrics and logs to the one endpoint (gRPC by default; OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf for HTTP).
            telemetry.UseOtlpExporter(OtlpExportProtocolFrom(builder.Configuration), new Uri(otlpEndpoint!));
            // Marten's connection spans (opened, failed) only matter when someone receives traces.
            builder.Services.ConfigureMarten(opts => opts.OpenTelemetry.TrackConnections = TrackLevel.Normal);
        }
        return builder;
    }

    /// <summary>The scrape endpoint: Prometheus text format, for org-wide admins only (Basic, as the other admin endpoints).</summary>
    public static WebApplication MapEventProfilesTelemetry(this WebApplication app)
    {
        if (app.Services.GetService<TelemetryGauges>() is null) return app;
        if (app.Configuration.GetSection(Section).GetValue("Prometheus", true))
            app.MapPrometheusScrapingEndpoint(ScrapePath)
                .RequireAuthorization(new AuthorizeAttribute(ApiAuthorization.EveryWorkspace) { AuthenticationSchemes = AuthSchemes.Admin })
                .ExcludeFromDescription();
        // The gauges read the database at collection time; they need the services, so they start with the app.
        app.Services.GetRequiredService<TelemetryGauges>();
        return app;
    }

    private static OpenTelemetry.Exporter.OtlpExportProtocol OtlpExportProtocolFrom(IConfiguration configuration) =>
        configuration["OTEL_EXPORTER_OTLP_PROTOCOL"] is "http/protobuf"
            ? OpenTelemetry.Exporter.OtlpExportProtocol.HttpProtobuf
            : OpenTelemetry.Exporter.OtlpExportProtocol.Grpc;
}
