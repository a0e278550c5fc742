using System;
using System.Text.Json;
using Cronos;

namespace ScaleOps.Jobs.Internal;

/// <summary>A recurring schedule registered with <see cref="IJobsBuilder.AddRecurring{TPayload}"/>.</summary>
internal sealed record RecurringJob(
    string Name, string Expression, CronExpression Cron, TimeZoneInfo TimeZone, string Kind, Func<JsonSerializerOptions, string> Payload,
    JobOptions? Options);
