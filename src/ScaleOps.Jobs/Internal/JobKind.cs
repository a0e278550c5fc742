using System;
using System.Linq;
using System.Reflection;

namespace ScaleOps.Jobs.Internal;

/// <summary>
/// The kind of a payload type: its <see cref="JobKindAttribute"/>, else its name: the full name (namespace-qualified)
/// for a non-generic type, and for a generic type the full name of its definition followed by its type arguments, named
/// the same way, in brackets (<c>Ns.Envelope`1[Ns.Order]</c>). Never any assembly information: <see cref="Type.FullName"/>
/// gives a generic type's arguments assembly-qualified (with versions), so the kind changed with the runtime or a
/// package version and the jobs already stored became of an unknown kind (<see cref="JobHandlers"/> still finds the
/// handler of a job stored under such an old kind, whatever versions it names).
/// </summary>
internal static class JobKind
{
    public static string Of(Type payloadType)
    {
        var kind = payloadType.GetCustomAttribute<JobKindAttribute>()?.Kind ?? NameOf(payloadType);
        if (string.IsNullOrWhiteSpace(kind))
        {
            throw new ArgumentException(
                $"The job kind of {NameOf(payloadType)} must be 1 to {JobsDefaults.MaxKindLength} characters, not blank.", nameof(payloadType));
        }

        if (kind.Length > JobsDefaults.MaxKindLength)
        {
            throw new ArgumentException(
                $"The job kind of {NameOf(payloadType)} is {kind.Length} characters, more than {JobsDefaults.MaxKindLength}: " +
                "name it with [JobKind(\"...\")] on the type.",
                nameof(payloadType));
        }

        if (!JobText.IsStorable(kind))
        {
            throw new ArgumentException(JobValues.NotStorable($"The job kind of {NameOf(payloadType)}"), nameof(payloadType));
        }

        return kind;
    }

    /// <summary>A type's namespace-qualified name, with the type arguments of a generic type named the same way.</summary>
    internal static string NameOf(Type type)
    {
        if (type.IsArray)
        {
            var element = NameOf(type.GetElementType()!);
            return type.IsSZArray ? element + "[]" : element + "[" + new string(',', type.GetArrayRank() - 1) + "]";
        }

        if (type.IsGenericType && !type.IsGenericTypeDefinition)
        {
            var definition = NameOf(type.GetGenericTypeDefinition());
            return definition + "[" + string.Join(",", type.GetGenericArguments().Select(NameOf)) + "]";
        }

        return type.FullName ?? type.Name;
    }
}

/// <summary>
/// Caches the kind of <typeparamref name="T"/>. Computed on first use, not in a static initializer: an invalid kind
/// throws its <see cref="ArgumentException"/> at every use, not a <see cref="TypeInitializationException"/> cached for
/// the life of the process.
/// </summary>
internal static class JobKind<T>
{
    private static string? _name;

    public static string Name => _name ??= JobKind.Of(typeof(T));
}
