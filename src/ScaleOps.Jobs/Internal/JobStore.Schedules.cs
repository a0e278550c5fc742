using System;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;
using NpgsqlTypes;

namespace ScaleOps.Jobs.Internal;

/// <summary>
/// A recurring schedule's row: its last due time, the definition stored by the most recently started host, when that
/// definition was written, and when a host with it was last seen alive (<c>definition_seen_at</c>, migration jobs/0006).
/// The last due time is a time of the hosts' timetables (their clocks and cron arithmetic); <see cref="DefinedAt"/> and
/// <see cref="SeenAt"/> are the database's clock, so they compare with each other whatever the hosts' clocks say.
/// </summary>
internal sealed record ScheduleRow(DateTimeOffset LastDueAt, ScheduleDefinition? Definition, DateTimeOffset? DefinedAt, DateTimeOffset? SeenAt);

/// <summary>The recurring schedules' statements.</summary>
internal sealed partial class JobStore
{
    public async Task<ScheduleRow?> ScheduleGetAsync(string name, CancellationToken cancellationToken)
    {
        var rows = await QueryAsync(_sql.ScheduleGet, p => p.Add(new NpgsqlParameter<string>("name", name)), r => new ScheduleRow(
            r.GetFieldValue<DateTimeOffset>(0),
            r.IsDBNull(1) ? null : new ScheduleDefinition(r.GetString(1), r.GetString(2)),
            r.IsDBNull(3) ? null : r.GetFieldValue<DateTimeOffset>(3),
            r.IsDBNull(4) ? null : r.GetFieldValue<DateTimeOffset>(4)), cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <summary>
    /// Writes this host's definition of a schedule at start (<c>ScheduleDefine.sql</c>); returns the last due time to
    /// start from: the stored one when the definition is unchanged, else <paramref name="now"/> (never earlier than the stored one).
    /// The definition's <c>defined_at</c> and <c>definition_seen_at</c> are the database's clock, not <paramref name="now"/>.
    /// </summary>
    public async Task<DateTimeOffset> ScheduleDefineAsync(
        string name, ScheduleDefinition definition, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var rows = await QueryAsync(_sql.ScheduleDefine, p =>
        {
            p.Add(new NpgsqlParameter<string>("name", name));
            p.Add(new NpgsqlParameter<string>("cron", definition.Cron));
            p.Add(new NpgsqlParameter<string>("time_zone", definition.TimeZone));
            p.Add(new NpgsqlParameter<DateTimeOffset>("now", now.ToUniversalTime()));
        }, r => r.GetFieldValue<DateTimeOffset>(0), cancellationToken).ConfigureAwait(false);
        return rows[0];
    }

    /// <summary>
    /// Fires one due time of a schedule under this host's definition; returns the job id when this call fired it (null
    /// when another host fired it, the stored definition is another one, or the job was a unique key's duplicate).
    /// </summary>
    public async Task<long?> ScheduleFireAsync(
        string name, ScheduleDefinition definition, DateTimeOffset due, JobInsertValues v, string payload, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var rows = await QueryAsync(_sql.ScheduleFire, p =>
        {
            AddInsertParameters(p, v, now);
            p.Add(new NpgsqlParameter<string>("name", name));
            p.Add(new NpgsqlParameter<string>("cron", definition.Cron));
            p.Add(new NpgsqlParameter<string>("time_zone", definition.TimeZone));
            p.Add(new NpgsqlParameter<DateTimeOffset>("due", due.ToUniversalTime()));
            p.Add(new NpgsqlParameter("payload", NpgsqlDbType.Json) { Value = payload });
            p.Add(Nullable("unique_key", NpgsqlDbType.Text, v.UniqueKey));
        }, r => r.GetInt64(0), cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <summary>
    /// Records that this host, whose definition is the stored one, is alive for the schedule (<c>ScheduleSeen.sql</c>, on
    /// the database's clock); false when the stored definition is another one (or the row is gone).
    /// </summary>
    public async Task<bool> ScheduleSeenAsync(string name, ScheduleDefinition definition, CancellationToken cancellationToken)
    {
        var changed = await ExecuteAsync(_sql.ScheduleSeen, p =>
        {
            p.Add(new NpgsqlParameter<string>("name", name));
            p.Add(new NpgsqlParameter<string>("cron", definition.Cron));
            p.Add(new NpgsqlParameter<string>("time_zone", definition.TimeZone));
        }, cancellationToken).ConfigureAwait(false);
        return changed > 0;
    }

    /// <summary>
    /// Takes a schedule over for this host's definition when its row is still exactly <paramref name="seen"/>
    /// (<c>ScheduleTakeOver.sql</c>); returns the last due time to start from (now, or a later stored one), or null when
    /// the row changed meanwhile (and nothing was written).
    /// </summary>
    public async Task<DateTimeOffset?> ScheduleTakeOverAsync(
        string name, ScheduleDefinition definition, ScheduleRow seen, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (seen is not { Definition: { } stored, DefinedAt: { } definedAt, SeenAt: { } seenAt })
        {
            throw new ArgumentException($"Recurring schedule '{name}': only a row with a definition seen alive can be taken over.", nameof(seen));
        }

        var rows = await QueryAsync(_sql.ScheduleTakeOver, p =>
        {
            p.Add(new NpgsqlParameter<string>("name", name));
            p.Add(new NpgsqlParameter<string>("cron", definition.Cron));
            p.Add(new NpgsqlParameter<string>("time_zone", definition.TimeZone));
            p.Add(new NpgsqlParameter<DateTimeOffset>("now", now.ToUniversalTime()));
            p.Add(new NpgsqlParameter<DateTimeOffset>("seen_last_due_at", seen.LastDueAt.ToUniversalTime()));
            p.Add(new NpgsqlParameter<string>("seen_cron", stored.Cron));
            p.Add(new NpgsqlParameter<string>("seen_time_zone", stored.TimeZone));
            p.Add(new NpgsqlParameter<DateTimeOffset>("seen_defined_at", definedAt.ToUniversalTime()));
            p.Add(new NpgsqlParameter<DateTimeOffset>("seen_at", seenAt.ToUniversalTime()));
        }, r => r.GetFieldValue<DateTimeOffset>(0), cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }
}
