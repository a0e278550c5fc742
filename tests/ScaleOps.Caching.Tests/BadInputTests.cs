using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ScaleOps.Caching.Tests.Support;

namespace ScaleOps.Caching.Tests;

/// <summary>
/// Every kind of bad input the README lists or implies (keys, tags, entry options, the settings of its table) fails with
/// a clear exception that names the problem, before anything is cached.
/// </summary>
public sealed class BadInputTests(SingleRedis redis) : IClassFixture<SingleRedis>
{
    [Theory]
    [InlineData("DefaultExpiration", "30.00:00:01", "must be between 00:00:01 and 30.00:00:00")]
    [InlineData("NegativeExpiration", "1.00:00:01", "must be between 00:00:00 and 1.00:00:00")]
    [InlineData("JitterFraction", "0.6", "must be between 0 and 0.5")]
    [InlineData("FailSafeMaxDuration", "7.00:00:01", "must be between 00:00:00 and 7.00:00:00")]
    [InlineData("FailSafeThrottle", "00:00:00.500", "must be between 00:00:01 and 01:00:00")]
    [InlineData("FactoryTimeout", "00:00:00", "must be between 00:00:00.0010000 and 01:00:00")]
    [InlineData("EagerRefreshThreshold", "1", "must be greater than 0 and less than 1 (unset: off); it is 1.")]
    [InlineData("EagerRefreshThreshold", "0", "must be greater than 0 and less than 1 (unset: off); it is 0.")]
    [InlineData("EagerRefreshThreshold", "-0.5", "must be greater than 0 and less than 1 (unset: off); it is -0.5.")]
    [InlineData("RedisTimeout", "00:00:00.005", "must be between 00:00:00.0100000 and 00:00:30")]
    [InlineData("BreakerDuration", "00:10:01", "must be between 00:00:00.1000000 and 00:10:00")]
    [InlineData("DistributedLockLease", "00:00:00.050", "must be between 00:00:00.1000000 and 00:10:00")]
    [InlineData("DistributedLockWait", "00:10:01", "must be between 00:00:00.0100000 and 00:10:00")]
    [InlineData("MaxKeyLength", "65537", "must be between 16 and 65536")]
    [InlineData("MaxPayloadBytes", "1023", "must be between 1024 and 536870912")]
    [InlineData("MaxMemoryEntries", "100000001", "must be between 1 and 100000000")]
    [InlineData("MaxMemoryEntriesPerTenant", "0", "must be between 1 and ScaleOps:Caching:MaxMemoryEntries (100000), or unset (no per-tenant bound); it is 0.")]
    [InlineData("MaxMemoryEntriesPerTenant", "100001", "must be between 1 and ScaleOps:Caching:MaxMemoryEntries (100000), or unset (no per-tenant bound); it is 100001.")]
    [InlineData("SweepInterval", "01:00:01", "must be between 00:00:01 and 01:00:00")]
    [InlineData("KeyPrefix", "has space", "must be 1 to 100 characters without '{', '}' or white space; it is 'has space'")]
    [InlineData("KeyPrefix", "a}b", "must be 1 to 100 characters without '{', '}' or white space; it is 'a}b'")]
    [InlineData("RedisConnectionString", ",", "names no endpoint")]
    public async Task Each_setting_out_of_its_README_range_fails_the_start_naming_it(string setting, string value, string expected)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ScaleOps:Caching:RedisConnectionString"] = "127.0.0.1:6390",
            ["ScaleOps:Caching:" + setting] = value,
        });
        builder.Services.AddScaleOps(o =>
        {
            o.ConnectionString = "Host=127.0.0.1";
            o.ApplyMigrationsOnStart = false;
        }).AddCaching();
        using var host = builder.Build();
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains($"ScaleOps:Caching:{setting} {expected}", error.Message, StringComparison.Ordinal);
    }

    /// <summary>The prefix begins every Redis key (UTF-8): with an unpaired surrogate, written as U+FFFD, it could be another's.</summary>
    [Fact]
    public async Task A_key_prefix_with_an_unpaired_surrogate_fails_the_start_naming_it()
    {
        await Each_setting_out_of_its_README_range_fails_the_start_naming_it(
            "KeyPrefix", "app\uD800", "must be 1 to 100 characters without '{', '}' or white space; it is 'app\uD800' (an unpaired surrogate (U+D800) at index 3)");
    }

    [Fact]
    public async Task A_key_prefix_longer_than_100_characters_fails_the_start_naming_it()
    {
        await Each_setting_out_of_its_README_range_fails_the_start_naming_it("KeyPrefix", new string('p', 101), "must be 1 to 100 characters");
    }

    [Fact]
    public async Task Null_empty_and_too_long_keys_and_tags_are_refused_by_every_call_naming_the_parameter()
    {
        await using var node = CacheNode.Create(redis.ConnectionString, Unique.Prefix("bad-input", "keys"), o => o.MaxKeyLength = 16);
        using var scope = node.As("acme");
        var tooLong = new string('k', 17);
        var calls = new (string Parameter, Func<string, ValueTask> Call)[]
        {
            ("key", k => AsTask(node.Cache.GetOrSetAsync(k, _ => ValueTask.FromResult(1)))),
            ("key", k => AsTask(node.Cache.GetOrSetEntryAsync(k, _ => ValueTask.FromResult(1)))),
            ("key", k => AsTask(node.Cache.TryGetAsync<int>(k))),
            ("key", k => node.Cache.SetAsync(k, 1)),
            ("key", k => node.Cache.RemoveAsync(k)),
            ("tag", k => node.Cache.RemoveByTagAsync(k)),
            ("key", k => AsTask(node.Hybrid.GetOrCreateAsync(k, _ => ValueTask.FromResult(1)))),
        };
        foreach (var (parameter, call) in calls)
        {
            Assert.Equal(parameter, (await Assert.ThrowsAsync<ArgumentNullException>(async () => await call(null!))).ParamName);
            var empty = await Assert.ThrowsAsync<ArgumentException>(async () => await call(""));
            Assert.Equal((parameter, $"A cache key or tag cannot be empty. (Parameter '{parameter}')"), (empty.ParamName, empty.Message));
            var longer = await Assert.ThrowsAsync<ArgumentException>(async () => await call(tooLong));
            Assert.Equal(
                (parameter, $"A cache key or tag is at most 16 characters (ScaleOps:Caching:MaxKeyLength); this one has 17. (Parameter '{parameter}')"),
                (longer.ParamName, longer.Message));
        }

        // Tags of an entry: the same rules, named as the options' Tags; nothing is written.
        foreach (var tag in new[] { null!, "", tooLong })
        {
            var options = new CacheEntryOptions { Tags = ["fine", tag] };
            var set = await Assert.ThrowsAnyAsync<ArgumentException>(async () => await node.Cache.SetAsync("tagged", 1, options));
            Assert.Equal("Tags", set.ParamName);
            var loaded = await Assert.ThrowsAnyAsync<ArgumentException>(async () => await node.Cache.GetOrSetAsync("tagged", _ => ValueTask.FromResult(2), options));
            Assert.Equal("Tags", loaded.ParamName);
        }

        Assert.False((await node.Cache.TryGetAsync<int>("tagged")).HasValue);
    }

    /// <summary>
    /// Redis keys are bytes: a key or tag with an unpaired surrogate cannot be encoded as UTF-8, and the client encoded it
    /// as U+FFFD, so <c>a\uD800</c>, <c>a\uDBFF</c> and <c>a\uFFFD</c> were one Redis key (another instance read one
    /// key's value for the other). They are refused, naming the position, before anything is read or written.
    /// </summary>
    [Fact]
    public async Task Keys_and_tags_with_an_unpaired_surrogate_are_refused_naming_the_index_so_no_two_keys_share_a_Redis_key()
    {
        var prefix = Unique.Prefix("bad-input", "surrogates");
        await using var writer = CacheNode.Create(redis.ConnectionString, prefix);
        await using var reader = CacheNode.Create(redis.ConnectionString, prefix);
        using var writing = writer.As("acme");
        using var reading = reader.As("acme");
        await writer.Cache.SetAsync("a\uFFFD", "replacement character");
        foreach (var bad in new[] { "a\uD800", "a\uDBFF", "\uDC00a", "a\uDC00\uD800" })
        {
            var calls = new (string Parameter, Func<ValueTask> Call)[]
            {
                ("key", () => AsTask(reader.Cache.TryGetAsync<string>(bad))),
                ("key", () => AsTask(reader.Cache.GetOrSetAsync(bad, _ => ValueTask.FromResult("loaded")))),
                ("key", () => reader.Cache.SetAsync(bad, "written")),
                ("key", () => reader.Cache.RemoveAsync(bad)),
                ("tag", () => reader.Cache.RemoveByTagAsync(bad)),
                ("Tags", () => reader.Cache.SetAsync("k", "v", new CacheEntryOptions { Tags = [bad] })),
                ("key", () => AsTask(reader.Hybrid.GetOrCreateAsync(bad, _ => ValueTask.FromResult("loaded")))),
            };
            foreach (var (parameter, call) in calls)
            {
                var error = await Assert.ThrowsAsync<ArgumentException>(async () => await call());
                Assert.Equal(parameter, error.ParamName);
                Assert.Contains("unpaired surrogate", error.Message, StringComparison.Ordinal);
            }
        }

        Assert.Equal("replacement character", (await reader.Cache.TryGetAsync<string>("a\uFFFD")).Value); // valid: kept
        Assert.False((await reader.Cache.TryGetAsync<string>("k")).HasValue);
    }

    /// <summary>Out-of-range entry options name the setting in the message and the call's <c>options</c> parameter.</summary>
    [Fact]
    public async Task Entry_options_out_of_range_name_the_setting_and_the_options_parameter()
    {
        await using var node = CacheNode.Create(redis.ConnectionString, Unique.Prefix("bad-input", "options"));
        using var scope = node.As("acme");
        foreach (var (options, message) in new (CacheEntryOptions, string)[]
        {
            (new() { Expiration = TimeSpan.Zero }, "CacheEntryOptions.Expiration must be positive and at most 365 days."),
            (new() { Expiration = TimeSpan.FromSeconds(-1) }, "CacheEntryOptions.Expiration must be positive and at most 365 days."),
            (new() { NegativeExpiration = TimeSpan.FromDays(366) }, "CacheEntryOptions.NegativeExpiration must be between zero (nulls not cached) and 365 days."),
            (new() { LocalExpiration = TimeSpan.FromTicks(-1) }, "CacheEntryOptions.LocalExpiration cannot be negative (zero: Redis only)."),
            (new() { FactoryTimeout = TimeSpan.FromTicks(5_000) }, "CacheEntryOptions.FactoryTimeout must be between 1 ms and 1 h."),
            (new() { EagerRefreshThreshold = 1 }, "CacheEntryOptions.EagerRefreshThreshold must be greater than 0 and less than 1, or 0 (eager refresh off for the call)."),
            (new() { EagerRefreshThreshold = -0.1 }, "CacheEntryOptions.EagerRefreshThreshold must be greater than 0 and less than 1, or 0 (eager refresh off for the call)."),
            (new() { EagerRefreshThreshold = double.NaN }, "CacheEntryOptions.EagerRefreshThreshold must be greater than 0 and less than 1, or 0 (eager refresh off for the call)."),
        })
        {
            var set = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await node.Cache.SetAsync("k", "v", options));
            Assert.Equal("options", set.ParamName);
            Assert.StartsWith(message, set.Message, StringComparison.Ordinal);
            var loaded = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await node.Cache.GetOrSetAsync("k", _ => ValueTask.FromResult("v"), options));
            Assert.Equal("options", loaded.ParamName);
        }

        Assert.False((await node.Cache.TryGetAsync<string>("k")).HasValue);
    }

    private static async ValueTask AsTask<T>(ValueTask<T> call) => await call;
}
