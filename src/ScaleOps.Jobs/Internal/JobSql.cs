using System;
using System.Collections.Generic;
using System.IO;
using System.Text;
using ScaleOps.Data;

namespace ScaleOps.Jobs.Internal;

/// <summary>
/// The statements of <c>Sql/Queries/*.sql</c>, loaded once from the embedded resources with <c>{{schema}}</c> replaced
/// by the quoted schema. Values are always parameters; the schema is the only spliced identifier.
/// </summary>
internal sealed class JobSql
{
    private const string Prefix = "ScaleOps.Jobs.Sql.Queries.";
    private static readonly Lazy<IReadOnlyDictionary<string, string>> Templates = new(Load);

    public JobSql(string schema)
    {
        var quoted = SqlIdentifier.Quote(schema);
        string Get(string name) => Templates.Value[name].Replace("{{schema}}", quoted, StringComparison.Ordinal);
        Insert = Get("JobInsert");
        InsertStarted = Get("JobInsertStarted");
        Unstart = Get("JobUnstart");
        InsertMany = Get("JobInsertMany");
        Notify = Get("JobNotify");
        Jobs = quoted + ".jobs";
        Fetch = Get("JobFetch");
        LeaseBatchPlan = Get("LeaseBatchPlan");
        SucceedMany = Get("JobSucceedMany");
        DeleteSucceededMany = Get("JobDeleteSucceededMany");
        FailMany = Get("JobFailMany");
        Heartbeat = Get("JobHeartbeat");
        Release = Get("JobRelease");
        RescueExpired = Get("JobRescueExpired");
        DeleteFinished = Get("JobDeleteFinished");
        ScheduleFire = Get("ScheduleFire");
        ScheduleGetLastDue = Get("ScheduleGetLastDue");
        List = Get("JobList");
        GetOne = Get("JobGet");
        RetryDead = Get("JobRetryDead");
        DiscardDead = Get("JobDiscardDead");
        Cancel = Get("JobCancel");
        QueueStats = Get("QueueStats");
        QueueDepth = Get("QueueDepth");
    }

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

    public string SucceedMany { get; }

    public string DeleteSucceededMany { get; }

    public string FailMany { get; }

    public string Heartbeat { get; }

    public string Release { get; }

    public string RescueExpired { get; }

    public string DeleteFinished { get; }

    public string ScheduleFire { get; }

    public string ScheduleGetLastDue { get; }

    public string List { get; }

    public string GetOne { get; }

    public string RetryDead { get; }

    public string DiscardDead { get; }

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
}
