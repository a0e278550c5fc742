using System.Threading;

namespace ScaleOps.Caching.Tests.Support;

/// <summary>A thread-safe count of factory runs.</summary>
public sealed class Counter
{
    private int _value;

    public int Value => Volatile.Read(ref _value);

    public int Increment() => Interlocked.Increment(ref _value);
}
