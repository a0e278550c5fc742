using System;

namespace ScaleOps.Resilience.Internal.RateLimiting;

internal static class PermitCheck
{
    /// <summary>Rejects permit counts that no bucket of the plan could ever grant.</summary>
    public static void Validate(CompiledPlan plan, int permitCount)
    {
        if (permitCount < 0 || permitCount > plan.MinCapacity)
        {
            throw new ArgumentOutOfRangeException(nameof(permitCount), permitCount,
                $"The permit count must be from 0 to {plan.MinCapacity} (the smallest bucket of plan '{plan.Name}').");
        }
    }
}
