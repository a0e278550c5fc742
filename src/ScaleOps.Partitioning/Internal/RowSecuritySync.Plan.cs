using System.Collections.Generic;
using System.Linq;
using ScaleOps.Data;

namespace ScaleOps.Partitioning.Internal;

internal sealed partial class RowSecuritySync
{
    /// <summary>One policy as <c>PartitionRowSecurity.sql</c> reads it (<paramref name="Roles"/> quoted, sorted, joined).</summary>
    internal sealed record Policy(string Name, bool Permissive, string Command, string Roles, string? Using, string? WithCheck, string? Comment)
    {
        /// <summary>Whether it does what <paramref name="other"/> does (the name and comment aside).</summary>
        public bool SameAs(Policy other) =>
            Permissive == other.Permissive && Command == other.Command && Roles == other.Roles && Using == other.Using && WithCheck == other.WithCheck;

        public bool IsCopy => Comment == CopyMarker;
    }

    /// <summary>The parent (<paramref name="Partition"/> null) or one partition, with its settings and policies.</summary>
    internal sealed record Relation(string? Partition, string? Bound, bool Enabled, bool Forced, string Owner, bool Actable, List<Policy> Policies);

    internal sealed record Catalog(Relation Parent, IReadOnlyList<Relation> Partitions);

    /// <summary>
    /// What one partition needs: the statements that bring it in step, and the differences left as they are (said in
    /// words, for the log: maintenance cannot or will not change them).
    /// </summary>
    internal sealed record PartitionPlan(Relation Partition, List<string> Statements, List<string> Kept);

    /// <summary>
    /// Compares a partition with the parent: ENABLE and FORCE where the parent has them (never taken off: kept and said),
    /// then each of the parent's policies created where missing and replaced (dropped and created again, in the same
    /// transaction) where it differs, each copy marked; then the marked copies of policies the parent no longer has
    /// dropped. A partition whose owner the maintenance role cannot act as gets no statement: its differences are kept.
    /// </summary>
    internal static PartitionPlan Plan(Relation parent, Relation partition, string qualifiedPartition)
    {
        var statements = new List<string>();
        var kept = new List<string>();
        if (parent.Enabled && !partition.Enabled)
        {
            statements.Add($"ALTER TABLE {qualifiedPartition} ENABLE ROW LEVEL SECURITY");
        }
        else if (!parent.Enabled && partition.Enabled)
        {
            kept.Add("has row-level security enabled and the parent has not (disabled on the parent?); kept, "
                + "since a query naming the partition would otherwise bypass its policies: disable it on the partition by hand if that is meant");
        }

        if (parent.Forced && !partition.Forced)
        {
            statements.Add($"ALTER TABLE {qualifiedPartition} FORCE ROW LEVEL SECURITY");
        }
        else if (!parent.Forced && partition.Forced)
        {
            kept.Add("forces row-level security and the parent does not; kept: NO FORCE it on the partition by hand if that is meant");
        }

        var own = partition.Policies.ToDictionary(p => p.Name, System.StringComparer.Ordinal);
        foreach (var policy in parent.Policies)
        {
            var name = SqlIdentifier.Quote(policy.Name);
            if (own.TryGetValue(policy.Name, out var copy))
            {
                if (copy.SameAs(policy))
                {
                    if (copy.Comment is null)
                    {
                        // An earlier copy (made before copies were marked), unmarked: marked now. One with a comment of its
                        // own (ScaleOps.Rls records its statement there) is in step and left as it is.
                        statements.Add(CommentSql(name, qualifiedPartition));
                    }

                    continue;
                }

                statements.Add($"DROP POLICY {name} ON {qualifiedPartition}");
            }

            statements.Add(CreateSql(policy, name, qualifiedPartition));
            statements.Add(CommentSql(name, qualifiedPartition));
        }

        var parentNames = parent.Policies.Select(p => p.Name).ToHashSet(System.StringComparer.Ordinal);
        statements.AddRange(partition.Policies.Where(p => p.IsCopy && !parentNames.Contains(p.Name))
            .Select(p => $"DROP POLICY {SqlIdentifier.Quote(p.Name)} ON {qualifiedPartition}"));

        if (!partition.Actable && statements.Count > 0)
        {
            kept.Add($"differs from the parent's ({statements.Count} statements to run), but the maintenance role cannot act as its owner "
                + $"{SqlIdentifier.Quote(partition.Owner)}: make it a member of that role, or bring the partition in step as its owner");
            statements.Clear();
        }

        return new PartitionPlan(partition, statements, kept);
    }

    /// <summary><c>CREATE POLICY</c> with the parent's command, kind, roles and expressions (as <c>pg_get_expr</c> printed them).</summary>
    private static string CreateSql(Policy policy, string quotedName, string qualifiedPartition) =>
        $"CREATE POLICY {quotedName} ON {qualifiedPartition} AS {(policy.Permissive ? "PERMISSIVE" : "RESTRICTIVE")} FOR {policy.Command} TO {policy.Roles}"
        + (policy.Using is null ? "" : $" USING ({policy.Using})")
        + (policy.WithCheck is null ? "" : $" WITH CHECK ({policy.WithCheck})");

    private static string CommentSql(string quotedName, string qualifiedPartition) =>
        $"COMMENT ON POLICY {quotedName} ON {qualifiedPartition} IS '{CopyMarker.Replace("'", "''", System.StringComparison.Ordinal)}'";
}
