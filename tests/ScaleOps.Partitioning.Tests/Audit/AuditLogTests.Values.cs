using System;
using System.Linq;
using System.Net;
using System.Text.Json;
using System.Threading.Tasks;
using ScaleOps.Partitioning.Audit;
using ScaleOps.Tenancy;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Partitioning.Tests.Audit;

public partial class AuditLogTests
{
    /// <summary>
    /// Odd but storable values in one batch: a 1 MB string of supplementary-plane characters and U+FFFF, JSON nested 60
    /// deep, numbers at and past double's range and a 30-digit integer, a key written as an escape, an IPv6 address
    /// with a zone (inet has none: it is stored without it) and an IPv4-mapped one. All are written in one COPY, none is
    /// dropped, and each reads back (jsonb's own normalization aside: 1e308 as its digits, -0 as 0).
    /// </summary>
    [Fact]
    public async Task Odd_but_storable_values_are_written_in_one_batch_and_read_back()
    {
        var (host, audit, tenants, _) = await StartAsync("audit_odd_values", a => a.BatchSize = 4);
        using var _ = host;
        var huge = string.Concat(Enumerable.Repeat("😀ü\uffff", 350_000));
        var nested = string.Concat(Enumerable.Repeat("{\"a\":", 60)) + "[1e308, -0, 1e-400, 123456789012345678901234567890, \"\\u00e9\\t\\\"\"]" + new string('}', 60);
        using var nestedDoc = JsonDocument.Parse(nested, new JsonDocumentOptions { MaxDepth = 100 });
        using var keys = JsonDocument.Parse("{\"\\u0041\": 1, \"B\": \"\\ud83d\\ude00\"}");
        using (tenants.BeginScope(new TenantId("acme")))
        {
            var ids = new[]
            {
                await audit.WriteAsync(new AuditEntry { Action = "huge", EntityType = "document", EntityId = huge, UserAgent = huge }),
                await audit.WriteAsync(new AuditEntry { Action = "nested", EntityType = "document", Changes = nestedDoc.RootElement }),
                await audit.WriteAsync(new AuditEntry { Action = "keys", EntityType = "document", Metadata = keys.RootElement, IpAddress = IPAddress.Parse("fe80::1%2") }),
                await audit.WriteAsync(new AuditEntry { Action = "mapped", EntityType = "document", IpAddress = IPAddress.Parse("::ffff:192.0.2.1") }),
            };
            await audit.FlushAsync().WaitAsync("the flush");

            var found = new AuditRecord[ids.Length];
            for (var i = 0; i < ids.Length; i++)
            {
                found[i] = Assert.IsType<AuditRecord>(await audit.FindAsync(ids[i]));
            }

            Assert.Equal((huge, huge), (found[0].EntityId, found[0].UserAgent));
            var inner = found[1].Changes!.Value;
            for (var depth = 0; depth < 60; depth++)
            {
                inner = inner.GetProperty("a");
            }

            Assert.Equal(1e308, inner[0].GetDouble());
            Assert.Equal("0", inner[1].GetRawText());
            Assert.Matches("^0\\.0{399}1$", inner[2].GetRawText()); // exact: numeric keeps 1e-400
            Assert.Equal("123456789012345678901234567890", inner[3].GetRawText());
            Assert.Equal("é\t\"", inner[4].GetString());
            Assert.Equal((1, "😀"), (found[2].Metadata!.Value.GetProperty("A").GetInt32(), found[2].Metadata!.Value.GetProperty("B").GetString()));
            Assert.Equal(IPAddress.Parse("fe80::1"), found[2].IpAddress);
            Assert.Equal(IPAddress.Parse("::ffff:192.0.2.1"), found[3].IpAddress);
        }

        await host.StopAsync();
    }
}
