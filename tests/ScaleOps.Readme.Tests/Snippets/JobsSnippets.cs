namespace ScaleOps.Readme.Tests.Snippets;

internal static class JobsSnippets
{
    public static void Register(WebApplicationBuilder builder)
    {
        #region readme src/ScaleOps.Jobs/README.md 1
        builder.Services.AddScaleOps(o => o.ConnectionString = "Host=...;Database=app")
            .AddJobs(o =>
            {
                o.Queues["email"] = new QueueOptions { Concurrency = 20, MaxRunningPerTenant = 5 };
                o.Queues["reports"] = new QueueOptions { Concurrency = 1 };   // a host works only these and DefaultQueue
            })
            .AddHandler<SendEmail, SendEmailHandler>()
            .AddHandler<BuildReport, BuildReportHandler>()
            .AddRecurring("nightly-report", "0 3 * * *", new BuildReport(), new JobOptions { Queue = "reports" });
        #endregion
    }

    public static async Task UseAsync(IJobClient jobs, IEnumerable<string> recipients, AppDb db, Order order)
    {
        #region readme src/ScaleOps.Jobs/README.md 3
        // Anywhere: the tenant defaults to the ambient one.
        await jobs.EnqueueAsync(new SendEmail("a@example.com", "welcome"),
            new JobOptions { Queue = "email", Priority = JobPriority.High, UniqueKey = "welcome:a@example.com" });
        await jobs.EnqueueManyAsync(recipients.Select(r => new SendEmail(r, "digest")).ToList(), new JobOptions { Queue = "email" });

        // In your transaction (EF Core shown): the job commits or rolls back with your data.
        await using var tx = await db.Database.BeginTransactionAsync();
        db.Orders.Add(order);
        await db.SaveChangesAsync();
        await jobs.EnqueueAsync((NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)tx.GetDbTransaction(),
            new IndexOrder(order.Id), null, default);
        await tx.CommitAsync();
        #endregion
    }
}

#region readme src/ScaleOps.Jobs/README.md 2
[JobKind("email.send")]                       // the stored kind: keep it stable across renames
public sealed record SendEmail(string To, string Template);

public sealed class SendEmailHandler(IMailer mailer, ITenantContext tenant) : IJobHandler<SendEmail>
{
    public Task HandleAsync(SendEmail payload, JobContext context, CancellationToken cancellationToken) =>
        mailer.SendAsync(tenant.RequireTenant(), payload.To, payload.Template, cancellationToken);   // the job's tenant
}
#endregion

internal sealed record BuildReport;

internal sealed class BuildReportHandler : IJobHandler<BuildReport>
{
    public Task HandleAsync(BuildReport payload, JobContext context, CancellationToken cancellationToken) => Task.CompletedTask;
}

internal sealed record IndexOrder(int Id);

public interface IMailer
{
    Task SendAsync(TenantId tenant, string to, string template, CancellationToken cancellationToken);
}
