using System;
using Npgsql;

namespace ScaleOps;

/// <summary>
/// Settings shared by every ScaleOps package, bound from the configuration section <c>ScaleOps</c>.
/// </summary>
public sealed class ScaleOpsOptions
{
    /// <summary>The configuration section the options bind from.</summary>
    public const string SectionName = "ScaleOps";

    /// <summary>
    /// The PostgreSQL connection string of the shared <see cref="NpgsqlDataSource"/>.
    /// </summary>
    /// <value>
    /// Default <see langword="null"/>: taken from <c>ConnectionStrings:{ConnectionStringName}</c>. Required unless the host
    /// registered its own <see cref="NpgsqlDataSource"/> before calling <c>AddScaleOps</c>.
    /// </value>
    public string? ConnectionString { get; set; }

    /// <summary>The name looked up under <c>ConnectionStrings</c> when <see cref="ConnectionString"/> is not set.</summary>
    /// <value>Default <c>Postgres</c>.</value>
    public string ConnectionStringName { get; set; } = "Postgres";

    /// <summary>The PostgreSQL schema that holds the packages' own tables (jobs, migrations, audit...).</summary>
    /// <value>
    /// Default <c>scaleops</c>. 1 to 63 bytes of UTF-8, no NUL character or unpaired surrogate, not starting with <c>pg_</c>
    /// (PostgreSQL reserves it). It is always quoted.
    /// </value>
    public string Schema { get; set; } = "scaleops";

    /// <summary>Whether the packages' schema migrations are applied when the host starts.</summary>
    /// <value>Default <see langword="true"/>. When false, call <see cref="Migrations.IScaleOpsMigrator.MigrateAsync"/> yourself.</value>
    public bool ApplyMigrationsOnStart { get; set; } = true;

    /// <summary>
    /// How long applying the migrations may take, the wait for another host's migration included: the command timeout of
    /// the migration lock and of each script, in place of the connection string's <c>Command Timeout</c> (30 s by
    /// default, shorter than a migration that builds an index on a large table).
    /// </summary>
    /// <value>Default 30 minutes; more than zero, at most one day.</value>
    public TimeSpan MigrationTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>
    /// The <c>lock_timeout</c> of the migration scripts. A script that waits longer for a table's lock (held by a long query
    /// or transaction) gives up instead of waiting in the lock queue, where every new reader and writer of that table would
    /// wait behind it; the migration transaction rolls back and is tried again after a pause (doubling, at most 30 s) until
    /// <see cref="MigrationTimeout"/> is spent. The wait for another host's migration is not affected.
    /// </summary>
    /// <value>Default 1 second; 10 ms to 1 minute.</value>
    public TimeSpan MigrationLockTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// An optional hook to tune the shared data source (type mappings, logging, password providers) before it is built.
    /// ScaleOps.Rls runs it on the data sources it builds too (shards, replicas, the bypass role), so that tenant work has
    /// the same mappings wherever it runs; it should not set the host or database.
    /// </summary>
    /// <value>Default <see langword="null"/>. Code only; it cannot be set from configuration.</value>
    public Action<NpgsqlDataSourceBuilder>? ConfigureDataSource { get; set; }
}
