using System;
using System.IO;
using ScaleOps.Data;

namespace ScaleOps.Resilience.Internal.Quotas;

/// <summary>The quota statements, loaded once from the embedded <c>Sql/Queries/*.sql</c> with the schema quoted in.</summary>
internal sealed class QuotaSql(string schema)
{
    private readonly string _schema = SqlIdentifier.Quote(schema);

    public string Reserve { get; } = Load("QuotaReserve", schema);

    public string ReserveOnceClaim { get; } = Load("QuotaReserveOnceClaim", schema);

    public string ReserveOnceCount { get; } = Load("QuotaReserveOnceCount", schema);

    public string ReservationFind { get; } = Load("QuotaReservationFind", schema);

    public string Release { get; } = Load("QuotaRelease", schema);

    public string ReleaseOnce { get; } = Load("QuotaReleaseOnce", schema);

    public string Usage { get; } = Load("QuotaUsage", schema);

    public string Schema => _schema;

    private static string Load(string name, string schema)
    {
        using var stream = typeof(QuotaSql).Assembly.GetManifestResourceStream($"ScaleOps.Resilience.Sql.Queries.{name}.sql")
            ?? throw new InvalidOperationException($"The embedded statement {name}.sql is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Replace("{{schema}}", SqlIdentifier.Quote(schema), StringComparison.Ordinal);
    }
}
