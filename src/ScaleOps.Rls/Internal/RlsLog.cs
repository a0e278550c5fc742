using System;
using Microsoft.Extensions.Logging;

namespace ScaleOps.Rls.Internal;

/// <summary>Source-generated log messages of ScaleOps.Rls.</summary>
internal static partial class RlsLog
{
    [LoggerMessage(EventId = RlsEventIds.PolicyChanged, Level = LogLevel.Information, Message = "RLS: {Change}")]
    public static partial void PolicyChanged(ILogger logger, string change);

    [LoggerMessage(EventId = RlsEventIds.PoliciesUpToDate, Level = LogLevel.Debug, Message = "RLS policies of {Count} tables are up to date")]
    public static partial void PoliciesUpToDate(ILogger logger, int count);

    [LoggerMessage(EventId = RlsEventIds.SafetyWarning, Level = LogLevel.Warning, Message = "RLS safety check: {Warning}")]
    public static partial void SafetyWarning(ILogger logger, string warning);

    [LoggerMessage(EventId = RlsEventIds.BypassOpened, Level = LogLevel.Warning,
        Message = "RLS bypass opened as role {Role} for: {Reason} (ambient tenant {Tenant})")]
    public static partial void BypassOpened(ILogger logger, string role, string reason, string tenant);

    [LoggerMessage(EventId = RlsEventIds.ReplicaUnhealthy, Level = LogLevel.Warning, Message = "Read replica {Replica} skipped: {Reason}")]
    public static partial void ReplicaUnhealthy(ILogger logger, string replica, string reason);

    [LoggerMessage(EventId = RlsEventIds.PrimaryWalPositionUnavailable, Level = LogLevel.Warning,
        Message = "Replica health check could not read the primary's WAL position ({Reason}); judging replicas by their own WAL receiver")]
    public static partial void PrimaryWalPositionUnavailable(ILogger logger, string reason);

    [LoggerMessage(EventId = RlsEventIds.PolicyLockTimeout, Level = LogLevel.Warning,
        Message = "RLS policies not applied yet: {Relation} is locked by another session beyond ScaleOps:Rls:LockTimeout ({LockTimeout}); "
            + "rolled back, attempt {Attempt} of {Attempts}, next in {Delay}")]
    public static partial void PolicyLockTimeout(ILogger logger, string relation, TimeSpan lockTimeout, int attempt, int attempts, TimeSpan delay);

    [LoggerMessage(EventId = RlsEventIds.ReplicaFallback, Level = LogLevel.Debug, Message = "No healthy read replica; reading from the primary")]
    public static partial void ReplicaFallback(ILogger logger);

    [LoggerMessage(EventId = RlsEventIds.BypassRoleAllowed, Level = LogLevel.Warning,
        Message = "The database role {Role} bypasses row-level security ({Attribute}); allowed by ScaleOps:Rls:AllowBypassRlsRole")]
    public static partial void BypassRoleAllowed(ILogger logger, string role, string attribute);

    [LoggerMessage(EventId = RlsEventIds.BypassRoleAllowed, Level = LogLevel.Warning,
        Message = "Read replica {Replica} is reached as role {Role}, which bypasses row-level security (SUPERUSER or BYPASSRLS), and is used "
            + "for reads because ScaleOps:Rls:AllowBypassRlsRole is true: tenant reads there see every tenant's rows")]
    public static partial void ReplicaBypassRoleAllowed(ILogger logger, string replica, string role);
}
