using System;
using Microsoft.Extensions.Logging;
using ScaleOps.Diagnostics;

namespace ScaleOps.Internal;

/// <summary>Source-generated log messages of the core.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = ScaleOpsEventIds.MigrationApplied, Level = LogLevel.Information,
        Message = "Applied migration {Component}/{Version} ({Name}) in schema {Schema}")]
    public static partial void MigrationApplied(ILogger logger, string component, int version, string name, string schema);

    [LoggerMessage(EventId = ScaleOpsEventIds.SchemaNewerThanCode, Level = LogLevel.Warning,
        Message = "The database has migration {Component}/{DatabaseVersion}, newer than this build's {CodeVersion}; running anyway (rolling deployment?)")]
    public static partial void SchemaNewerThanCode(ILogger logger, string component, int databaseVersion, int codeVersion);

    [LoggerMessage(EventId = ScaleOpsEventIds.MigrationLockTimeout, Level = LogLevel.Warning,
        Message = "Migration {Migration} waited for a table lock beyond ScaleOps:MigrationLockTimeout ({LockTimeout}): a long query or "
            + "transaction holds it; nothing applied, trying again in {Delay} (attempt {Attempt})")]
    public static partial void MigrationLockTimeout(ILogger logger, string migration, TimeSpan lockTimeout, TimeSpan delay, int attempt);

    [LoggerMessage(EventId = ScaleOpsEventIds.ClockOffDatabase, Level = LogLevel.Warning,
        Message = "The database's clock is {OffsetMs} ms ahead of this host's (negative: behind); times shared between hosts use the "
            + "database's clock, but other clocks of this host are off by as much: check its time synchronisation (NTP)")]
    public static partial void ClockOffDatabase(ILogger logger, long offsetMs);
}
