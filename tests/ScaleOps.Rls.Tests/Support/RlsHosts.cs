using System;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Testing;

namespace ScaleOps.Rls.Tests.Support;

/// <summary>Hosts whose start runs the RLS start-up checks, for the safety tests.</summary>
public static class RlsHosts
{
    /// <summary>
    /// A host with ScaleOps and Rls over <paramref name="connectionString"/>: the fixture's tables declared, nothing
    /// migrated or applied on start (so the checks see the database as it is), every log record collected.
    /// </summary>
    public static IHost Checked(string connectionString, Action<RlsOptions>? configure = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddFakeLogging();
        builder.Services.AddScaleOps(o =>
        {
            o.ConnectionString = connectionString;
            o.ApplyMigrationsOnStart = false;
        }).AddRls(o =>
        {
            foreach (var table in RlsDatabase.Tables())
            {
                o.Tables.Add(table);
            }

            o.ApplyPoliciesOnStart = false;
            configure?.Invoke(o);
        });
        return builder.Build();
    }
}
