using System;
using System.Collections.Concurrent;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Options;
using Npgsql;

namespace ScaleOps.SampleHost.Tenancy;

/// <summary>A registered tenant and its plan.</summary>
public sealed record TenantRecord(string Id, string Plan);

/// <summary>
/// The registry of tenants in <c>app.tenants</c>. Each instance caches lookups for at most
/// <see cref="SampleOptions.TenantCacheSeconds"/>, so a plan change reaches every instance within that time.
/// </summary>
public sealed class TenantDirectory(NpgsqlDataSource dataSource, TimeProvider time, IOptions<SampleOptions> options)
{
    /// <summary>The most tenants an instance keeps cached.</summary>
    public const int MaxCached = 10_000;

    private readonly ConcurrentDictionary<string, (TenantRecord? Tenant, long Expires)> _cache = new(StringComparer.Ordinal);

    /// <summary>How many tenants are cached now (for tests and the dashboard).</summary>
    public int CachedCount => _cache.Count;

    public async Task<TenantRecord?> FindAsync(string id, CancellationToken cancellationToken)
    {
        var now = time.GetTimestamp();
        if (_cache.TryGetValue(id, out var cached) && cached.Expires > now)
        {
            return cached.Tenant;
        }

        await using var command = dataSource.CreateCommand("SELECT id, plan FROM app.tenants WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var tenant = await reader.ReadAsync(cancellationToken) ? new TenantRecord(reader.GetString(0), reader.GetString(1)) : null;
        if (tenant is null)
        {
            // Unknown ids are not cached: anyone can send any well-formed id, and caching each would grow without bound.
            _cache.TryRemove(id, out _);
            return null;
        }

        if (_cache.Count >= MaxCached)
        {
            // Bounded: at the cap, drop what has expired; if everything is fresh, start over (the cache is only a shortcut).
            foreach (var entry in _cache)
            {
                if (entry.Value.Expires <= now)
                {
                    _cache.TryRemove(entry);
                }
            }

            if (_cache.Count >= MaxCached)
            {
                _cache.Clear();
            }
        }

        var ttl = TimeSpan.FromSeconds(options.Value.TenantCacheSeconds);
        _cache[id] = (tenant, now + (long)(ttl.TotalSeconds * time.TimestampFrequency));
        return tenant;
    }

    /// <summary>Registers a tenant; false when it exists.</summary>
    public async Task<bool> CreateAsync(string id, string plan, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("INSERT INTO app.tenants (id, plan) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = plan });
        var created = await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        _cache.TryRemove(id, out _);
        return created;
    }

    /// <summary>Changes a tenant's plan; false when the tenant does not exist.</summary>
    public async Task<bool> ChangePlanAsync(string id, string plan, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("UPDATE app.tenants SET plan = $2, updated_at = now() WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = id });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = plan });
        var changed = await command.ExecuteNonQueryAsync(cancellationToken) == 1;
        _cache.TryRemove(id, out _);
        return changed;
    }
}
