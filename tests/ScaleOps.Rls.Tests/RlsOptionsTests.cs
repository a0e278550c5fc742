using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.Extensions.Configuration;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ScaleOps.Data;
using ScaleOps.Rls.EntityFrameworkCore;
using ScaleOps.Rls.Internal;
using ScaleOps.Tenancy;

namespace ScaleOps.Rls.Tests;

public class RlsOptionsTests
{
    [Fact]
    public void Defaults_are_documented_values()
    {
        var options = new RlsOptions();
        Assert.True(options.ApplyPoliciesOnStart);
        Assert.True(options.VerifyOnStart);
        Assert.False(options.AllowBypassRlsRole);
        Assert.Equal(TimeSpan.FromSeconds(5), options.MaxReplicaLag);
        Assert.Equal(TimeSpan.FromSeconds(2), options.ReplicaCheckInterval);
        Assert.Equal(TimeSpan.FromSeconds(2), options.ReplicaCheckTimeout);
        Assert.Empty(options.Tables);
    }

    [Fact]
    public void AddRlsEntityFrameworkCore_adds_Rls_and_one_interceptor_and_calling_it_twice_is_harmless()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        var builder = services.AddScaleOps(o => o.ConnectionString = "Host=127.0.0.1");
        builder.AddRlsEntityFrameworkCore();
        builder.AddRlsEntityFrameworkCore();
        Assert.Single(services, d => d.ServiceType == typeof(RlsDbCommandInterceptor));
        Assert.Single(services, d => d.ServiceType == typeof(TenantRouter));
        Assert.Equal(typeof(RlsTenantDataSource), Assert.Single(services, d => d.ServiceType == typeof(ITenantDataSource)).ImplementationType);
        using var provider = services.BuildServiceProvider();
        Assert.Same(provider.GetRequiredService<RlsDbCommandInterceptor>(), provider.GetRequiredService<RlsDbCommandInterceptor>());
    }

    [Fact]
    public void Calling_AddRls_twice_is_harmless_and_replaces_the_tenant_data_source()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        var builder = services.AddScaleOps(o => o.ConnectionString = "Host=127.0.0.1");
        builder.AddRls(o => o.ProtectTenantTable("public", "documents"));
        builder.AddRls();
        Assert.Single(services, d => d.ServiceType == typeof(TenantRouter));
        Assert.Single(services, d => d.ServiceType == typeof(RlsBypass));
        Assert.Single(services, d => d.ServiceType == typeof(IValidateOptions<RlsOptions>));
        Assert.Single(services, d => d.ImplementationInstance is { } i && i.GetType().Name == "MigrationSet");
        Assert.Single(services, d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(RlsStartup));
        var data = Assert.Single(services, d => d.ServiceType == typeof(ITenantDataSource));
        Assert.Equal(typeof(RlsTenantDataSource), data.ImplementationType);
        using var provider = services.BuildServiceProvider();
        Assert.Single(provider.GetRequiredService<IOptions<RlsOptions>>().Value.Tables);
    }

    [Fact]
    public void The_services_dispose_synchronously_too()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddScaleOps(o => o.ConnectionString = "Host=127.0.0.1").AddRls(o =>
        {
            o.ReplicaConnectionStrings.Add("Host=127.0.0.1;Port=1");
            o.Shards["s"] = "Host=127.0.0.1;Port=2";
        });
        var provider = services.BuildServiceProvider();
        Assert.IsType<RlsTenantDataSource>(provider.GetRequiredService<ITenantDataSource>());
        provider.GetRequiredService<RlsBypass>();
        provider.Dispose();
    }

    [Fact]
    public void Invalid_settings_are_rejected_naming_each_setting()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddScaleOps(o => o.ConnectionString = "Host=127.0.0.1").AddRls(o =>
        {
            o.MaxReplicaLag = TimeSpan.Zero;
            o.ReplicaCheckInterval = TimeSpan.FromSeconds(-1);
            o.ReplicaCheckTimeout = TimeSpan.Zero;
            o.ReplicaConnectionStrings.Add("Bogus Keyword=1");
            o.Shards["whales"] = "Host=127.0.0.1;Database=whales";
            o.TenantPlacements["acme"] = "nowhere";
            o.Tables.Add(new RlsTable("public", "docs") { TenantColumn = null });
            o.Tables.Add(new RlsTable("public", "audit", RlsTableKind.RoleOnly));
            o.Tables.Add(new RlsTable("public", "notes", RlsTableKind.UserOwned) { ExtraRoles = ["it's"] });
            o.Tables.Add(new RlsTable("public", "notes", RlsTableKind.UserOwned));
        });
        using var provider = services.BuildServiceProvider();
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<RlsOptions>>().Value);
        string[] expected =
        [
            "ScaleOps:Rls:MaxReplicaLag must be greater than zero; it is 00:00:00.",
            "ScaleOps:Rls:ReplicaCheckInterval cannot be negative; it is -00:00:01.",
            "ScaleOps:Rls:ReplicaCheckTimeout must be greater than zero; it is 00:00:00.",
            "ScaleOps:Rls:ReplicaConnectionStrings:0 is malformed",
            "ScaleOps:Rls:TenantPlacements:acme names the shard 'nowhere', which is not in ScaleOps:Rls:Shards (known: whales).",
            "ScaleOps:Rls:Tables[0].TenantColumn is required for a Tenant table (public.docs (Tenant)).",
            "ScaleOps:Rls:Tables[1].Role is required for a RoleOnly table: '' is not a valid role name",
            "ScaleOps:Rls:Tables[2].ExtraRoles: 'it's' is not a valid role name",
            "ScaleOps:Rls:Tables[3] declares public.notes a second time.",
        ];
        foreach (var message in expected)
        {
            Assert.Contains(ex.Failures, f => f.StartsWith(message, StringComparison.Ordinal));
        }

        Assert.Equal(expected.Length, ex.Failures.Count());
    }

    [Fact]
    public async Task The_host_refuses_to_start_with_invalid_settings()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddScaleOps(o => o.ConnectionString = "Host=127.0.0.1").AddRls(o => o.MaxReplicaLag = TimeSpan.FromSeconds(-5));
        using var host = builder.Build();
        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("ScaleOps:Rls:MaxReplicaLag must be greater than zero", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tenant_id_or_shard_name_with_a_colon_binds_from_configuration_as_one_key()
    {
        // ':' is valid in a tenant id (org:1, urn:acme), and the configuration's path separator: the key of
        // TenantPlacements:org:1 is the tenant org:1, not a section org holding a key 1.
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ScaleOps:ConnectionString"] = "Host=127.0.0.1",
            ["ScaleOps:Rls:Shards:eu:west"] = "Host=127.0.0.1;Database=eu_west",
            ["ScaleOps:Rls:Shards:whales"] = "Host=127.0.0.1;Database=whales",
            ["ScaleOps:Rls:TenantPlacements:org:1"] = "eu:west",
            ["ScaleOps:Rls:TenantPlacements:urn:acme:eu"] = "whales",
            ["ScaleOps:Rls:TenantPlacements:plain"] = "whales",
            ["ScaleOps:Rls:MaxReplicaLag"] = "00:00:07",
        }).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddScaleOps().AddRls();
        using var provider = services.BuildServiceProvider();
        var options = provider.GetRequiredService<IOptions<RlsOptions>>().Value;
        Assert.Equal(["eu:west", "whales"], options.Shards.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(
            ["org:1=eu:west", "plain=whales", "urn:acme:eu=whales"],
            options.TenantPlacements.Select(p => $"{p.Key}={p.Value}").Order(StringComparer.Ordinal));
        Assert.Equal(TimeSpan.FromSeconds(7), options.MaxReplicaLag); // the rest of the section binds as before

        var router = provider.GetRequiredService<TenantRouter>();
        Assert.Equal("shard 'eu:west'", router.DescribeHome(router.HomeOf(new TenantId("org:1"))));
        Assert.Equal("shard 'whales'", router.DescribeHome(router.HomeOf(new TenantId("urn:acme:eu"))));
        Assert.Equal("the shared database", router.DescribeHome(router.HomeOf(new TenantId("org"))));
    }
}
