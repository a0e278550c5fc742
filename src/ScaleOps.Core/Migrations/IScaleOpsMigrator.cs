using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace ScaleOps.Migrations;

/// <summary>Applies the packages' embedded schema migrations.</summary>
public interface IScaleOpsMigrator
{
    /// <summary>
    /// Applies every pending migration of every registered component, in version order, in one transaction under a
    /// transaction-level advisory lock: two hosts starting at once never race, and a failed script leaves nothing behind.
    /// </summary>
    /// <param name="cancellationToken">Cancels the run (the transaction rolls back).</param>
    /// <returns>The migrations this call applied; empty when the schema was current.</returns>
    /// <exception cref="MigrationException">A script failed, or an applied script was changed since.</exception>
    Task<IReadOnlyList<AppliedMigration>> MigrateAsync(CancellationToken cancellationToken = default);
}
