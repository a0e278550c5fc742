using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using ScaleOps;
using ScaleOps.Diagnostics;
using ScaleOps.SampleHost;
using ScaleOps.SampleHost.Admin;
using ScaleOps.SampleHost.Documents;
using ScaleOps.SampleHost.Ops;
using ScaleOps.SampleHost.Tenancy;

var builder = WebApplication.CreateBuilder(args);

// ScaleOps: options from the "ScaleOps" section, the PostgreSQL connection from ConnectionStrings:Postgres.
builder.Services.AddScaleOps()
    .AddMigrations("sample", typeof(SampleOptions).Assembly, "ScaleOps.SampleHost.Sql.Migrations.");

builder.Services.AddOptions<SampleOptions>().Bind(builder.Configuration.GetSection("Sample")).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddProblemDetails();
builder.Services.AddSingleton<TenantDirectory>();
builder.Services.AddSingleton<DocumentStore>();
builder.Services.AddHealthChecks().AddCheck<PostgresHealthCheck>("postgres");
builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(ScaleOpsDiagnostics.MeterName).AddPrometheusExporter());

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.MapPrometheusScrapingEndpoint("/metrics");
app.MapTenantEndpoints();
app.MapDocumentEndpoints();
app.MapOpsEndpoints();
app.Run();

/// <summary>The entry point, public for end-to-end tests.</summary>
public partial class Program;
