using System;
using System.Collections.Generic;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace ScaleOps.Internal.Validators;

/// <summary>
/// Refuses, at start-up, two packages whose Redis keys may be the same: one's declared prefix begins with the other's
/// (compared as the UTF-8 bytes Redis keys are). Checked whatever servers and databases their connection strings name:
/// two strings can reach one server, and a connection string changed later would otherwise show the overlap only as
/// WRONGTYPE errors or one package reading the other's values.
/// </summary>
internal sealed class RedisKeyNamespaceValidator(IServiceProvider services) : IValidateOptions<RedisKeyNamespaceCheck>
{
    public ValidateOptionsResult Validate(string? name, RedisKeyNamespaceCheck options)
    {
        var declared = new List<(string Owner, RedisKeyNamespace Namespace, byte[] Prefix)>();
        foreach (var source in services.GetServices<RedisKeyNamespaceSource>())
        {
            if (source.Resolve(services) is { } keyNamespace)
            {
                declared.Add((source.Owner, keyNamespace, Encoding.UTF8.GetBytes(keyNamespace.Prefix)));
            }
        }

        var errors = new ValidateOptionsResultBuilder();
        for (var i = 0; i < declared.Count; i++)
        {
            for (var j = i + 1; j < declared.Count; j++)
            {
                var (a, b) = (declared[i], declared[j]);
                if (!string.Equals(a.Owner, b.Owner, StringComparison.Ordinal) && Overlap(a.Prefix, b.Prefix))
                {
                    errors.AddError(
                        $"{a.Namespace.Setting} ('{a.Namespace.Value}') and {b.Namespace.Setting} ('{b.Namespace.Value}') overlap in Redis: "
                        + $"{a.Owner} writes keys starting '{a.Namespace.Prefix}' and {b.Owner} keys starting '{b.Namespace.Prefix}', so both "
                        + "can write one key. Change one of them so that neither prefix begins with the other (checked even when the two "
                        + "use different Redis servers).");
                }
            }
        }

        return errors.Build();
    }

    private static bool Overlap(byte[] a, byte[] b) => a.AsSpan().StartsWith(b) || b.AsSpan().StartsWith(a);
}
