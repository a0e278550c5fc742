using System;
using System.Text.Json;
using Cronos;

namespace ScaleOps.Jobs.Internal;

/// <summary>A recurring schedule registered with <see cref="IJobsBuilder.AddRecurring{TPayload}"/>.</summary>
internal sealed record RecurringJob(
    string Name, string Expression, CronExpression Cron, TimeZoneInfo TimeZone, string Kind, Func<JsonSerializerOptions, string> Payload,
    JobOptions? Options)
{
    /// <summary>The definition of its timetable, as stored in its row and compared across hosts.</summary>
    public ScheduleDefinition Definition { get; } = ScheduleDefinition.Of(Cron, TimeZone);
}

/// <summary>
/// What a recurring schedule's timetable comes from: the cron expression as Cronos writes it back (so <c>0 3 * * *</c>
/// and <c>0 0 3 * * *</c>, or <c>MON-FRI</c> and <c>1-5</c>, are one definition) and the time zone's id (IANA when
/// known, so a Windows id and its IANA id are one zone). Two hosts with different definitions of one schedule name are a
/// conflict: only the stored one (the most recently started host's) fires.
/// </summary>
internal sealed record ScheduleDefinition(string Cron, string TimeZone)
{
    public static ScheduleDefinition Of(CronExpression cron, TimeZoneInfo zone) => new(cron.ToString(), ZoneId(zone));

    /// <summary>Whether this host may fire a schedule whose row holds <paramref name="stored"/> (null: a row from before migration jobs/0005).</summary>
    public bool Accepts(ScheduleDefinition? stored) => stored is null || stored == this;

    /// <summary>As logs show it: <c>'0 3 * * *' in UTC</c>.</summary>
    public override string ToString() => $"'{Cron}' in {TimeZone}";

    private static string ZoneId(TimeZoneInfo zone)
    {
        if (zone.Id is "UTC" or "Etc/UTC" || ReferenceEquals(zone, TimeZoneInfo.Utc))
        {
            return "UTC";
        }

        return !zone.HasIanaId && TimeZoneInfo.TryConvertWindowsIdToIanaId(zone.Id, out var iana) ? iana : zone.Id;
    }
}
