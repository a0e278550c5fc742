using System;
using System.Linq;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using ScaleOps.Data;
using ScaleOps.Partitioning.Lifecycle;

namespace ScaleOps.Partitioning.Internal;

/// <summary>Validates <see cref="PartitioningOptions"/> at start-up; every message names the setting.</summary>
internal sealed class PartitioningOptionsValidator(IServiceProvider services) : IValidateOptions<PartitioningOptions>
{
    private const string P = PartitioningDefaults.Section + ":";

    public ValidateOptionsResult Validate(string? name, PartitioningOptions options)
    {
        var errors = new ValidateOptionsResultBuilder();
        Range(errors, "MaintenanceInterval", options.MaintenanceInterval, TimeSpan.Zero, TimeSpan.FromDays(1));
        if (options.MaintenanceInterval > TimeSpan.Zero && options.MaintenanceInterval < TimeSpan.FromSeconds(1))
        {
            errors.AddError($"{P}MaintenanceInterval is {options.MaintenanceInterval}; use zero (no schedule) or 1 second to 1 day.");
        }

        Range(errors, "LockTimeout", options.LockTimeout, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(1));
        Range(errors, "DdlRetryDelay", options.DdlRetryDelay, TimeSpan.Zero, TimeSpan.FromMinutes(1));
        Range(errors, P + "DdlAttempts", options.DdlAttempts, 1, 1000);
        Range(errors, P + "ArchiveRowGroupSize", options.ArchiveRowGroupSize, 100, 1_000_000);
        Range(errors, "ArchiveNetworkTimeout", options.ArchiveNetworkTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10));
        if (options.ArchiveContainer is null || options.ArchiveContainer.Length is < 3 or > 63
            || !options.ArchiveContainer.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
        {
            errors.AddError($"{P}ArchiveContainer '{options.ArchiveContainer}' must be 3 to 63 lowercase letters, digits and hyphens.");
        }

        if (options.PlanCacheMode is not null and not ("auto" or "force_generic_plan" or "force_custom_plan"))
        {
            errors.AddError($"{P}PlanCacheMode '{options.PlanCacheMode}' is not one of auto, force_generic_plan, force_custom_plan.");
        }

        if (!string.IsNullOrEmpty(options.PlanCacheRole))
        {
            Identifier(errors, P + "PlanCacheRole", options.PlanCacheRole);
        }

        var audit = options.Audit;
        Range(errors, P + "Audit:Capacity", audit.Capacity, 1, 1_000_000);
        Range(errors, P + "Audit:BatchSize", audit.BatchSize, 1, 100_000);
        Range(errors, "Audit:FlushInterval", audit.FlushInterval, TimeSpan.FromMilliseconds(1), TimeSpan.FromMinutes(1));
        if (audit.Enabled)
        {
            ValidateTable(errors, P + "Audit", ManagedTable.AuditTable(options, "scaleops"), options);
        }

        for (var i = 0; i < options.Tables.Count; i++)
        {
            ValidateTable(errors, $"{P}Tables:{i}", options.Tables[i], options);
        }

        var duplicate = options.Tables.GroupBy(t => (t.Schema, t.Name)).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            errors.AddError($"{P}Tables lists {duplicate.Key.Schema}.{duplicate.Key.Name} twice.");
        }

        return errors.Build();
    }

    internal string? BlobConnectionString(PartitioningOptions options) =>
        !string.IsNullOrWhiteSpace(options.BlobConnectionString)
            ? options.BlobConnectionString
            : services.GetService<IConfiguration>()?.GetConnectionString("Blob");

    private void ValidateTable(ValidateOptionsResultBuilder errors, string path, PartitionedTableOptions table, PartitioningOptions options)
    {
        Identifier(errors, path + ":Schema", table.Schema);
        Identifier(errors, path + ":Name", table.Name);
        Identifier(errors, path + ":Column", table.Column);
        if (!Enum.IsDefined(table.Interval))
        {
            errors.AddError($"{path}:Interval '{table.Interval}' is not one of Day, Week, Month, Quarter, Year.");
        }

        Range(errors, path + ":Premake", table.Premake, 1, 366);
        if (table.MaxPastPeriods is { } maxPast)
        {
            Range(errors, path + ":MaxPastPeriods", maxPast, 1, 100_000);
        }
        if (table.Retention is { } retention && (retention < 1 || retention < table.Premake))
        {
            errors.AddError(
                $"{path}:Retention is {retention}, shorter than {path}:Premake ({table.Premake}) or below 1: it would drop current data. "
                + "Retention counts whole intervals kept before the current one; set it to at least Premake.");
        }

        if (table.Archive && string.IsNullOrWhiteSpace(BlobConnectionString(options)))
        {
            errors.AddError($"{path}:Archive is on, but neither {P}BlobConnectionString nor ConnectionStrings:Blob is set.");
        }

        for (var i = 0; i < table.Indexes.Count; i++)
        {
            var index = table.Indexes[i];
            if (string.IsNullOrEmpty(index.Suffix) || !index.Suffix.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
            {
                errors.AddError($"{path}:Indexes:{i}:Suffix '{index.Suffix}' must be letters, digits and underscores.");
            }
            else if (index.Suffix.Length > PartitionPeriods.MaxIndexSuffixBytes)
            {
                errors.AddError($"{path}:Indexes:{i}:Suffix '{index.Suffix}' is {index.Suffix.Length} characters, longer than "
                    + $"{PartitionPeriods.MaxIndexSuffixBytes}: the index name (partition name, cut to fit, + '_' + Suffix) must keep "
                    + "the partition's period and the suffix within PostgreSQL's 63 bytes.");
            }

            if (index.Columns.Count == 0)
            {
                errors.AddError($"{path}:Indexes:{i}:Columns is empty.");
            }

            foreach (var column in index.Columns)
            {
                Identifier(errors, $"{path}:Indexes:{i}:Columns", column);
            }
        }
    }

    private static void Identifier(ValidateOptionsResultBuilder errors, string path, string? value)
    {
        var error = SqlIdentifier.Validate(value);
        if (error is not null)
        {
            errors.AddError($"{path} is invalid: {error}");
        }
    }

    private static void Range(ValidateOptionsResultBuilder errors, string path, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            errors.AddError($"{path} is {value}; it must be between {min} and {max}.");
        }
    }

    private static void Range(ValidateOptionsResultBuilder errors, string path, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            errors.AddError($"{P}{path} is {value}; it must be between {min} and {max}.");
        }
    }
}
