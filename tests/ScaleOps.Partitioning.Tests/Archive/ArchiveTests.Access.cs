using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Data;
using ScaleOps.Partitioning.Archive;
using ScaleOps.TestInfrastructure;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Archive;

public partial class ArchiveTests
{
    /// <summary>
    /// A restored partition had the restoring role's owner and no grant: a role granted on the parent was refused on it
    /// by name, and the table's owner could not archive or drop it again. It now gets the parent's owner and grants.
    /// </summary>
    [Fact]
    public async Task A_restored_partition_gets_the_parents_owner_and_grants()
    {
        const string owner = "so_ar_access owner";
        const string reader = "so_ar_access \"Reader\"";
        foreach (var role in new[] { owner, reader })
        {
            await PostgresServer.ExecuteAsync(
                $"DO $$ BEGIN CREATE ROLE {SqlIdentifier.Quote(role)} NOSUPERUSER; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$");
        }

        var (host, _, _) = await TableAsync("ar_access", rows: 10);
        using var _ = host;
        var archiver = host.Services.GetRequiredService<IPartitionArchiver>();
        await archiver.ArchiveAsync("public", "ar_access", "ar_access_p2026_09");
        await database.DataSource.ExecAsync(
            $"ALTER TABLE ar_access OWNER TO {SqlIdentifier.Quote(owner)}; GRANT SELECT, INSERT ON ar_access TO {SqlIdentifier.Quote(reader)};"
            + $"GRANT UPDATE (body) ON ar_access TO {SqlIdentifier.Quote(reader)}");

        Assert.Equal(10, await archiver.RestoreAsync("public", "ar_access", "ar_access_p2026_09"));
        Assert.Equal(owner, await database.DataSource.ScalarAsync<string>(
            "SELECT r.rolname::text FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE c.oid = 'ar_access_p2026_09'::regclass"));
        Assert.Equal("t t t f", await database.DataSource.ScalarAsync<string>(
            $"SELECT concat_ws(' ', has_table_privilege($${reader}$$, 'ar_access_p2026_09', 'SELECT'), has_table_privilege($${reader}$$, 'ar_access_p2026_09', 'INSERT'), "
            + $"has_column_privilege($${reader}$$, 'ar_access_p2026_09', 'body', 'UPDATE'), has_table_privilege($${reader}$$, 'ar_access_p2026_09', 'UPDATE'))"));
    }
}
