using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using ScaleOps.Data;

namespace ScaleOps.Jobs.Internal;

/// <summary>
/// The statements of <c>Sql/Queries/*.sql</c>, loaded once from the embedded resources with <c>{{jobInfoColumns}}</c>
/// replaced by <c>JobInfoColumns.sql</c>, <c>{{schema}}</c> by the quoted schema and <c>{{channel}}</c> by the schema's
/// NOTIFY channel as a string literal. Values are always
/// parameters; the schema (an identifier) and its channel (derived from it, quoted as a literal) are the only spliced text.
/// </summary>
internal sealed class JobSql
{
    private const string Prefix = "ScaleOps.Jobs.Sql.Queries.";
    private static readonly Lazy<IReadOnlyDictionary<string, string>> Templates = new(Load);

    public JobSql(string schema)
    {
        var quoted = SqlIdentifier.Quote(schema);
        Channel = JobsDefaults.Channel(schema);
        // E'' reads the same whatever standard_conforming_strings says.
        var channelLiteral = "E'" + Channel.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";
        string Get(string name) => Templates.Value[name]
            .Replace("{{jobInfoColumns}}", Templates.Value["JobInfoColumns"], StringComparison.Ordinal)
            .Replace("{{schema}}", quoted, StringComparison.Ordinal)
            .Replace("{{channel}}", channelLiteral, StringComparison.Ordinal);
        Insert = Get("JobInsert");
        InsertStarted = Get("JobInsertStarted");
        Unstart = Get("JobUnstart");
        InsertMany = Get("JobInsertMany");
        Notify = Get("JobNotify");
        Jobs = quoted + ".jobs";
        Fetch = Get("JobFetch");
        LeaseBatchPlan = Get("LeaseBatchPlan");
        SucceedMany = new LeaseStatement(Get("JobSucceedMany"));
        DeleteSucceededMany = new LeaseStatement(Get("JobDeleteSucceededMany"));
        FailMany = new LeaseStatement(Get("JobFailMany"));
        Heartbeat = new LeaseStatement(Get("JobHeartbeat"));
        Release = new LeaseStatement(Get("JobRelease"));
        RescueExpired = Get("JobRescueExpired");
        DeleteFinished = Get("JobDeleteFinished");
        ScheduleFire = Get("ScheduleFire");
        ScheduleGet = Get("ScheduleGet");
        ScheduleDefine = Get("ScheduleDefine");
        ScheduleSeen = Get("ScheduleSeen");
        ScheduleTakeOver = Get("ScheduleTakeOver");
        List = Get("JobList");
        GetOne = Get("JobGet");
        RetryDead = Get("JobRetryDead");
        DiscardDead = Get("JobDiscardDead");
        DeadToRetry = Get("JobDeadToRetry");
        RetryDeadMany = Get("JobRetryDeadMany");
        DeadIds = Get("JobDeadIds");
        DiscardDeadMany = Get("JobDiscardDeadMany");
        Cancel = Get("JobCancel");
        QueueStats = Get("QueueStats");
        QueueDepth = Get("QueueDepth");
    }

    /// <summary>The schema's LISTEN/NOTIFY channel (unquoted): <see cref="JobsDefaults.Channel"/>.</summary>
    public string Channel { get; }

    public string Insert { get; }

    public string InsertStarted { get; }

    public string Unstart { get; }

    public string InsertMany { get; }

    public string Notify { get; }

    /// <summary>The quoted, schema-qualified jobs table (for COPY).</summary>
    public string Jobs { get; }

    public string Fetch { get; }

    /// <summary>The first command of every batch that acts on running jobs by (id, lease); see <c>LeaseBatchPlan.sql</c>.</summary>
    public string LeaseBatchPlan { get; }

    public LeaseStatement SucceedMany { get; }

    public LeaseStatement DeleteSucceededMany { get; }

    public LeaseStatement FailMany { get; }

    public LeaseStatement Heartbeat { get; }

    public LeaseStatement Release { get; }

    public string RescueExpired { get; }

    public string DeleteFinished { get; }

    public string ScheduleFire { get; }

    public string ScheduleGet { get; }

    public string ScheduleDefine { get; }

    public string ScheduleSeen { get; }

    public string ScheduleTakeOver { get; }

    public string List { get; }

    public string GetOne { get; }

    public string RetryDead { get; }

    public string DiscardDead { get; }

    public string DeadToRetry { get; }

    public string RetryDeadMany { get; }

    public string DeadIds { get; }

    public string DiscardDeadMany { get; }

    public string Cancel { get; }

    public string QueueStats { get; }

    public string QueueDepth { get; }

    private static Dictionary<string, string> Load()
    {
        var assembly = typeof(JobSql).Assembly;
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(Prefix, StringComparison.Ordinal) || !resource.EndsWith(".sql", StringComparison.Ordinal))
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream, Encoding.UTF8);
            result[resource[Prefix.Length..^4]] = reader.ReadToEnd().Replace("\r\n", "\n", StringComparison.Ordinal);
        }

        return result;
    }

    /// <summary>
    /// A statement on a batch of running jobs by (id, lease), in the two forms of its <c>{{lease_rows}}</c> condition
    /// (<c>LeaseBatchPlan.sql</c> says why): a small batch finds its rows by primary key, a large one through
    /// <c>jobs_running</c>.
    /// </summary>
    internal sealed class LeaseStatement(string template)
    {
        /// <summary>The largest batch that finds its rows by primary key.</summary>
        public const int ByKeyMaxBatch = 64;

        /// <summary>The rows by primary key; <c>jobs_running</c> cannot serve the state test written this way.</summary>
        public string ByKey { get; } = template.Replace("{{lease_rows}}", "j.id = ANY (@ids) AND (j.state || '') = 'running'", StringComparison.Ordinal);

        /// <summary>The running jobs read through <c>jobs_running</c> (or as the planner likes) and joined by hash.</summary>
        public string Scan { get; } = template.Replace("{{lease_rows}}", "j.state = 'running'", StringComparison.Ordinal);

        public string For(int batch) => batch <= ByKeyMaxBatch ? ByKey : Scan;
    }
}
