using System;
using System.Linq;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ScaleOps;
using ScaleOps.Jobs;
using ScaleOps.Jobs.Internal;
using ScaleOps.Jobs.Internal.Validators;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the ScaleOps job queue: <c>services.AddScaleOps().AddJobs(...)</c>.</summary>
public static class JobsScaleOpsBuilderExtensions
{
    /// <summary>
    /// Registers the job queue: <see cref="IJobClient"/> to enqueue, <see cref="IJobAdmin"/> for operators, the schema
    /// migration, and the worker (a hosted service) that runs the handlers registered on the returned builder.
    /// Options bind from <c>ScaleOps:Jobs</c>, then <paramref name="configure"/>; they are validated at start.
    /// Calling it twice is harmless.
    /// </summary>
    /// <param name="builder">The ScaleOps builder.</param>
    /// <param name="configure">Optional code configuration.</param>
    /// <returns>The jobs builder, to add handlers and recurring schedules.</returns>
    public static IJobsBuilder AddJobs(this IScaleOpsBuilder builder, Action<JobsOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        builder.AddScaleOpsOptions(JobsDefaults.Section, configure);
        if (services.Any(d => d.ServiceType == typeof(JobsMarker)))
        {
            return new JobsBuilder(services);
        }

        services.AddSingleton<JobsMarker>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<JobsOptions>, JobsOptionsValidator>());
        builder.AddMigrations("jobs", typeof(JobsScaleOpsBuilderExtensions).Assembly, "ScaleOps.Jobs.Sql.Migrations.");
        services.TryAddSingleton<JobStore>();
        services.TryAddSingleton<JobsMetrics>();
        services.TryAddSingleton<LocalDispatch>();
        services.TryAddSingleton<IJobClient, JobClient>();
        services.TryAddSingleton<IJobAdmin, JobAdmin>();
        services.TryAddSingleton<JobWorker>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, JobWorker>(sp => sp.GetRequiredService<JobWorker>()));
        return new JobsBuilder(services);
    }

    private sealed class JobsMarker;
}
