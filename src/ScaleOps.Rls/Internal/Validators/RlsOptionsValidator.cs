using System;
using System.Collections.Generic;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Data;
using ScaleOps.Tenancy;

namespace ScaleOps.Rls.Internal.Validators;

/// <summary>Validates <see cref="RlsOptions"/>; every message names the setting.</summary>
internal sealed class RlsOptionsValidator : IValidateOptions<RlsOptions>
{
    private const string Prefix = "ScaleOps:Rls:";

    public ValidateOptionsResult Validate(string? name, RlsOptions options)
    {
        var errors = new ValidateOptionsResultBuilder();
        if (options.MaxReplicaLag <= TimeSpan.Zero)
        {
            errors.AddError($"{Prefix}{nameof(RlsOptions.MaxReplicaLag)} must be greater than zero; it is {options.MaxReplicaLag}.");
        }

        if (options.ReplicaCheckInterval < TimeSpan.Zero)
        {
            errors.AddError($"{Prefix}{nameof(RlsOptions.ReplicaCheckInterval)} cannot be negative; it is {options.ReplicaCheckInterval}.");
        }

        if (options.ReplicaCheckTimeout <= TimeSpan.Zero)
        {
            errors.AddError($"{Prefix}{nameof(RlsOptions.ReplicaCheckTimeout)} must be greater than zero; it is {options.ReplicaCheckTimeout}.");
        }

        if (options.LockTimeout < TimeSpan.FromMilliseconds(10) || options.LockTimeout > TimeSpan.FromMinutes(1))
        {
            errors.AddError($"{Prefix}{nameof(RlsOptions.LockTimeout)} must be between 10 ms and 1 minute; it is {options.LockTimeout}.");
        }

        if (options.DdlAttempts is < 1 or > 1000)
        {
            errors.AddError($"{Prefix}{nameof(RlsOptions.DdlAttempts)} must be between 1 and 1000; it is {options.DdlAttempts}.");
        }

        if (options.DdlRetryDelay < TimeSpan.Zero || options.DdlRetryDelay > TimeSpan.FromMinutes(1))
        {
            errors.AddError($"{Prefix}{nameof(RlsOptions.DdlRetryDelay)} must be between 0 and 1 minute; it is {options.DdlRetryDelay}.");
        }

        for (var i = 0; i < options.ReplicaConnectionStrings.Count; i++)
        {
            CheckConnectionString($"{Prefix}{nameof(RlsOptions.ReplicaConnectionStrings)}:{i}", options.ReplicaConnectionStrings[i], errors);
        }

        if (options.BypassConnectionString is not null)
        {
            CheckConnectionString($"{Prefix}{nameof(RlsOptions.BypassConnectionString)}", options.BypassConnectionString, errors);
        }

        foreach (var (shard, connectionString) in options.Shards)
        {
            CheckConnectionString($"{Prefix}{nameof(RlsOptions.Shards)}:{shard}", connectionString, errors);
        }

        foreach (var (tenant, shard) in options.TenantPlacements)
        {
            var tenantError = TenantId.Validate(tenant);
            if (tenantError is not null)
            {
                errors.AddError($"{Prefix}{nameof(RlsOptions.TenantPlacements)}:{tenant} is not a valid tenant id: {tenantError}");
            }

            if (!options.Shards.ContainsKey(shard))
            {
                errors.AddError($"{Prefix}{nameof(RlsOptions.TenantPlacements)}:{tenant} names the shard '{shard}', "
                    + $"which is not in {Prefix}{nameof(RlsOptions.Shards)} (known: {string.Join(", ", options.Shards.Keys)}).");
            }
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < options.Tables.Count; i++)
        {
            ValidateTable($"{Prefix}{nameof(RlsOptions.Tables)}[{i}]", options.Tables[i], seen, errors);
        }

        return errors.Build();
    }

    private static void ValidateTable(string key, RlsTable? table, HashSet<string> seen, ValidateOptionsResultBuilder errors)
    {
        if (table is null)
        {
            errors.AddError($"{key} is null.");
            return;
        }

        foreach (var (what, value) in new[] { ("Schema", table.Schema), ("Name", table.Name), ("UserColumn", table.UserColumn) })
        {
            var error = SqlIdentifier.Validate(value);
            if (error is not null)
            {
                errors.AddError($"{key}.{what} is invalid: {error}");
            }
        }

        if (table.TenantColumn is not null && SqlIdentifier.Validate(table.TenantColumn) is { } tenantError)
        {
            errors.AddError($"{key}.TenantColumn is invalid: {tenantError}");
        }

        if (table.Kind == RlsTableKind.Tenant && table.TenantColumn is null)
        {
            errors.AddError($"{key}.TenantColumn is required for a Tenant table ({table}).");
        }

        if (table.Kind == RlsTableKind.RoleOnly && PolicyDdl.ValidateRole(table.Role) is { } roleError)
        {
            errors.AddError($"{key}.Role is required for a RoleOnly table: {roleError}");
        }

        foreach (var role in table.ExtraRoles ?? [])
        {
            if (PolicyDdl.ValidateRole(role) is { } extraError)
            {
                errors.AddError($"{key}.ExtraRoles: {extraError}");
            }
        }

        if (!seen.Add($"{table.Schema}\0{table.Name}"))
        {
            errors.AddError($"{key} declares {table.Schema}.{table.Name} a second time.");
        }
    }

    private static void CheckConnectionString(string key, string? value, ValidateOptionsResultBuilder errors)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            errors.AddError($"{key} is empty.");
            return;
        }

        try
        {
            var builder = new NpgsqlConnectionStringBuilder(value);
            if (string.IsNullOrWhiteSpace(builder.Host))
            {
                errors.AddError($"{key} has no Host.");
            }
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidCastException)
        {
            errors.AddError($"{key} is malformed: {ex.Message}");
        }
    }
}
