using System;
using System.Collections.Generic;

namespace ScaleOps.Rls;

/// <summary>Settings of ScaleOps.Rls, bound from the configuration section <c>ScaleOps:Rls</c>.</summary>
public sealed class RlsOptions
{
    /// <summary>
    /// The tables protected by row-level security, declared in code or in configuration (<c>ScaleOps:Rls:Tables:0:Schema</c>,
    /// <c>:Name</c>, <c>:Kind</c>, <c>:TenantColumn</c>, <c>:UserColumn</c>, <c>:Role</c>, <c>:ExtraRoles:0</c>).
    /// </summary>
    /// <value>Default empty.</value>
    public IList<RlsTable> Tables { get; } = [];

    /// <summary>Whether the policies of <see cref="Tables"/> are applied (idempotent DDL) when the host starts.</summary>
    /// <value>Default <see langword="true"/>. The application role must own the tables; otherwise apply them with
    /// <see cref="RlsPolicyManager.ApplyAsOwnerAsync"/> as the owner.</value>
    public bool ApplyPoliciesOnStart { get; set; } = true;

    /// <summary>Whether the start-up safety checks run (role attributes, RLS/FORCE/policies, tenant indexes, leaking views).</summary>
    /// <value>Default <see langword="true"/>.</value>
    public bool VerifyOnStart { get; set; } = true;

    /// <summary>
    /// Whether the host may start although its database role is a superuser or has BYPASSRLS (policies do not apply to
    /// such a role). Never in production.
    /// </summary>
    /// <value>Default <see langword="false"/>: start-up fails.</value>
    public bool AllowBypassRlsRole { get; set; }

    /// <summary>
    /// The connection string of the separate role (NOSUPERUSER BYPASSRLS) used by <see cref="RlsBypass"/> for system work
    /// across tenants.
    /// </summary>
    /// <value>Default <see langword="null"/>: the bypass scope is unavailable.</value>
    public string? BypassConnectionString { get; set; }

    /// <summary>
    /// The <c>lock_timeout</c> of the policy DDL (<c>ALTER TABLE ... ROW LEVEL SECURITY</c>, <c>CREATE</c>/<c>DROP POLICY</c>,
    /// which take an <c>ACCESS EXCLUSIVE</c> lock). A statement that waits longer for a table held by a long query or
    /// transaction gives up, so the table's readers and writers never queue behind it; the apply is rolled back and tried
    /// again (<see cref="DdlAttempts"/>). Only an apply that changes something runs DDL.
    /// </summary>
    /// <value>Default 500 ms; 10 ms to 1 minute.</value>
    public TimeSpan LockTimeout { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How many times an apply whose DDL timed out on a table's lock is tried in all.</summary>
    /// <value>Default 10; 1 to 1000.</value>
    public int DdlAttempts { get; set; } = 10;

    /// <summary>The pause between two attempts of an apply (doubled each time, at most 30 s).</summary>
    /// <value>Default 200 ms; 0 to 1 minute.</value>
    public TimeSpan DdlRetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Read replicas of the shared primary, for <see cref="ScaleOps.Data.TenantDataAccess.ReadOnly"/> work, used round-robin.</summary>
    /// <value>Default empty: every read goes to the primary.</value>
    public IList<string> ReplicaConnectionStrings { get; } = [];

    /// <summary>The largest replication lag a replica may have and still serve reads; beyond it reads fall back.</summary>
    /// <value>Default 5 seconds. Greater than zero.</value>
    public TimeSpan MaxReplicaLag { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a replica's health (reachable, a standby, lag) is trusted before it is checked again. A healthy verdict ends
    /// sooner when the replica's data could by then be older than <see cref="MaxReplicaLag"/> (its lag at the check plus the
    /// time since).
    /// </summary>
    /// <value>Default 2 seconds. Zero checks before every read.</value>
    public TimeSpan ReplicaCheckInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long one replica health check (the primary's WAL position, then the replica's state) may take; a replica that
    /// does not answer in time is skipped until its next check. Reads that find the check due wait for the one check in
    /// flight, so a replica that silently drops connections costs at most this, once per <see cref="ReplicaCheckInterval"/>.
    /// </summary>
    /// <value>Default 2 seconds. Greater than zero.</value>
    public TimeSpan ReplicaCheckTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Dedicated PostgreSQL instances by name (shard name to connection string), for <see cref="TenantPlacements"/>.</summary>
    /// <value>Default empty.</value>
    public IDictionary<string, string> Shards { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Tenants that live on a shard (tenant id to shard name); every other tenant uses the shared data source.</summary>
    /// <value>Default empty.</value>
    public IDictionary<string, string> TenantPlacements { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Declares a tenant-scoped table.</summary>
    /// <param name="schema">The schema.</param>
    /// <param name="name">The table.</param>
    /// <param name="tenantColumn">The tenant column.</param>
    /// <returns>These options.</returns>
    public RlsOptions ProtectTenantTable(string schema, string name, string tenantColumn = "tenant_id")
    {
        Tables.Add(new RlsTable(schema, name) { TenantColumn = tenantColumn });
        return this;
    }
}
