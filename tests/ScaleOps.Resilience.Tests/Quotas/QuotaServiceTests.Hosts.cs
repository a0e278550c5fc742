using System;
using System.Linq;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using ScaleOps.Resilience.Quotas;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Resilience.Tests.Quotas;

public partial class QuotaServiceTests
{
    [Fact]
    public async Task Two_hosts_reserving_and_rolling_back_concurrently_on_one_tenant_never_pass_the_limit()
    {
        // Two service providers (two instances of the application), each with its own connection pool; every third
        // reservation is made in a transaction that then rolls back, so it must not count.
        await using var first = Build();
        await using var second = Build();
        var tenant = $"q-hosts-{Guid.NewGuid():N}";
        var attempts = Enumerable.Range(0, 90).Select(i => Task.Run(async () =>
        {
            var sp = i % 2 == 0 ? first : second;
            var quotas = sp.GetRequiredService<IQuotaService>();
            using var scope = Enter(sp, tenant);
            var amount = 1 + (i % 3);
            try
            {
                if (i % 3 != 0)
                {
                    await quotas.ReserveAsync("documents", amount, default);
                    return amount;
                }

                await using var connection = await sp.GetRequiredService<NpgsqlDataSource>().OpenConnectionAsync();
                await using var tx = await connection.BeginTransactionAsync();
                await quotas.ReserveAsync("documents", amount, connection, tx);
                await tx.RollbackAsync();
                return 0;
            }
            catch (QuotaExceededException)
            {
                return 0;
            }
        })).ToArray();
        var reserved = (await Task.WhenAll(attempts).WaitAsync("90 concurrent reservations on two hosts")).Sum();

        using var _ = Enter(first, tenant);
        var usage = await first.GetRequiredService<IQuotaService>().GetUsageAsync("documents");
        Assert.Equal(reserved, usage.Used);
        Assert.InRange(usage.Used, 18, 20); // committed amounts are 2 and 3: at most two units stay free, never past the limit
    }
}
