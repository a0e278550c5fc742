using System;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using ScaleOps.Partitioning.Migration;
using ScaleOps.TestInfrastructure;
using Xunit;

namespace ScaleOps.Partitioning.Tests.Migration;

public partial class TableMigratorTests
{
    /// <summary>
    /// A twin that is missing (a typo in the target) or not partitioned was reported as the setting
    /// <c>ScaleOps:Partitioning:Tables:0:Name</c>, which names the source, correctly declared: the message sent the user to
    /// the configuration. It names ConvertAsync's target and what to create, and nothing changes.
    /// </summary>
    [Theory]
    [InlineData("mig_twin_a", "mig_twin_a_nwe", null)]
    [InlineData("mig_twin_b", "mig_twin_b_plain", "CREATE TABLE mig_twin_b_plain (id bigint NOT NULL, created_at timestamptz NOT NULL, tenant_id text NOT NULL, body text)")]
    public async Task A_missing_or_plain_twin_is_refused_naming_the_target_not_the_setting(string source, string target, string? create)
    {
        var (host, _, _) = await SetUpAsync(source);
        using var _ = host;
        if (create is not null)
        {
            await database.DataSource.ExecAsync(create);
        }

        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => host.Services.GetRequiredService<ITableMigrator>().ConvertAsync("public", source, target));
        Assert.DoesNotContain("ScaleOps:Partitioning:Tables", error.Message, StringComparison.Ordinal);
        Assert.StartsWith(
            $"The conversion's target \"public\".\"{target}\" does not exist or is not a partitioned table: create the partitioned twin of "
            + $"\"public\".\"{source}\" first", error.Message, StringComparison.Ordinal);
        Assert.Contains("PARTITION BY RANGE (\"created_at\")", error.Message, StringComparison.Ordinal);
        Assert.Equal("r", await database.DataSource.ScalarAsync<string>($"SELECT relkind::text FROM pg_class WHERE oid = '{source}'::regclass"));
        Assert.Equal(0L, await database.DataSource.ScalarAsync<long>(
            $"SELECT count(*) FROM pg_constraint WHERE conrelid = '{source}'::regclass AND contype = 'c'")); // no range CHECK added
    }
}
