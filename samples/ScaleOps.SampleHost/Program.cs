using System;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using ScaleOps.Diagnostics;
using ScaleOps.Jobs;
using ScaleOps.SampleHost;
using ScaleOps.SampleHost.Admin;
using ScaleOps.SampleHost.Audit;
using ScaleOps.Resilience.CircuitBreakers;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.SampleHost.Documents;
using ScaleOps.SampleHost.Http;
using ScaleOps.SampleHost.Limits;
using ScaleOps.SampleHost.Ops;
using ScaleOps.SampleHost.Tenancy;

var builder = WebApplication.CreateBuilder(args);

// ScaleOps: options from the "ScaleOps" section, the PostgreSQL connection from ConnectionStrings:Postgres.
builder.Services.AddScaleOps()
    .AddMigrations("sample", typeof(SampleOptions).Assembly, "ScaleOps.SampleHost.Sql.Migrations.")
    // Row-level security on the tenant tables: the app role must be NOSUPERUSER NOBYPASSRLS (checked at start-up).
    .AddRls(rls => rls.ProtectTenantTable("app", "documents").ProtectTenantTable("app", "idempotency_keys"))
    // The partitioned audit trail (scaleops.audit_log, monthly), maintained in this host unless switched off.
    .AddPartitioning(partitioning =>
    {
        partitioning.Audit.Retention = 24;
        // With Blob storage configured, expired audit partitions are archived (Parquet, verified) before they are dropped.
        partitioning.Audit.Archive = !string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString("Blob"));
        partitioning.RunMaintenanceOnStart = builder.Configuration.GetValue("Sample:RunPartitionMaintenance", true);
        if (!builder.Configuration.GetValue("Sample:RunPartitionMaintenance", true))
        {
            partitioning.MaintenanceInterval = TimeSpan.Zero;
        }
    })
    // Tenant-scoped cache-aside: memory L1 + Redis L2 (ConnectionStrings:Redis), falling back to memory when Redis is down.
    .AddCaching()
    // Plan rate limits shared by all instances through Redis, document quotas reserved in PostgreSQL, breakers.
    .AddResilience(resilience => SamplePlans.Apply(resilience, builder.Configuration))
    // The job queue: "index document" jobs enqueued in the document's transaction; workers run here unless switched off.
    .AddJobs(jobs =>
    {
        jobs.Queues["indexing"] = new QueueOptions { Concurrency = 4, MaxRunningPerTenant = 2 };
        jobs.Queues[IdempotencyKeyPurge.Queue] = new QueueOptions { Concurrency = 1 };
        jobs.RunWorker = builder.Configuration.GetValue("Sample:RunJobs", true);
    })
    .AddHandler<IndexDocument, IndexDocumentHandler>()
    // Every hour, expired Idempotency-Key rows of every tenant are deleted, tenant by tenant under RLS, in bounded runs.
    .AddHandler<PurgeIdempotencyKeys, PurgeIdempotencyKeysHandler>()
    .AddRecurring(IdempotencyKeyPurge.ScheduleName, IdempotencyKeyPurge.Cron, new PurgeIdempotencyKeys(), IdempotencyKeyPurge.Job(null));
builder.Services.AddSingleton<ITenantPlanResolver, TenantPlanResolver>();

// A misspelled Sample key or a plan without a rate stops the start with a message naming it (SampleOptionsValidator).
builder.Services.AddOptions<SampleOptions>().Bind(builder.Configuration.GetSection("Sample")).ValidateDataAnnotations().ValidateOnStart();
builder.Services.AddSingleton<IValidateOptions<SampleOptions>, SampleOptionsValidator>();
// Every problem gets its status's type and title; an unhandled exception's 500 quotes nothing of it (Http/Problems.cs).
builder.Services.AddProblemDetails(problems => problems.CustomizeProblemDetails = Problems.Standardize);
builder.Services.AddSingleton<TenantDirectory>();
// Budgets of wrong admin keys and unregistered tenant ids per client address (429 once spent, until the minute is over).
builder.Services.AddSingleton<ClientLimits>();
builder.Services.AddSingleton<DocumentStore>();
builder.Services.AddSingleton<IdempotencyKeyPurge>();
builder.Services.AddSingleton<DocumentAudit>();
builder.Services.AddHealthChecks()
    .AddCheck<PostgresHealthCheck>("postgres")
    .AddCheck<CacheHealthCheck>("redis")
    .AddCheck<CircuitBreakerHealthCheck>("breakers");
builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(ScaleOpsDiagnostics.MeterName).AddPrometheusExporter());

var app = builder.Build();
app.UseExceptionHandler();
app.UseStatusCodePages();
// /ops and /tenants: Cache-Control: no-store, nosniff, no framing, no referrer (the dashboard page adds its CSP).
app.UseOperatorHeaders();
// HEAD wherever GET is, OPTIONS lists a path's methods (204), and every 405's Allow header includes OPTIONS.
app.UseAllowedMethods();
app.MapPrometheusScrapingEndpoint("/metrics").ReadOnly();
app.MapTenantEndpoints();
app.MapDocumentEndpoints();
app.MapAuditEndpoints();
app.MapOpsEndpoints();
app.MapArchiveEndpoints(demoEndpoints: builder.Configuration.GetValue("Sample:DemoEndpoints", false));
app.Run();

/// <summary>The entry point, public for end-to-end tests.</summary>
public partial class Program;
