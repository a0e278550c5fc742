using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.Linq;
using System.Reflection;
using System.Reflection.Metadata;

namespace ScaleOps.Jobs.Internal;

/// <summary>
/// The handlers of this host by kind. A job stored under a generic payload type's old kind (<see cref="Type.FullName"/>,
/// whose type arguments are assembly-qualified with version, culture and token) finds its handler whatever runtime or
/// package version wrote it: the stored name is parsed as a type name (<see cref="TypeName"/>) and named again without
/// assembly information, the way <see cref="JobKind.NameOf"/> names the handler's payload type. Only payload types
/// without <see cref="JobKindAttribute"/> are found that way (their kind never was a type name otherwise).
/// </summary>
internal sealed class JobHandlers
{
    private static readonly TypeNameParseOptions ParseOptions = new() { MaxNodes = JobsDefaults.MaxKindLength };
    private readonly Dictionary<string, JobHandlerRegistration> _byKind = new(StringComparer.Ordinal);
    private readonly Dictionary<string, JobHandlerRegistration> _byTypeName = new(StringComparer.Ordinal);

    public JobHandlers(IEnumerable<JobHandlerRegistration> registrations)
    {
        var all = registrations.ToList();
        foreach (var registration in all)
        {
            _byKind[registration.Kind] = registration;
        }

        foreach (var registration in all)
        {
            if (registration.PayloadType.GetCustomAttribute<JobKindAttribute>() is null)
            {
                // Its kind is its type's name without assembly information.
                _byTypeName.TryAdd(registration.Kind, registration);
            }
        }
    }

    /// <summary>The handler of a kind: by the kind itself, else by the type name an old, assembly-qualified kind names.</summary>
    public bool TryGet(string kind, [NotNullWhen(true)] out JobHandlerRegistration? registration)
    {
        if (_byKind.TryGetValue(kind, out registration))
        {
            return true;
        }

        registration = null;
        return _byTypeName.Count > 0 && kind.Contains('[', StringComparison.Ordinal) && WithoutAssemblies(kind) is { } name
            && !string.Equals(name, kind, StringComparison.Ordinal) && _byTypeName.TryGetValue(name, out registration);
    }

    /// <summary>
    /// A stored type name named again without assembly information at any depth (<c>Ns.Envelope`1[Ns.Order]</c> for
    /// <c>Ns.Envelope`1[[Ns.Order, Orders, Version=1.2.0.0, Culture=neutral, PublicKeyToken=null]]</c>); null when it
    /// does not parse as a type name.
    /// </summary>
    internal static string? WithoutAssemblies(string storedName) =>
        TypeName.TryParse(storedName.AsSpan(), out var parsed, ParseOptions) ? NameOf(parsed) : null;

    /// <summary>The counterpart of <see cref="JobKind.NameOf"/> for a parsed name.</summary>
    private static string? NameOf(TypeName name)
    {
        if (name.IsArray)
        {
            var element = NameOf(name.GetElementType());
            return element is null ? null
                : name.IsSZArray ? element + "[]"
                : element + "[" + new string(',', name.GetArrayRank() - 1) + "]";
        }

        if (name.IsConstructedGenericType)
        {
            var arguments = new List<string>();
            foreach (var argument in name.GetGenericArguments())
            {
                if (NameOf(argument) is not { } argumentName)
                {
                    return null;
                }

                arguments.Add(argumentName);
            }

            return name.GetGenericTypeDefinition().FullName + "[" + string.Join(",", arguments) + "]";
        }

        // Pointers and by-refs are never payload types.
        return name.IsSimple ? name.FullName : null;
    }
}
