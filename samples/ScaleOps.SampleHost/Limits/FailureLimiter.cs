using System;
using System.Collections.Concurrent;
using System.Threading;

namespace ScaleOps.SampleHost.Limits;

/// <summary>
/// Failed checks per client in fixed windows, for checks an attacker would repeat: a wrong admin key, an unregistered
/// tenant id. Each attempt takes one unit of its client's budget before the check runs, and an attempt that passes gives
/// it back: failures plus checks still running never exceed the budget, even when attempts arrive all at once (counting
/// failures only after the check would let a burst through). A client whose budget is spent is refused, whatever it
/// sends, until its window ends; the window starts at the client's first attempt. In memory, so per instance. A client
/// is tracked only while it has failures in its window or checks running: one whose checks all passed is dropped at
/// once, so clients that never fail (every registered tenant's callers) do not fill the table. At most
/// <c>maxClients</c> failing clients are tracked; a new client past that is refused until the next sweep drops ended
/// windows.
/// </summary>
/// <remarks>
/// ASP.NET Core's rate limiters count every request, not failures, and their fixed-window leases cannot be given back;
/// ScaleOps.Resilience's limiter is keyed by tenant and plan. Hence this small counter, on the host's
/// <see cref="TimeProvider"/>.
/// </remarks>
public sealed class FailureLimiter
{
    /// <summary>The most clients tracked at once by default.</summary>
    public const int DefaultMaxClients = 100_000;

    private readonly ConcurrentDictionary<string, Window> _clients = new(StringComparer.Ordinal);
    private readonly int _limit;
    private readonly long _windowTicks;
    private readonly TimeProvider _time;
    private readonly int _maxClients;
    private long _nextSweep;

    public FailureLimiter(int limit, TimeSpan window, TimeProvider time, int maxClients = DefaultMaxClients)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxClients, 1);
        ArgumentNullException.ThrowIfNull(time);
        _limit = limit;
        _time = time;
        _maxClients = maxClients;
        _windowTicks = (long)Math.Ceiling(window.TotalSeconds * time.TimestampFrequency);
        _nextSweep = time.GetTimestamp() + _windowTicks;
    }

    /// <summary>How many clients are tracked now.</summary>
    public int TrackedClients => _clients.Count;

    /// <summary>
    /// Starts a check for <paramref name="client"/>: refused (with the time until its window ends) when its budget is
    /// spent; otherwise it holds one unit until <see cref="Attempt.Succeeded"/> gives it back, and keeps it as a failure if
    /// that is never called.
    /// </summary>
    public Attempt Begin(string client)
    {
        ArgumentNullException.ThrowIfNull(client);
        var now = _time.GetTimestamp();
        SweepIfDue(now);
        while (true)
        {
            if (!_clients.TryGetValue(client, out var window))
            {
                if (_clients.Count >= _maxClients)
                {
                    return Attempt.Refused(Remaining(now, Volatile.Read(ref _nextSweep)));
                }

                window = _clients.GetOrAdd(client, static (key, state) => new Window(state.Ends, key, state.Owner), (Ends: now + _windowTicks, Owner: this));
            }

            lock (window)
            {
                if (window.Removed)
                {
                    continue; // swept meanwhile: take the client's new window
                }

                if (now >= window.Ends)
                {
                    // A new window: attempts still running from the old one give nothing back to it.
                    window.Ends = now + _windowTicks;
                    window.Used = 0;
                    window.Generation++;
                }

                if (window.Used >= _limit)
                {
                    return Attempt.Refused(Remaining(now, window.Ends));
                }

                window.Used++;
                return new Attempt(window, window.Generation, TimeSpan.Zero);
            }
        }
    }

    private TimeSpan Remaining(long now, long until) => TimeSpan.FromSeconds(Math.Max(0, until - now) / (double)_time.TimestampFrequency);

    /// <summary>Once a window: drops the clients whose window has ended (their next attempt starts a new one).</summary>
    private void SweepIfDue(long now)
    {
        var due = Volatile.Read(ref _nextSweep);
        if (now < due || Interlocked.CompareExchange(ref _nextSweep, now + _windowTicks, due) != due)
        {
            return;
        }

        foreach (var (client, window) in _clients)
        {
            lock (window)
            {
                if (now >= window.Ends)
                {
                    window.Removed = true;
                    _clients.TryRemove(new(client, window));
                }
            }
        }
    }

    /// <summary>One client's window (guarded by its own lock).</summary>
    internal sealed class Window(long ends, string client, FailureLimiter owner)
    {
        internal readonly string Client = client;
        internal readonly FailureLimiter Owner = owner;
        internal long Ends = ends;
        internal int Used;
        internal int Generation;
        internal bool Removed;
    }

    /// <summary>An attempt: refused, or holding one unit of its client's budget.</summary>
    public readonly struct Attempt
    {
        private readonly Window? _window;
        private readonly int _generation;

        internal Attempt(Window? window, int generation, TimeSpan retryAfter)
        {
            _window = window;
            _generation = generation;
            RetryAfter = retryAfter;
        }

        internal static Attempt Refused(TimeSpan retryAfter) => new(null, 0, retryAfter);

        /// <summary>Whether the check may run.</summary>
        public bool Allowed => _window is not null;

        /// <summary>For a refused attempt: how long until the client's window ends.</summary>
        public TimeSpan RetryAfter { get; }

        /// <summary>The check passed (or did not happen): gives the unit back. Call it at most once.</summary>
        public void Succeeded()
        {
            if (_window is not { } window)
            {
                return;
            }

            lock (window)
            {
                if (window.Generation == _generation && !window.Removed && window.Used > 0)
                {
                    window.Used--;
                }

                if (window.Used == 0 && !window.Removed)
                {
                    // No failure and nothing running: nothing to remember about this client.
                    window.Removed = true;
                    window.Owner._clients.TryRemove(new(window.Client, window));
                }
            }
        }
    }
}
