using System;
using System.Diagnostics;
using System.Globalization;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Resilience.RateLimiting;
using ScaleOps.Tenancy;

namespace ScaleOps.Benchmarks.Soak;

/// <summary>The command line: bounded in time (<see cref="Minutes"/>) and in tenants (<see cref="Tenants"/>).</summary>
internal sealed record SoakSettings(double Minutes, int SampleSeconds, int Live, int Tenants, int Workers, double RestartAt, bool SharedRedis)
{
    public static SoakSettings Parse(string[] args)
    {
        var s = new SoakSettings(3, 15, 2_000, 50_000, 8, 0.5, false);
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            var value = args[i + 1];
            s = args[i] switch
            {
                "--minutes" => s with { Minutes = double.Parse(value, CultureInfo.InvariantCulture) },
                "--sample-seconds" => s with { SampleSeconds = int.Parse(value, CultureInfo.InvariantCulture) },
                "--live" => s with { Live = int.Parse(value, CultureInfo.InvariantCulture) },
                "--tenants" => s with { Tenants = int.Parse(value, CultureInfo.InvariantCulture) },
                "--workers" => s with { Workers = int.Parse(value, CultureInfo.InvariantCulture) },
                "--restart-at" => s with { RestartAt = double.Parse(value, CultureInfo.InvariantCulture) },
                "--redis" => s with { SharedRedis = value == "shared" },
                _ => throw new ArgumentException($"Unknown option '{args[i]}'."),
            };
        }

        if (s.Minutes is <= 0 or > 120 || s.Live < 1 || s.Tenants < s.Live || s.Workers is < 1 or > 64 || s.SampleSeconds < 1)
        {
            throw new ArgumentException("Bounds: 0 < --minutes <= 120, --live >= 1, --tenants >= --live, 1 <= --workers <= 64, --sample-seconds >= 1.");
        }

        return s;
    }
}

/// <summary>
/// The tenants: a window of <see cref="SoakSettings.Live"/> consecutive numbers that slides forward at a steady rate, so
/// that <see cref="SoakSettings.Tenants"/> have been seen when the run ends; a tenant that leaves the window never comes
/// back. Within the window calls are skewed (the cube of a uniform number): a few tenants are busy, most are idle.
/// </summary>
internal sealed class Population(SoakSettings settings)
{
    private int _first;

    /// <summary>Tenants seen so far (the window's end).</summary>
    public int Seen => Volatile.Read(ref _first) + settings.Live;

    public int Live => settings.Live;

    public static string Name(int n) => $"t{n:D6}";

    public string Pick(Random random)
    {
        var u = random.NextDouble();
        return Name(Volatile.Read(ref _first) + (int)(u * u * u * settings.Live));
    }

    public async Task ChurnAsync(Stopwatch clock, CancellationToken stop)
    {
        var total = TimeSpan.FromMinutes(settings.Minutes);
        var leaving = settings.Tenants - settings.Live;
        while (!stop.IsCancellationRequested)
        {
            Volatile.Write(ref _first, (int)Math.Min(leaving, leaving * (clock.Elapsed / total)));
            try
            {
                await Task.Delay(100, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}

/// <summary>A plan per tenant from its name (one tenant in ten is "pro"), asynchronously, as a database would answer.</summary>
internal sealed class HashPlans : ITenantPlanResolver
{
    public async ValueTask<string?> GetPlanAsync(TenantId tenant, CancellationToken cancellationToken)
    {
        await Task.Yield();
        return tenant.Value.EndsWith('7') ? "pro" : null;
    }
}
