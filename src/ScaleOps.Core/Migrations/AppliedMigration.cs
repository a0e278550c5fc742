namespace ScaleOps.Migrations;

/// <summary>A migration applied by a <see cref="IScaleOpsMigrator.MigrateAsync"/> call.</summary>
/// <param name="Component">The component (package) the script belongs to.</param>
/// <param name="Version">The script's version.</param>
/// <param name="Name">The script's name.</param>
public sealed record AppliedMigration(string Component, int Version, string Name);
