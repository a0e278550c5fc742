using System.Runtime.CompilerServices;
using Npgsql;

namespace ScaleOps.Rls.Internal;

/// <summary>
/// The database (<see cref="TenantRouter.HomeOf"/>: a tenant's shard, or the shared primary) each connection opened for
/// tenant work belongs to, so EF Core work under a tenant placed elsewhere is routed or refused instead of writing that
/// tenant's rows into the wrong database. A replica connection belongs to the shared primary, whose rows it copies; which
/// replica it was made for is recorded apart (<see cref="ReplicaOf"/>), so EF Core's reads can be moved back to the primary.
/// </summary>
internal static class TenantConnections
{
    private static readonly ConditionalWeakTable<NpgsqlConnection, NpgsqlDataSource> Homes = [];
    private static readonly ConditionalWeakTable<NpgsqlConnection, NpgsqlDataSource> Replicas = [];

    public static void Register(NpgsqlConnection connection, NpgsqlDataSource home) => Homes.AddOrUpdate(connection, home);

    /// <summary>Records that <paramref name="connection"/>, which belongs to <paramref name="home"/>, is one of <paramref name="replica"/>.</summary>
    public static void RegisterReplica(NpgsqlConnection connection, NpgsqlDataSource home, NpgsqlDataSource replica)
    {
        Homes.AddOrUpdate(connection, home);
        Replicas.AddOrUpdate(connection, replica);
    }

    /// <summary>The database <paramref name="connection"/> was created or opened for, or null when ScaleOps did not see it.</summary>
    public static NpgsqlDataSource? HomeOf(NpgsqlConnection connection) => Homes.TryGetValue(connection, out var home) ? home : null;

    /// <summary>The replica <paramref name="connection"/> was created for, or null when it is not a replica connection.</summary>
    public static NpgsqlDataSource? ReplicaOf(NpgsqlConnection connection) => Replicas.TryGetValue(connection, out var replica) ? replica : null;
}
