namespace ScaleOps.Rls.Internal;

/// <summary>Log event ids of ScaleOps.Rls (block 2000-2999).</summary>
internal static class RlsEventIds
{
    public const int PolicyChanged = 2001;
    public const int PoliciesUpToDate = 2002;
    public const int SafetyWarning = 2003;
    public const int BypassOpened = 2004;
    public const int ReplicaUnhealthy = 2005;
    public const int ReplicaFallback = 2006;
    public const int BypassRoleAllowed = 2007;
    public const int PrimaryWalPositionUnavailable = 2008;
    public const int PolicyLockTimeout = 2009;
}
