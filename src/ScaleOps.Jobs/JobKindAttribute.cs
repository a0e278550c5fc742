using System;

namespace ScaleOps.Jobs;

/// <summary>
/// Names the job kind of a payload type. The kind is stored with each job and selects its handler, so it must stay
/// the same across deployments: set it explicitly before renaming or moving a payload type.
/// Without the attribute the kind is the type's full name.
/// </summary>
/// <param name="kind">The kind, for example <c>email.send</c>; 1 to 200 characters.</param>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct, Inherited = false)]
public sealed class JobKindAttribute(string kind) : Attribute
{
    /// <summary>The kind.</summary>
    public string Kind { get; } = kind;
}
