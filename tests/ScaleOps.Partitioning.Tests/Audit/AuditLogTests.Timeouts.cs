using System.Threading.Tasks;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Partitioning.Tests.Audit;

public partial class AuditLogTests
{
    [Fact]
    public async Task A_batch_that_times_out_is_written_in_smaller_batches()
    {
        // A statement_timeout shorter than one batch's COPY (a role's or database's setting) cancelled the same batch on
        // every retry: the trail stalled for good. A trigger stands in for the timeout: it cancels any statement that
        // writes more than 8 rows, with the SQLSTATE of a statement timeout (57014).
        var (host, audit, tenants, _) = await StartAsync("audit_timeout", a => a.BatchSize = 40);
        using var _ = host;
        await database.DataSource.ExecAsync("""
            CREATE FUNCTION audit_timeout.cancel_large() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE n int := coalesce(nullif(current_setting('audit_test.rows', true), ''), '0')::int + 1;
            BEGIN
                PERFORM set_config('audit_test.rows', n::text, true);
                IF n > 8 THEN
                    RAISE EXCEPTION 'canceling statement due to statement timeout' USING ERRCODE = 'query_canceled';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER cancel_large BEFORE INSERT ON audit_timeout.audit_log FOR EACH ROW EXECUTE FUNCTION audit_timeout.cancel_large();
            """);
        using (tenants.BeginScope(new TenantId("acme")))
        {
            for (var i = 0; i < 40; i++)
            {
                await audit.WriteAsync(Entry("e" + i));
            }

            await audit.FlushAsync().WaitAsync("the flush of a batch that times out whole");
        }

        Assert.Equal(40L, await database.DataSource.ScalarAsync<long>("SELECT count(DISTINCT id) FROM audit_timeout.audit_log"));
        await host.StopAsync();
    }
}
