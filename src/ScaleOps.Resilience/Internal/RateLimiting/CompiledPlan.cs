using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ScaleOps.Resilience.RateLimiting;
using StackExchange.Redis;

namespace ScaleOps.Resilience.Internal.RateLimiting;

/// <summary>A plan's rules as token buckets (capacity, refill per millisecond), built once at start-up.</summary>
internal sealed class CompiledPlan
{
    public CompiledPlan(string name, IReadOnlyList<RateLimitRule> rules)
    {
        Name = name;
        Capacity = rules.Select(r => (double)(r.Burst ?? r.PermitLimit)).ToArray();
        RatePerMs = rules.Select(r => r.PermitLimit / r.Window.TotalMilliseconds).ToArray();
        MinCapacity = (int)Capacity.Min();
        Policy = string.Join(", ", rules.Select(PolicyItem));
        ScriptArgs = new RedisValue[2 * rules.Count];
        for (var i = 0; i < rules.Count; i++)
        {
            ScriptArgs[2 * i] = Capacity[i].ToString("R", CultureInfo.InvariantCulture);
            ScriptArgs[(2 * i) + 1] = RatePerMs[i].ToString("R", CultureInfo.InvariantCulture);
        }

        SinglePermitArgs = ScriptArguments(1, 1, 0);
    }

    public string Name { get; }

    public double[] Capacity { get; }

    public double[] RatePerMs { get; }

    public int RuleCount => Capacity.Length;

    /// <summary>The smallest bucket: no request may ask for more permits.</summary>
    public int MinCapacity { get; }

    /// <summary>The <c>RateLimit-Policy</c> header value.</summary>
    public string Policy { get; }

    /// <summary>The per-rule script arguments (capacity, refill per ms), formatted once.</summary>
    public RedisValue[] ScriptArgs { get; }

    /// <summary>
    /// The whole <c>ARGV</c> of the common call (one permit, no lease), built once: shared by concurrent calls, so it must
    /// never be written to.
    /// </summary>
    public RedisValue[] SinglePermitArgs { get; }

    /// <summary>
    /// A rule as a <c>RateLimit-Policy</c> item, <c>q;w=s</c>, whose window <c>w</c> is whole seconds: the rule's own
    /// window when it is whole; otherwise the same rate over the fewest whole seconds (up to an hour) that make the quota
    /// whole (5 per 500 ms is <c>10;w=1</c>, 1 per 1.5 s is <c>2;w=3</c>); failing that, the window rounded up with the
    /// quota scaled and rounded down, so the header never states more than the rule admits.
    /// </summary>
    internal static string PolicyItem(RateLimitRule rule)
    {
        var ticks = rule.Window.Ticks;
        if (ticks % TimeSpan.TicksPerSecond == 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{rule.PermitLimit};w={ticks / TimeSpan.TicksPerSecond}");
        }

        var first = Math.Max(1, (long)Math.Ceiling(rule.Window.TotalSeconds));
        for (var seconds = first; seconds <= Math.Max(first, 3600); seconds++)
        {
            var scaled = (Int128)rule.PermitLimit * seconds * TimeSpan.TicksPerSecond;
            if (scaled % ticks == 0)
            {
                return string.Create(CultureInfo.InvariantCulture, $"{(long)(scaled / ticks)};w={seconds}");
            }
        }

        var floor = (long)((Int128)rule.PermitLimit * first * TimeSpan.TicksPerSecond / ticks);
        return string.Create(CultureInfo.InvariantCulture, $"{floor};w={first}");
    }

    /// <summary>
    /// A new <c>ARGV</c>: want, max, the unused leased tokens given back, the rule count, then each rule's capacity and
    /// refill per ms.
    /// </summary>
    public RedisValue[] ScriptArguments(int want, int max, int givenBack)
    {
        var args = new RedisValue[4 + ScriptArgs.Length];
        args[0] = want;
        args[1] = max;
        args[2] = givenBack;
        args[3] = RuleCount;
        ScriptArgs.CopyTo(args, 4);
        return args;
    }
}
