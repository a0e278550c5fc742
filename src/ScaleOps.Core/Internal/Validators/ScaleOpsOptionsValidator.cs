using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using ScaleOps.Data;

namespace ScaleOps.Internal.Validators;

/// <summary>Validates <see cref="ScaleOpsOptions"/>; every message names the setting it is about.</summary>
internal sealed class ScaleOpsOptionsValidator(IServiceProvider services, IReadOnlySet<string> packageSections, bool hostProvidesDataSource)
    : IValidateOptions<ScaleOpsOptions>
{
    private const string Prefix = ScaleOpsOptions.SectionName + ":";

    public ValidateOptionsResult Validate(string? name, ScaleOpsOptions options)
    {
        var errors = new ValidateOptionsResultBuilder();

        if (!hostProvidesDataSource)
        {
            if (string.IsNullOrWhiteSpace(options.ConnectionString))
            {
                errors.AddError(
                    $"{Prefix}{nameof(ScaleOpsOptions.ConnectionString)} is required: set it, or ConnectionStrings:{options.ConnectionStringName}, "
                    + "or register an NpgsqlDataSource before calling AddScaleOps().");
            }
            else
            {
                ValidateConnectionString(options.ConnectionString, ConnectionStringSetting(options), errors);
            }
        }

        var schemaError = SqlIdentifier.Validate(options.Schema);
        if (schemaError is null && options.Schema.StartsWith("pg_", StringComparison.Ordinal))
        {
            // PostgreSQL reserves the prefix for system schemas: CREATE SCHEMA fails with 42939 (pg_temp, pg_catalog...).
            schemaError = "names starting with 'pg_' are reserved by PostgreSQL for system schemas.";
        }

        if (schemaError is not null)
        {
            errors.AddError($"{Prefix}{nameof(ScaleOpsOptions.Schema)} is invalid: {schemaError}");
        }

        if (options.MigrationTimeout <= TimeSpan.Zero || options.MigrationTimeout > TimeSpan.FromDays(1))
        {
            errors.AddError($"{Prefix}{nameof(ScaleOpsOptions.MigrationTimeout)} must be more than zero and at most one day; it is {options.MigrationTimeout}.");
        }

        if (options.MigrationLockTimeout < TimeSpan.FromMilliseconds(10) || options.MigrationLockTimeout > TimeSpan.FromMinutes(1))
        {
            errors.AddError($"{Prefix}{nameof(ScaleOpsOptions.MigrationLockTimeout)} must be between 10 ms and 1 minute; it is {options.MigrationLockTimeout}.");
        }

        foreach (var unknown in UnknownKeys())
        {
            errors.AddError($"{Prefix}{unknown} is not a known setting. Known settings: {string.Join(", ", KnownKeys())}.");
        }

        return errors.Build();
    }

    /// <summary>
    /// The setting the connection string came from, as the user wrote it: <c>ConnectionStrings:{name}</c> when
    /// <c>ScaleOps:ConnectionString</c> is not set and the value is that fallback's (a malformed
    /// <c>ConnectionStrings:Postgres</c> was reported as a malformed <c>ScaleOps:ConnectionString</c>, a key the user never set).
    /// </summary>
    private string ConnectionStringSetting(ScaleOpsOptions options)
    {
        var configuration = services.GetService<IConfiguration>();
        var own = Prefix + nameof(ScaleOpsOptions.ConnectionString);
        return configuration is not null && string.IsNullOrWhiteSpace(configuration[own])
            && !string.IsNullOrWhiteSpace(options.ConnectionStringName)
            && string.Equals(configuration.GetConnectionString(options.ConnectionStringName), options.ConnectionString, StringComparison.Ordinal)
            ? $"ConnectionStrings:{options.ConnectionStringName} (the fallback of {own}, which is not set)"
            : own;
    }

    private static void ValidateConnectionString(string connectionString, string setting, ValidateOptionsResultBuilder errors)
    {
        NpgsqlConnectionStringBuilder parsed;
        try
        {
            parsed = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidCastException)
        {
            // The message may quote the offending keyword but never the whole string (it can hold a password).
            errors.AddError($"{setting} is malformed: {ex.Message}");
            return;
        }

        if (string.IsNullOrWhiteSpace(parsed.Host))
        {
            errors.AddError($"{setting} has no Host.");
        }
    }

    private IEnumerable<string> KnownKeys() =>
        typeof(ScaleOpsOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.PropertyType != typeof(Action<NpgsqlDataSourceBuilder>))
            .Select(p => p.Name)
            .Concat(packageSections.Order(StringComparer.Ordinal));

    private IEnumerable<string> UnknownKeys()
    {
        var configuration = services.GetService<IConfiguration>();
        if (configuration is null)
        {
            return [];
        }

        var known = new HashSet<string>(KnownKeys(), StringComparer.OrdinalIgnoreCase);
        return configuration.GetSection(ScaleOpsOptions.SectionName).GetChildren()
            .Select(c => c.Key)
            .Where(k => !known.Contains(k))
            .ToList();
    }
}
