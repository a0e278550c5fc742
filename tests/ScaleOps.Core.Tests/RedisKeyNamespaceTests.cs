using System;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ScaleOps.TestInfrastructure;

namespace ScaleOps.Core.Tests;

/// <summary>
/// <c>AddRedisKeyNamespace</c>: packages declare what their Redis keys start with, and the start fails when two owners'
/// prefixes overlap. ScaleOps.Caching and ScaleOps.Resilience together: <c>SharedRedisKeyspaceTests</c> (Caching tests).
/// </summary>
public class RedisKeyNamespaceTests
{
    public sealed class AlphaOptions
    {
        public string Prefix { get; set; } = "alpha:{";

        public bool Invalid { get; set; }
    }

    public sealed class BetaOptions
    {
        public string? Prefix { get; set; } = "beta{";
    }

    private static IHost BuildHost(Action<IScaleOpsBuilder> declare, Action<AlphaOptions>? alpha = null, Action<BetaOptions>? beta = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var scaleOps = builder.Services.AddScaleOps(o =>
        {
            o.ConnectionString = "Host=127.0.0.1";
            o.ApplyMigrationsOnStart = false;
        });
        builder.Services.AddOptions<AlphaOptions>().Configure(alpha ?? (_ => { }))
            .Validate(o => !o.Invalid, "Alpha:Invalid is set.").ValidateOnStart();
        builder.Services.AddOptions<BetaOptions>().Configure(beta ?? (_ => { }));
        declare(scaleOps);
        return builder.Build();
    }

    private static IScaleOpsBuilder DeclareAlpha(IScaleOpsBuilder builder, string owner = "Alpha") =>
        builder.AddRedisKeyNamespace<AlphaOptions>(owner, o => new RedisKeyNamespace("Alpha:Prefix", o.Prefix, o.Prefix));

    private static IScaleOpsBuilder DeclareBeta(IScaleOpsBuilder builder) =>
        builder.AddRedisKeyNamespace<BetaOptions>("Beta", o => o.Prefix is null ? null : new RedisKeyNamespace("Beta:Prefix", o.Prefix, o.Prefix));

    [Theory]
    [InlineData("app:{", "app:{")]
    [InlineData("app:", "app:x{")]
    [InlineData("app:x{", "app:")]
    public async Task Two_owners_whose_prefixes_overlap_fail_the_start_naming_both_settings_and_values(string alpha, string beta)
    {
        using var host = BuildHost(b => DeclareBeta(DeclareAlpha(b)), o => o.Prefix = alpha, o => o.Prefix = beta);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Equal(
            $"Alpha:Prefix ('{alpha}') and Beta:Prefix ('{beta}') overlap in Redis: Alpha writes keys starting '{alpha}' and Beta keys "
            + $"starting '{beta}', so both can write one key. Change one of them so that neither prefix begins with the other "
            + "(checked even when the two use different Redis servers).",
            error.Message);
    }

    [Fact]
    public async Task Prefixes_are_compared_as_the_UTF8_bytes_Redis_keys_are()
    {
        // An unpaired surrogate has no UTF-8 form: the client sends U+FFFD. (In code, not InlineData: an attribute's
        // string is stored as UTF-8, which loses the surrogate too.)
        using var host = BuildHost(b => DeclareBeta(DeclareAlpha(b)), o => o.Prefix = "a\uD800{", o => o.Prefix = "a\uFFFD{");

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("overlap in Redis", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("app:{", "app:rl:{")]
    [InlineData("app:{", "app{")]
    [InlineData("alpha:{", "beta{")]
    public async Task Prefixes_where_neither_begins_with_the_other_start(string alpha, string beta)
    {
        using var host = BuildHost(b => DeclareBeta(DeclareAlpha(b)), o => o.Prefix = alpha, o => o.Prefix = beta);
        await host.StartAsync().WaitAsync("the host to start");
        await host.StopAsync().WaitAsync("the host to stop");
    }

    [Fact]
    public async Task One_owner_alone_starts_and_declaring_it_again_is_ignored()
    {
        using var host = BuildHost(b => DeclareAlpha(DeclareAlpha(b)));
        await host.StartAsync().WaitAsync("the host to start");
        await host.StopAsync().WaitAsync("the host to stop");
    }

    [Fact]
    public async Task An_owner_that_writes_no_key_with_its_options_is_left_out()
    {
        using var host = BuildHost(b => DeclareBeta(DeclareAlpha(b)), o => o.Prefix = "app:{", o => o.Prefix = null);
        await host.StartAsync().WaitAsync("the host to start");
        await host.StopAsync().WaitAsync("the host to stop");
    }

    [Fact]
    public async Task Options_that_fail_their_own_validation_stop_the_start_with_their_error_alone()
    {
        using var host = BuildHost(b => DeclareBeta(DeclareAlpha(b)), o => (o.Prefix, o.Invalid) = ("app:{", true), o => o.Prefix = "app:{");

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Equal(typeof(AlphaOptions), error.OptionsType);
        Assert.Equal("Alpha:Invalid is set.", error.Message);
    }

    [Fact]
    public void A_declaration_needs_a_setting_and_a_prefix()
    {
        Assert.Throws<ArgumentException>(() => new RedisKeyNamespace("", "v", "v:{"));
        Assert.Throws<ArgumentException>(() => new RedisKeyNamespace("Alpha:Prefix", "v", ""));
        var builder = new ServiceCollection().AddScaleOps();
        Assert.Throws<ArgumentException>(() => builder.AddRedisKeyNamespace<AlphaOptions>(" ", o => null));
    }
}
