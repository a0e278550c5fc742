using System;
using System.Collections.Concurrent;
using ScaleOps.Caching.Internal.L1;

namespace ScaleOps.Caching.Tests.Internal;

/// <summary>
/// What one tenant costs in memory before it holds anything: tens of thousands of tenants each keep a bucket while they
/// have entries (and for two sweeps after), so its fixed part must not grow with the machine's core count.
/// </summary>
public sealed class BucketFootprintTests
{
    [Fact]
    public void A_tenants_bucket_costs_its_entry_table_plus_a_fixed_few_hundred_bytes_whatever_the_core_count()
    {
        // Warm up the types (static constructors, comparers) so that only the instances are measured.
        GC.KeepAlive(new TenantBucket("warm", "p:{warm}:"));
        GC.KeepAlive(new ConcurrentDictionary<string, L1Entry>(StringComparer.Ordinal));

        var before = GC.GetAllocatedBytesForCurrentThread();
        var table = new ConcurrentDictionary<string, L1Entry>(StringComparer.Ordinal);
        var tableBytes = GC.GetAllocatedBytesForCurrentThread() - before;
        before = GC.GetAllocatedBytesForCurrentThread();
        var bucket = new TenantBucket("acme", "p:{acme}:");
        var bucketBytes = GC.GetAllocatedBytesForCurrentThread() - before;
        GC.KeepAlive(table);
        GC.KeepAlive(bucket);

        // The entry table scales with the cores (a lock per core: about 3 KB at 64); the tables of loads and writes in
        // flight, empty nearly always, used to be two more of the same (9.1 KB per bucket at 64 cores, 1.6 KB at 2).
        Assert.True(
            bucketBytes - tableBytes <= 768,
            $"A bucket allocates {bucketBytes} bytes, {bucketBytes - tableBytes} beyond its entry table ({tableBytes}), on {Environment.ProcessorCount} cores");
    }
}
