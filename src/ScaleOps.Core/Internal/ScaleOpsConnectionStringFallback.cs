using System;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ScaleOps.Internal;

/// <summary>Takes <c>ConnectionStrings:{ConnectionStringName}</c> when <see cref="ScaleOpsOptions.ConnectionString"/> is not set.</summary>
internal sealed class ScaleOpsConnectionStringFallback(IServiceProvider services) : IPostConfigureOptions<ScaleOpsOptions>
{
    public void PostConfigure(string? name, ScaleOpsOptions options)
    {
        if (!string.IsNullOrWhiteSpace(options.ConnectionString) || string.IsNullOrWhiteSpace(options.ConnectionStringName))
        {
            return;
        }

        var configuration = services.GetService<IConfiguration>();
        options.ConnectionString = configuration?.GetConnectionString(options.ConnectionStringName);
    }
}
