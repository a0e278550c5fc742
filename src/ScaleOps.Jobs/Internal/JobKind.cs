using System;
using System.Reflection;

namespace ScaleOps.Jobs.Internal;

/// <summary>The kind of a payload type: its <see cref="JobKindAttribute"/>, else its full name.</summary>
internal static class JobKind
{
    public static string Of(Type payloadType)
    {
        var kind = payloadType.GetCustomAttribute<JobKindAttribute>()?.Kind ?? payloadType.FullName ?? payloadType.Name;
        if (string.IsNullOrWhiteSpace(kind) || kind.Length > JobsDefaults.MaxKindLength)
        {
            throw new ArgumentException(
                $"The job kind of {payloadType} must be 1 to {JobsDefaults.MaxKindLength} characters; set [JobKind(\"...\")] on the type.",
                nameof(payloadType));
        }

        if (!JobText.IsStorable(kind))
        {
            throw new ArgumentException(JobValues.NotStorable($"The job kind of {payloadType}"), nameof(payloadType));
        }

        return kind;
    }
}

/// <summary>Caches the kind of <typeparamref name="T"/>.</summary>
internal static class JobKind<T>
{
    public static readonly string Name = JobKind.Of(typeof(T));
}
