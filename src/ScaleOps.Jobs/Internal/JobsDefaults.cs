using System;
using System.Security.Cryptography;
using System.Text;
using ScaleOps.Data;

namespace ScaleOps.Jobs.Internal;

/// <summary>The defaults and limits of <see cref="JobsOptions"/>, shared by the options and their validator.</summary>
internal static class JobsDefaults
{
    public const string Section = "Jobs";
    public const string Prefix = "ScaleOps:Jobs:";
    public const string DefaultQueue = "default";
    public const int MaxNameLength = 100;
    public const int MaxKindLength = 200;
    public const int MaxKeyLength = 500;
    public const int MaxAttempts = 25;
    public const int MaxMaxAttempts = 1000;
    public const int Concurrency = 10;
    public const int MaxConcurrency = 10_000;
    public const int MaxBatch = 1_000_000;
    public const int CompletionBatchSize = 2000;

    /// <summary>
    /// How many tenants at their cap (or with only key-blocked jobs) one fetch passes over, beyond the tenants it serves,
    /// before it stops; the next fetch goes on from there.
    /// </summary>
    public const int FetchTenantsPassedOver = 100;
    public const int RetentionBatchSize = 1000;

    /// <summary>Rows one statement of a bulk admin retry or discard of dead jobs changes (each batch its own transaction).</summary>
    public const int DeadBatchSize = 1000;

    /// <summary>
    /// How long a stopping worker lets the completer write the outcomes it holds, whatever
    /// <see cref="JobsOptions.ShutdownTimeout"/> (the time given to running handlers) is. Past it (the database is
    /// unreachable, say) the completer gives up and the jobs of the unwritten outcomes are given back.
    /// </summary>
    public static readonly TimeSpan CompletionFlushTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How much longer than <see cref="JobsOptions.TimeoutGrace"/> a stopping worker waits for handlers it cancelled. A
    /// handler that ignores the cancellation is abandoned by its own run after exactly the grace (event 3020); the worker's
    /// wait used to be the same length, started a moment earlier, so on a busy machine it could end first and the stop went
    /// on before the abandonment was logged.
    /// </summary>
    public static readonly TimeSpan AbandonMargin = TimeSpan.FromSeconds(1);
    public const int MaxConcurrencyLimit = 10_000;

    /// <summary>The default of <see cref="JobsOptions.RecurringTakeoverAfter"/>: five of the scheduler's checks (<see cref="ScheduleCheckInterval"/>).</summary>
    public static readonly TimeSpan RecurringTakeoverAfter = TimeSpan.FromMinutes(5);

    public static readonly TimeSpan MinRecurringTakeoverAfter = TimeSpan.FromSeconds(5);

    public static readonly TimeSpan MaxRecurringTakeoverAfter = TimeSpan.FromDays(1);

    /// <summary>
    /// The longest the scheduler sleeps, and so the longest between two checks of a schedule: a host with the stored
    /// definition records that it is alive, a quiet one reads the row, every fifth of
    /// <see cref="JobsOptions.RecurringTakeoverAfter"/> and at least this often.
    /// </summary>
    public static readonly TimeSpan ScheduleCheckInterval = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The LISTEN/NOTIFY channel of the jobs in <paramref name="schema"/>: channels are database-wide, so two ScaleOps
    /// schemas in one database would otherwise wake each other's workers. <c>scaleops_jobs:</c> and the schema, or, when
    /// that would pass PostgreSQL's 63 bytes for a name, a hash of the schema instead.
    /// </summary>
    public static string Channel(string schema)
    {
        const string ChannelPrefix = "scaleops_jobs:";
        var channel = ChannelPrefix + schema;
        if (Encoding.UTF8.GetByteCount(channel) <= SqlIdentifier.MaxBytes)
        {
            return channel;
        }

        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(schema));
        return ChannelPrefix + "#" + Convert.ToHexStringLower(hash, 0, 16);
    }
}
