using System;
using ScaleOps.Tenancy;

namespace ScaleOps.Jobs.Internal;

/// <summary>Validates <see cref="JobOptions"/> and fills in the defaults; every error names the option.</summary>
internal static class JobValues
{
    /// <summary>The latest time PostgreSQL stores within <see cref="DateTimeOffset"/>'s range (microseconds).</summary>
    private static readonly DateTimeOffset LatestStored = DateTimeOffset.MaxValue.AddTicks(-9);

    /// <summary>
    /// A timestamp the statements read within <see cref="DateTimeOffset"/>'s range (JobFetch.sql): the top of the range
    /// (infinity, after year 9999, or <see cref="DateTimeOffset.MaxValue"/> stored) is <see cref="DateTimeOffset.MaxValue"/>.
    /// </summary>
    public static DateTimeOffset Stored(DateTimeOffset value) => value >= LatestStored ? DateTimeOffset.MaxValue : value;

    public static JobInsertValues Build(string kind, JobOptions? job, JobsOptions defaults, TenantId? ambientTenant, DateTimeOffset now)
    {
        job ??= Empty;
        var queue = job.Queue ?? defaults.DefaultQueue;
        if (string.IsNullOrWhiteSpace(queue) || queue.Length > JobsDefaults.MaxNameLength)
        {
            throw new ArgumentException($"JobOptions.Queue must be 1 to {JobsDefaults.MaxNameLength} characters, not blank.", nameof(job));
        }

        if (!JobText.IsStorable(queue))
        {
            throw new ArgumentException(NotStorable("JobOptions.Queue"), nameof(job));
        }

        if (!Enum.IsDefined(job.Priority))
        {
            throw new ArgumentException($"JobOptions.Priority {(int)job.Priority} is not a JobPriority.", nameof(job));
        }

        if (job.RunAt is not null && job.Delay is not null)
        {
            throw new ArgumentException("Set JobOptions.RunAt or JobOptions.Delay, not both.", nameof(job));
        }

        if (job.Delay is { } delay && (delay < TimeSpan.Zero || delay > TimeSpan.FromDays(3650)))
        {
            throw new ArgumentException($"JobOptions.Delay must be between 0 and 3650 days; it is {delay}.", nameof(job));
        }

        var runAt = job.RunAt?.ToUniversalTime() ?? now + (job.Delay ?? TimeSpan.Zero);
        var maxAttempts = job.MaxAttempts ?? defaults.MaxAttempts;
        if (maxAttempts is < 1 or > JobsDefaults.MaxMaxAttempts)
        {
            throw new ArgumentException($"JobOptions.MaxAttempts must be 1 to {JobsDefaults.MaxMaxAttempts}; it is {maxAttempts}.", nameof(job));
        }

        var timeout = job.Timeout ?? defaults.DefaultTimeout;
        if (timeout < TimeSpan.FromMilliseconds(1) || timeout > TimeSpan.FromHours(24))
        {
            throw new ArgumentException($"JobOptions.Timeout must be 1 ms to 24 h; it is {timeout}.", nameof(job));
        }

        CheckKey(job.UniqueKey, "UniqueKey");
        CheckKey(job.ConcurrencyKey, "ConcurrencyKey");
        if (job.ConcurrencyLimit is not null && job.ConcurrencyKey is null)
        {
            throw new ArgumentException("JobOptions.ConcurrencyLimit needs a JobOptions.ConcurrencyKey.", nameof(job));
        }

        if (job.ConcurrencyLimit is < 1 or > JobsDefaults.MaxConcurrencyLimit)
        {
            throw new ArgumentException(
                $"JobOptions.ConcurrencyLimit must be 1 to {JobsDefaults.MaxConcurrencyLimit}; it is {job.ConcurrencyLimit}.", nameof(job));
        }

        var tenant = job.Tenant ?? ambientTenant;
        if (tenant is { IsDefault: true })
        {
            throw new ArgumentException("JobOptions.Tenant is default(TenantId), which is not a tenant.", nameof(job));
        }

        return new JobInsertValues(
            queue, kind, tenant?.Value ?? string.Empty, (short)job.Priority, runAt, maxAttempts, (int)Math.Ceiling(timeout.TotalMilliseconds),
            job.UniqueKey, job.ConcurrencyKey, job.ConcurrencyKey is null ? null : job.ConcurrencyLimit ?? 1,
            RunNow: job.RunAt is null && (job.Delay ?? TimeSpan.Zero) == TimeSpan.Zero);
    }

    private static readonly JobOptions Empty = new();

    private static void CheckKey(string? key, string name)
    {
        if (key is not null && (string.IsNullOrWhiteSpace(key) || key.Length > JobsDefaults.MaxKeyLength))
        {
            throw new ArgumentException($"JobOptions.{name} must be 1 to {JobsDefaults.MaxKeyLength} characters, not blank.", "job");
        }

        if (key is not null && !JobText.IsStorable(key))
        {
            throw new ArgumentException(NotStorable("JobOptions." + name), "job");
        }
    }

    /// <summary>The message for text PostgreSQL cannot store or Npgsql cannot send.</summary>
    internal static string NotStorable(string what) =>
        $"{what} contains a NUL character or a lone UTF-16 surrogate, which a PostgreSQL text column cannot hold.";
}
