using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace ScaleOps.Resilience.Internal;

/// <summary>Takes <c>ConnectionStrings:Redis</c> when <see cref="ResilienceOptions.RedisConnectionString"/> is not set.</summary>
internal sealed class RedisConnectionStringFallback(IConfiguration? configuration = null) : IPostConfigureOptions<ResilienceOptions>
{
    public void PostConfigure(string? name, ResilienceOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.RedisConnectionString))
        {
            options.RedisConnectionString = configuration?.GetConnectionString("Redis");
        }
    }
}
