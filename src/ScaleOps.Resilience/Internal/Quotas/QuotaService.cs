using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using ScaleOps.Data;
using ScaleOps.Resilience.Quotas;
using ScaleOps.Tenancy;

namespace ScaleOps.Resilience.Internal.Quotas;

/// <summary>The one class that talks SQL for quotas: reserve, release and read usage rows.</summary>
internal sealed partial class QuotaService(
    NpgsqlDataSource dataSource,
    ITenantContext tenants,
    IQuotaLimitSource limits,
    IOptions<ResilienceOptions> options,
    IOptions<ScaleOpsOptions> scaleOps,
    DatabaseClock clock,
    ResilienceMetrics metrics,
    ILogger<QuotaService> logger) : IQuotaService
{
    private static readonly DateTimeOffset StandingPeriod = DateTimeOffset.UnixEpoch;
    private readonly QuotaSql _sql = new(scaleOps.Value.Schema);

    public async Task<QuotaUsage> ReserveAsync(string resource, long amount, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await ReserveAsync(resource, amount, connection, null, cancellationToken).ConfigureAwait(false);
    }

    public async Task<QuotaUsage> ReserveAsync(
        string resource, long amount, NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var (tenant, period, start) = Prepare(resource, amount);
        var limit = await LimitAsync(tenant, resource, cancellationToken).ConfigureAwait(false);
        var now = clock.GetUtcNow();
        await using var command = Command(_sql.Reserve, connection, transaction, tenant, resource, start, amount, now);
        command.Parameters.Add(new NpgsqlParameter("limit", NpgsqlDbType.Bigint) { Value = limit is { } l ? l : DBNull.Value });
        var used = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        if (used is long usedAfter)
        {
            var periodStart = PeriodStart(period, start);
            return new QuotaUsage(resource, usedAfter, limit, period, periodStart)
            {
                Reservation = new QuotaReservation(Guid.CreateVersion7(now), tenant, resource, amount, periodStart),
            };
        }

        // No row: over the limit, or (no limit) past the largest count a usage row holds, long.MaxValue.
        var effectiveLimit = limit ?? long.MaxValue;
        var usage = await ReadAsync(connection, transaction, tenant, resource, start, cancellationToken).ConfigureAwait(false);
        metrics.QuotaRejected(resource);
        Log.QuotaExceeded(logger, tenant.ToString(), resource, usage, amount, effectiveLimit);
        throw new QuotaExceededException(resource, effectiveLimit, usage, amount);
    }

    public async Task<QuotaRelease> ReleaseAsync(string resource, long amount, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await ReleaseAsync(resource, amount, connection, null, cancellationToken).ConfigureAwait(false);
    }

    public Task<QuotaRelease> ReleaseAsync(
        string resource, long amount, NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken = default) =>
        ReleaseAsync(Prepare(resource, amount), resource, amount, connection, transaction, cancellationToken);

    public async Task<QuotaRelease> ReleaseReservationAsync(string resource, long amount, DateTimeOffset? periodStart, CancellationToken cancellationToken)
    {
        var target = Prepare(resource, amount, periodStart); // checked before a connection is opened
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await ReleaseAsync(target, resource, amount, connection, null, cancellationToken).ConfigureAwait(false);
    }

    public Task<QuotaRelease> ReleaseReservationAsync(
        string resource, long amount, DateTimeOffset? periodStart, NpgsqlConnection connection, NpgsqlTransaction? transaction,
        CancellationToken cancellationToken = default) =>
        ReleaseAsync(Prepare(resource, amount, periodStart), resource, amount, connection, transaction, cancellationToken);

    /// <summary>
    /// Gives back to the period's row. Never asks the limit source: a release must work while the limit store is down or
    /// after the tenant's plan was removed (it needs no limit, and failing it would leave the quota consumed).
    /// </summary>
    private async Task<QuotaRelease> ReleaseAsync(
        (TenantId Tenant, QuotaPeriod Period, DateTimeOffset Start) target, string resource, long amount, NpgsqlConnection connection,
        NpgsqlTransaction? transaction, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var (tenant, period, start) = target;
        await using var command = Command(_sql.Release, connection, transaction, tenant, resource, start, amount, clock.GetUtcNow());
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        var (used, released) = await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? (reader.GetInt64(0), reader.GetInt64(1)) : (0, 0);
        return new QuotaRelease(resource, released, used, period, PeriodStart(period, start));
    }

    public async Task<QuotaRelease> ReleaseOnceAsync(QuotaReservation reservation, CancellationToken cancellationToken)
    {
        var target = Prepare(reservation); // checked before a connection is opened
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        return await ReleaseReservationOnceAsync(target, reservation, connection, null, cancellationToken).ConfigureAwait(false);
    }

    public Task<QuotaRelease> ReleaseOnceAsync(
        QuotaReservation reservation, NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken = default) =>
        ReleaseReservationOnceAsync(Prepare(reservation), reservation, connection, transaction, cancellationToken);

    /// <summary>
    /// Gives a reservation back once (<c>QuotaReleaseOnce.sql</c>): its id is recorded by the first release, and a repeat
    /// finds it and gives nothing back. A reservation made by <c>ReserveOnceAsync</c> is checked against its record in the
    /// same statement, which gives nothing back when they differ (see <see cref="Mismatch"/>). Never asks the limit source.
    /// </summary>
    private async Task<QuotaRelease> ReleaseReservationOnceAsync(
        (TenantId Tenant, QuotaPeriod Period, DateTimeOffset Start) target, QuotaReservation reservation, NpgsqlConnection connection,
        NpgsqlTransaction? transaction, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var (tenant, period, start) = target;
        var resource = reservation.Resource;
        await using (var command = Command(_sql.ReleaseOnce, connection, transaction, tenant, resource, start, reservation.Amount, clock.GetUtcNow()))
        {
            command.Parameters.Add(new NpgsqlParameter<Guid>("reservation", reservation.Id));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return reader.IsDBNull(2)
                    ? new QuotaRelease(resource, reader.GetInt64(1), reader.GetInt64(0), period, PeriodStart(period, start))
                    : throw Mismatch(reader, reservation, start);
            }
        }

        // Already released (or nothing in use in that period): nothing given back; the usage read after it, in a statement
        // of its own, sees a concurrent release that this one waited for.
        var used = await ReadAsync(connection, transaction, tenant, resource, start, cancellationToken).ConfigureAwait(false);
        return new QuotaRelease(resource, 0, used, period, PeriodStart(period, start));
    }

    public async Task<QuotaUsage> GetUsageAsync(string resource, CancellationToken cancellationToken = default)
    {
        var (tenant, period, start) = Prepare(resource, 1);
        var limit = await LimitAsync(tenant, resource, cancellationToken).ConfigureAwait(false);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var used = await ReadAsync(connection, null, tenant, resource, start, cancellationToken).ConfigureAwait(false);
        return new QuotaUsage(resource, used, limit, period, PeriodStart(period, start));
    }

    public async Task<IReadOnlyList<QuotaUsage>> GetUsagesAsync(CancellationToken cancellationToken = default)
    {
        var result = new List<QuotaUsage>();
        foreach (var resource in options.Value.Quotas.Resources.Keys.Order(StringComparer.Ordinal))
        {
            result.Add(await GetUsageAsync(resource, cancellationToken).ConfigureAwait(false));
        }

        return result;
    }

    /// <summary>Checks the call; the period is the current one (when the statement runs).</summary>
    private (TenantId Tenant, QuotaPeriod Period, DateTimeOffset Start) Prepare(string resource, long amount)
    {
        ArgumentNullException.ThrowIfNull(resource);
        ArgumentOutOfRangeException.ThrowIfLessThan(amount, 1);
        if (!options.Value.Quotas.Resources.TryGetValue(resource, out var period))
        {
            throw new ArgumentException(
                $"The quota resource '{resource}' is not declared in ScaleOps:Resilience:Quotas:Resources; declared: "
                + $"{string.Join(", ", options.Value.Quotas.Resources.Keys.Order(StringComparer.Ordinal))}.", nameof(resource));
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var start = period switch
        {
            QuotaPeriod.Day => new DateTimeOffset(now.Year, now.Month, now.Day, 0, 0, 0, TimeSpan.Zero),
            QuotaPeriod.Month => new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero),
            _ => StandingPeriod,
        };
        return (tenants.RequireTenant(), period, start);
    }

    /// <summary>Checks the call; the period is the one a reservation was made in (<see cref="QuotaUsage.PeriodStart"/>).</summary>
    private (TenantId Tenant, QuotaPeriod Period, DateTimeOffset Start) Prepare(string resource, long amount, DateTimeOffset? periodStart)
    {
        var (tenant, period, _) = Prepare(resource, amount);
        if (period == QuotaPeriod.None)
        {
            return periodStart is null
                ? (tenant, period, StandingPeriod)
                : throw new ArgumentException(
                    $"The quota resource '{resource}' is a standing count (QuotaPeriod.None): its reservations have no period start; pass null.",
                    nameof(periodStart));
        }

        if (periodStart is not { } given)
        {
            throw new ArgumentException(
                $"The quota resource '{resource}' is counted per {period}: pass the PeriodStart that ReserveAsync returned for the reservation.",
                nameof(periodStart));
        }

        var utc = given.UtcDateTime;
        var aligned = period == QuotaPeriod.Day
            ? utc.TimeOfDay == TimeSpan.Zero
            : utc.TimeOfDay == TimeSpan.Zero && utc.Day == 1;
        return aligned
            ? (tenant, period, new DateTimeOffset(utc, TimeSpan.Zero))
            : throw new ArgumentException(
                $"{given:O} is not the start of a UTC {(period == QuotaPeriod.Day ? "day" : "month")}, so no reservation of the quota resource "
                + $"'{resource}' has it as its period; pass the PeriodStart that ReserveAsync returned.", nameof(periodStart));
    }

    /// <summary>Checks a reservation given back: one <c>ReserveAsync</c> could have returned, for the ambient tenant.</summary>
    private (TenantId Tenant, QuotaPeriod Period, DateTimeOffset Start) Prepare(QuotaReservation reservation)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        if (reservation.Id == Guid.Empty)
        {
            throw new ArgumentException(
                "The reservation's Id is empty: pass the QuotaReservation that ReserveAsync returned (QuotaUsage.Reservation).", nameof(reservation));
        }

        var target = Prepare(reservation.Resource, reservation.Amount, reservation.PeriodStart);
        return target.Tenant == reservation.Tenant
            ? target
            : throw new ArgumentException(
                $"The reservation {reservation.Id} was made for tenant '{reservation.Tenant}', but the ambient tenant is '{target.Tenant}': "
                + "release it inside its own tenant's scope.", nameof(reservation));
    }

    /// <summary>The limit from the host's <see cref="IQuotaLimitSource"/>, checked: at least 1, or null for no limit.</summary>
    private async ValueTask<long?> LimitAsync(TenantId tenant, string resource, CancellationToken cancellationToken)
    {
        var limit = await limits.GetLimitAsync(tenant, resource, cancellationToken).ConfigureAwait(false);
        return limit is < 1
            ? throw new InvalidOperationException(
                $"The quota limit source {limits.GetType().FullName} returned {limit} as the limit of '{resource}' for tenant '{tenant}'; "
                + "a limit must be at least 1, or null for no limit.")
            : limit;
    }

    private static DateTimeOffset? PeriodStart(QuotaPeriod period, DateTimeOffset start) => period == QuotaPeriod.None ? null : start;

    private async Task<long> ReadAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, TenantId tenant, string resource, DateTimeOffset start, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(_sql.Usage, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<string>("tenant", tenant.ToString()));
        command.Parameters.Add(new NpgsqlParameter<string>("resource", resource));
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("period_start", start));
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is long used ? used : 0;
    }

    private static NpgsqlCommand Command(
        string sql, NpgsqlConnection connection, NpgsqlTransaction? transaction, TenantId tenant, string resource, DateTimeOffset start, long amount, DateTimeOffset now)
    {
        var command = new NpgsqlCommand(sql, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<string>("tenant", tenant.ToString()));
        command.Parameters.Add(new NpgsqlParameter<string>("resource", resource));
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("period_start", start));
        command.Parameters.Add(new NpgsqlParameter<long>("amount", amount));
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset>("now", now));
        return command;
    }
}
