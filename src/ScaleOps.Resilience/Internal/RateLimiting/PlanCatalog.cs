using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Options;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.Tenancy;

namespace ScaleOps.Resilience.Internal.RateLimiting;

/// <summary>
/// The compiled plans and each tenant's plan, asked of the <see cref="ITenantPlanResolver"/> and kept for
/// <see cref="RateLimitingOptions.PlanCacheDuration"/>. Expired plans are dropped once per duration, when a plan is
/// asked for: a tenant that stopped for good is not held until the 100,000 cap clears the table.
/// </summary>
internal sealed class PlanCatalog
{
    private readonly Dictionary<string, CompiledPlan> _plans;
    private readonly ConcurrentDictionary<TenantId, Entry> _tenants = new();
    private readonly ITenantPlanResolver? _resolver;
    private readonly TimeProvider _time;
    private readonly long _cacheTicks;
    private readonly string _defaultPlan;
    private long _nextSweep;

    public PlanCatalog(IOptions<ResilienceOptions> options, TimeProvider time, IEnumerable<ITenantPlanResolver> resolvers)
    {
        var rateLimiting = options.Value.RateLimiting;
        _plans = rateLimiting.Plans.ToDictionary(p => p.Key, p => new CompiledPlan(p.Key, p.Value), StringComparer.Ordinal);
        _defaultPlan = options.Value.DefaultPlan;
        _resolver = resolvers.LastOrDefault();
        _time = time;
        _cacheTicks = (long)(rateLimiting.PlanCacheDuration.TotalSeconds * time.TimestampFrequency);
    }

    /// <summary>Tenants whose plan is cached (tests check the bound).</summary>
    internal int CachedTenantCount => _tenants.Count;

    /// <summary>The tenant's plan when it is known without I/O, else <see langword="null"/>.</summary>
    public CompiledPlan? TryGetCached(TenantId tenant)
    {
        if (_resolver is null)
        {
            return Get(null);
        }

        return _tenants.TryGetValue(tenant, out var entry) && _time.GetTimestamp() - entry.At < _cacheTicks ? entry.Plan : null;
    }

    public async ValueTask<CompiledPlan> GetAsync(TenantId tenant, CancellationToken cancellationToken)
    {
        var cached = TryGetCached(tenant);
        if (cached is not null)
        {
            return cached;
        }

        var name = await _resolver!.GetPlanAsync(tenant, cancellationToken).ConfigureAwait(false);
        var plan = Get(name);
        if (_cacheTicks <= 0)
        {
            return plan; // PlanCacheDuration 0: asked every time, so nothing to keep (nor to count on every request)
        }

        var now = _time.GetTimestamp();
        _tenants[tenant] = new Entry(plan, now);
        SweepIfDue(now);
        if (_tenants.Count > 100_000)
        {
            _tenants.Clear(); // bounded: the cache is only an optimisation
        }

        return plan;
    }

    /// <summary>
    /// Drops the expired plans, at most once per <see cref="RateLimitingOptions.PlanCacheDuration"/> (one caller at a
    /// time): they used to be kept until the 100,000 cap, one for each tenant seen.
    /// </summary>
    private void SweepIfDue(long now)
    {
        var next = Interlocked.Read(ref _nextSweep);
        if (now < next || Interlocked.CompareExchange(ref _nextSweep, now + _cacheTicks, next) != next)
        {
            return;
        }

        foreach (var pair in _tenants)
        {
            if (now - pair.Value.At >= _cacheTicks)
            {
                _tenants.TryRemove(pair);
            }
        }
    }

    /// <summary>The plan named <paramref name="name"/> (the default plan for <see langword="null"/>).</summary>
    /// <exception cref="UnknownPlanException">No such plan is configured.</exception>
    public CompiledPlan Get(string? name)
    {
        name = ResolveName(name);
        return _plans.TryGetValue(name, out var plan)
            ? plan
            : throw new UnknownPlanException(name, _plans.Keys.Order(StringComparer.Ordinal).ToArray(), "ScaleOps:Resilience:RateLimiting:Plans");
    }

    /// <summary>The tenant's plan name, unchecked (quotas use it too).</summary>
    public async ValueTask<string> GetNameAsync(TenantId tenant, CancellationToken cancellationToken) =>
        ResolveName(_resolver is null ? null : await _resolver.GetPlanAsync(tenant, cancellationToken).ConfigureAwait(false));

    private string ResolveName(string? name) => name ?? _defaultPlan;

    private readonly record struct Entry(CompiledPlan Plan, long At);
}
