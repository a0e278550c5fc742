namespace ScaleOps.Partitioning.Archive;

/// <summary>One archived column.</summary>
/// <param name="Name">The PostgreSQL column name.</param>
/// <param name="Type">The PostgreSQL type (<c>format_type</c>).</param>
/// <param name="Parquet">
/// How the column is stored in the Parquet file: <c>boolean</c>, <c>int16</c>, <c>int32</c>, <c>int64</c>,
/// <c>float</c>, <c>double</c>, <c>decimal(p,s)</c>, <c>uuid</c>, <c>timestamp(us,utc)</c> (timestamptz),
/// <c>timestamp(us)</c>, <c>date</c>, <c>binary</c> (bytea), or <c>string</c> (the exact PostgreSQL text form: text,
/// varchar, json, jsonb, numeric without a precision of at most 28, and every other type). <see langword="null"/> in
/// manifests written before typed columns, whose columns are all strings.
/// </param>
public sealed record ArchiveColumn(string Name, string Type, string? Parquet = null);
