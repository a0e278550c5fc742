using System;
using System.Collections.Generic;
using System.Linq;
using ScaleOps.Data;
using Grant = ScaleOps.Partitioning.Internal.GrantPlan.Grant;

namespace ScaleOps.Partitioning.Internal;

internal sealed partial class GrantSync
{
    /// <summary>A relation read by <c>PartitionGrants.sql</c>: <see cref="Grant.Assumable"/> is whether its grantor can be acted as.</summary>
    internal sealed record Relation(string? Partition, string? Bound, string Owner, bool OwnerActable, List<Grant> Grants);

    /// <summary>The parent and its partitions in its own schema, and who the maintenance role is.</summary>
    internal sealed record Catalog(string Me, bool Superuser, Relation Parent, IReadOnlyList<Relation> Partitions);

    /// <summary>A grant or revoke left undone: <paramref name="Action"/> is <c>grant</c> or <c>revoke</c>.</summary>
    internal sealed record Skipped(string Action, Grant Grant, string Reason);

    /// <summary>
    /// What one partition needs: the statements (with their <c>SET LOCAL ROLE</c>s), what cannot be done, and how many
    /// of its grants the parent does not give (before the statements run).
    /// </summary>
    internal sealed record PartitionPlan(Relation Partition, List<string> Statements, List<Skipped> Skipped, int NotOnParent);

    private readonly record struct Key(string? Column, string Privilege, string? Grantee, string Grantor);

    private static Key KeyOf(Grant grant) => new(grant.Column, grant.Privilege, grant.Grantee, grant.Grantor);

    /// <summary>
    /// Compares a partition's grants with the parent's, the parent owner's grants standing for the partition owner's
    /// (grants to either owner are ownership, not synced), and plans, each made as its grantor: first the revokes of
    /// what the parent does not give (a grant made with a revoked option before that option: RESTRICT, never
    /// CASCADE), then the grants it lacks (those giving a grantor its option before that grantor's), then the revokes
    /// that had to wait for a grant (another source of an option a kept grant depends on). A table-level REVOKE also
    /// takes the grantor's column grants of that privilege to that grantee; a column grant the parent keeps is then
    /// made again. What the maintenance role cannot do as the grantor is skipped, never done as another role.
    /// </summary>
    internal static PartitionPlan Plan(Catalog catalog, Relation partition, string qualifiedPartition)
    {
        var owner = partition.Owner;
        bool Synced(Grant g) => g.Grantee != owner && g.Grantee != catalog.Parent.Owner;
        var wanted = catalog.Parent.Grants.Where(Synced)
            .Select(g => g.Grantor == catalog.Parent.Owner || g.Grantor == owner ? g with { Grantor = owner, Assumable = partition.OwnerActable } : g)
            .ToDictionary(KeyOf);
        var state = partition.Grants.Where(Synced)
            .Select(g => g.Grantor == owner ? g with { Assumable = partition.OwnerActable } : g)
            .ToDictionary(KeyOf);
        var revokes = state.Values.Where(g => !wanted.TryGetValue(KeyOf(g), out var w) || (g.Grantable && !w.Grantable))
            .Select(g => (Grant: g, OptionOnly: wanted.ContainsKey(KeyOf(g)))).ToList();
        var notOnParent = revokes.Count;
        var statements = new List<string>();
        var skipped = new List<Skipped>();

        void As(string grantor, string sql)
        {
            if (grantor == catalog.Me || (grantor == owner && catalog.Superuser))
            {
                statements.Add(sql); // a superuser's GRANT and REVOKE are the owner's
                return;
            }

            statements.Add($"SET LOCAL ROLE {SqlIdentifier.Quote(grantor)}");
            statements.Add(sql);
            statements.Add($"SET LOCAL ROLE {SqlIdentifier.Quote(catalog.Me)}");
        }

        Revoke(revokes, state, owner, qualifiedPartition, As, skipped, last: false);
        var missing = wanted.Values.Where(w => !state.TryGetValue(KeyOf(w), out var s) || (w.Grantable && !s.Grantable))
            .OrderBy(w => w.Grantor == owner ? 0 : 1).ToList();
        for (var progress = true; progress && missing.Count > 0;)
        {
            progress = false;
            foreach (var grant in missing.ToList())
            {
                if (!grant.Assumable)
                {
                    skipped.Add(new Skipped("grant", grant, "the maintenance role cannot act as its grantor"));
                }
                else if (grant.Grantor == owner || state.Values.Any(s => GrantPlan.Gives(s, grant)))
                {
                    As(grant.Grantor, GrantPlan.GrantSql(grant, qualifiedPartition));
                    state[KeyOf(grant)] = grant;
                    progress = true;
                }
                else
                {
                    continue;
                }

                missing.Remove(grant);
            }
        }

        skipped.AddRange(missing.Select(g => new Skipped("grant", g, "its grantor holds no grant option for it on the partition")));
        Revoke(revokes, state, owner, qualifiedPartition, As, skipped, last: true);
        return new PartitionPlan(partition, statements, skipped, notOnParent);
    }

    /// <summary>
    /// Plans the revokes that can run now, dependents first; the others stay in <paramref name="pending"/> (on the
    /// <paramref name="last"/> pass they are skipped). A revoke whose grantor cannot be acted as is skipped at once.
    /// </summary>
    private static void Revoke(List<(Grant Grant, bool OptionOnly)> pending, Dictionary<Key, Grant> state, string owner, string target,
        Action<string, string> run, List<Skipped> skipped, bool last)
    {
        for (var progress = true; progress && pending.Count > 0;)
        {
            progress = false;
            foreach (var revoke in pending.ToList())
            {
                if (!revoke.Grant.Assumable)
                {
                    skipped.Add(new Skipped("revoke", revoke.Grant, "the maintenance role cannot act as its grantor"));
                    pending.Remove(revoke);
                    continue;
                }

                var after = Without(state, revoke.Grant, revoke.OptionOnly);
                if (revoke.Grant.Grantable && revoke.Grant.Grantee != owner && after.Values.Any(d => DependsOn(d, revoke.Grant) && !after.Values.Any(s => GrantPlan.Gives(s, d))))
                {
                    continue; // a grant made with this option stays: RESTRICT would fail ("dependent privileges exist")
                }

                run(revoke.Grant.Grantor, GrantPlan.RevokeSql(revoke.Grant, target, revoke.OptionOnly));
                state.Clear();
                foreach (var (key, grant) in after)
                {
                    state[key] = grant;
                }

                pending.Remove(revoke);
                progress = true;
            }
        }

        if (last)
        {
            skipped.AddRange(pending.Select(r => new Skipped("revoke", r.Grant, "a grant made with its option stays, and that one could not be revoked")));
        }
    }

    /// <summary>The grants after the REVOKE; one on the table takes the same grantor's column grants of it to the same grantee too.</summary>
    private static Dictionary<Key, Grant> Without(Dictionary<Key, Grant> state, Grant revoked, bool optionOnly)
    {
        var after = new Dictionary<Key, Grant>(state);
        foreach (var (key, grant) in state)
        {
            if (key.Grantor == revoked.Grantor && key.Grantee == revoked.Grantee && key.Privilege == revoked.Privilege
                && (revoked.Column is null || key.Column == revoked.Column))
            {
                if (!optionOnly)
                {
                    after.Remove(key);
                }
                else if (grant.Grantable)
                {
                    after[key] = grant with { Grantable = false };
                }
            }
        }

        return after;
    }

    /// <summary>Whether <paramref name="grant"/> was made with the option <paramref name="option"/> gives.</summary>
    private static bool DependsOn(Grant grant, Grant option) =>
        grant.Grantor == option.Grantee && grant.Privilege == option.Privilege && (option.Column is null || grant.Column == option.Column);
}
