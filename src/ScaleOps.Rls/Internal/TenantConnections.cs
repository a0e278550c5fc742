using System.Runtime.CompilerServices;
using Npgsql;

namespace ScaleOps.Rls.Internal;

/// <summary>
/// The database (<see cref="TenantRouter.HomeOf"/>: a tenant's shard, or the shared primary) each connection opened for
/// tenant work belongs to, so EF Core work under a tenant placed elsewhere is routed or refused instead of writing that
/// tenant's rows into the wrong database. A replica connection belongs to the shared primary, whose rows it copies.
/// </summary>
internal static class TenantConnections
{
    private static readonly ConditionalWeakTable<NpgsqlConnection, NpgsqlDataSource> Homes = [];

    public static void Register(NpgsqlConnection connection, NpgsqlDataSource home) => Homes.AddOrUpdate(connection, home);

    /// <summary>The database <paramref name="connection"/> was created or opened for, or null when ScaleOps did not see it.</summary>
    public static NpgsqlDataSource? HomeOf(NpgsqlConnection connection) => Homes.TryGetValue(connection, out var home) ? home : null;
}
