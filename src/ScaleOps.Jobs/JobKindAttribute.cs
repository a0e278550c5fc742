using System;

namespace ScaleOps.Jobs;

/// <summary>
/// Names the job kind of a payload type. The kind is stored with each job and selects its handler, so it must stay
/// the same across deployments: set it explicitly before renaming or moving a payload type.
/// Without the attribute the kind is the type's namespace-qualified name (<see cref="Type.FullName"/> for a non-generic
/// type); for a generic type, the name of its definition followed by its type arguments named the same way, in brackets
/// (<c>MyApp.Envelope`1[MyApp.Order]</c>), without assembly information, so it does not change with assembly versions.
/// A kind longer than 200 characters is rejected with an <see cref="ArgumentException"/>: name the type with this attribute.
/// </summary>
/// <param name="kind">The kind, for example <c>email.send</c>; 1 to 200 characters.</param>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct, Inherited = false)]
public sealed class JobKindAttribute(string kind) : Attribute
{
    /// <summary>The kind.</summary>
    public string Kind { get; } = kind;
}
