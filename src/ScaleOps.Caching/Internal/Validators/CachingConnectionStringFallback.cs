using System;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ScaleOps.Caching.Internal.Validators;

/// <summary>Takes <c>ConnectionStrings:{ConnectionStringName}</c> when <see cref="CachingOptions.RedisConnectionString"/> is not set.</summary>
internal sealed class CachingConnectionStringFallback(IServiceProvider services) : IPostConfigureOptions<CachingOptions>
{
    public void PostConfigure(string? name, CachingOptions options)
    {
        if (!string.IsNullOrWhiteSpace(options.RedisConnectionString) || string.IsNullOrWhiteSpace(options.ConnectionStringName))
        {
            return;
        }

        options.RedisConnectionString = services.GetService<IConfiguration>()?.GetConnectionString(options.ConnectionStringName);
    }
}
