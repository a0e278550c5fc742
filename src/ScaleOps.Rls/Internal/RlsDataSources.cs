using Microsoft.Extensions.Logging;
using Npgsql;

namespace ScaleOps.Rls.Internal;

/// <summary>
/// Builds the data sources ScaleOps.Rls opens itself (shards, replicas, the bypass role) the way the core builds the
/// shared one: with the host's logger factory and <see cref="ScaleOpsOptions.ConfigureDataSource"/> (type mappings such
/// as enums, password providers). Without them, a tenant placed on a shard, a read sent to a replica or a bypass report
/// failed on a type the shared data source maps ("Writing values of 'Mood' is not supported").
/// </summary>
internal static class RlsDataSources
{
    public static NpgsqlDataSource Build(string connectionString, ScaleOpsOptions core, ILoggerFactory loggerFactory)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        builder.UseLoggerFactory(loggerFactory);
        core.ConfigureDataSource?.Invoke(builder);
        return builder.Build();
    }
}
