using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ScaleOps.Data;
using ScaleOps.Tenancy;

namespace ScaleOps.Jobs.Internal;

/// <summary>
/// Runs one attempt: a DI scope and the job's tenant scope around the handler, the timeout, and the outcome handed to
/// the completer (success, retry with backoff, or dead). A bad payload is dead at once; an unknown kind is retried
/// (another host may know it); a handler that ignores its timeout is abandoned after <see cref="JobsOptions.TimeoutGrace"/>.
/// </summary>
internal sealed class JobExecutor(
    IServiceScopeFactory scopes,
    ITenantContext tenants,
    JobHandlers handlers,
    JobsOptions options,
    TimeProvider time,
    DatabaseClock clock,
    BatchCompleter completer,
    JobsMetrics metrics,
    ILogger logger)
{
    private const int MaxErrorLength = 8000;

    /// <summary>
    /// Runs the job and hands its outcome to the completer. Whatever throws outside the handler (a logger, a metrics
    /// listener, an exception whose message cannot be read) still ends the attempt with an outcome: a run that ended
    /// without one would stay running, its lease renewed by the heartbeats, forever.
    /// </summary>
    public async Task RunAsync(FetchedJob job, CancellationToken shutdown)
    {
        var started = time.GetTimestamp();
        Completion? outcome = null; // stays null when the attempt is given back at stop (its lease stays registered)
        // The run's span: the handler's own spans (its HTTP calls, its queries) are its children.
        using var activity = JobTracing.Start(job);
        try
        {
            // Queue time runs from when the job was due, or from its enqueue when it was due before (a RunAt in the past,
            // DateTimeOffset.MinValue): a MinValue job recorded 6.4e10 s, which stayed in the histogram's sum for good.
            var waitingSince = job.RunAt > job.CreatedAt ? job.RunAt : job.CreatedAt;
            metrics.Started(job.Queue, job.Kind, Math.Max(0, (clock.GetUtcNow() - waitingSince).TotalSeconds));
            var timeout = TimeSpan.FromMilliseconds(job.TimeoutMs ?? (int)options.DefaultTimeout.TotalMilliseconds);
            using var timeoutCts = new CancellationTokenSource(timeout, time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeoutCts.Token, shutdown);
            try
            {
                // A heartbeat that finds the lease gone cancels the timeout's source (LeaseRegistry.Lose).
                job.AttachRun(timeoutCts);
                // Which token fired first decides: noted when the stop fires, since both may have fired by the time the
                // handler throws (a stop, then the job's timeout while the handler winds down). Registered on the stop's
                // token after the linked source's own registration, so it runs before the linked token fires (callbacks
                // run last-registered first) and before any continuation of the handler's.
                using var firstFired = shutdown.UnsafeRegister(static s => ((FetchedJob)s!).NoteStopped(), job);
                if (job.LeaseLost)
                {
                    return; // lost while buffered: nothing to run, nothing to write
                }

                await InvokeAsync(job, linked.Token, timeoutCts.Token, shutdown).ConfigureAwait(false);
                outcome = new Completion(job.Id, job.LeaseId, job.Attempt, CompletionKind.Succeeded, null, default, job.Queue, job.Kind);
            }
            catch (Exception) when (job.LeaseLost)
            {
                // The job was rescued or given back while this run went on (the heartbeat logged it and cancelled the
                // token): its outcome would change nothing, and its lease has left the registry.
            }
            catch (JobPayloadException ex)
            {
                outcome = Fail(job, ex.Message, dead: true);
            }
            catch (AbandonedException ex) when (ex.AtStop)
            {
                // The stop cancelled it and it ignored that for the grace period: like a job that observed the stop, it is
                // given back uncounted (its lease stays registered for the worker's release, whichever finishes first).
                JobsLog.JobAbandonedAtStop(logger, job.Id, job.Kind, options.TimeoutGrace);
            }
            catch (AbandonedException)
            {
                JobsLog.JobAbandoned(logger, job.Id, job.Kind, options.TimeoutGrace);
                outcome = Fail(job, $"Timed out after {timeout} and ignored cancellation for {options.TimeoutGrace}; abandoned.", dead: false);
            }
            catch (OperationCanceledException) when (shutdown.IsCancellationRequested && job.StoppedFirst)
            {
                // Interrupted by shutdown: the lease stays registered and the worker gives the job back uncounted, also
                // when the job's own timeout fired while the handler wound down (that used to fail the attempt, dead on
                // the last one).
            }
            catch (OperationCanceledException) when (timeoutCts.IsCancellationRequested)
            {
                outcome = Fail(job, $"Timed out after {timeout}.", dead: false);
            }
            catch (Exception ex)
            {
                outcome = Fail(job, Describe(ex), dead: false);
            }
            finally
            {
                job.AttachRun(null);
            }
        }
        catch (Exception ex)
        {
            // Not the handler's exception (caught above): recording the outcome threw (a logger, a metrics listener).
            // The attempt still fails, without a log of its own.
            outcome = Unlogged(job, ex);
        }
        finally
        {
            // Not settled: abandoned by the stalled-start watchdog, which wrote its own outcome; the span shows that one
            // (a handler that returns after it was abandoned used to trace its run as Succeeded over a job written dead).
            var settled = outcome is not null && job.TrySettle();
            JobTracing.Stop(activity, settled ? outcome : job.Abandoned ?? outcome, job.LeaseLost);

            if (settled && outcome is { } o)
            {
                try
                {
                    metrics.Ran(job.Queue, job.Kind, time.GetElapsedTime(started).TotalSeconds);
                }
                finally
                {
                    // The lease stays registered (heartbeated) until the completer has written the outcome: a write
                    // held up longer than the lease must not let the rescuer run the job again.
                    await completer.AddAsync(o).ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>
    /// The outcome of an attempt whose recording threw outside the handler: failed (retried, or dead on the last
    /// attempt) with the exception's type as its error, built without logging or metrics, which may be what threw.
    /// </summary>
    private Completion Unlogged(FetchedJob job, Exception ex)
    {
        var error = JobText.Storable("Recording the attempt's outcome failed: " + DescribeType(ex), MaxErrorLength);
        return job.Attempt >= job.MaxAttempts
            ? new Completion(job.Id, job.LeaseId, job.Attempt, CompletionKind.Dead, error, default, job.Queue, job.Kind)
            : new Completion(job.Id, job.LeaseId, job.Attempt, CompletionKind.Retry, error, clock.GetUtcNow() + Backoff(options, job.Attempt), job.Queue, job.Kind);
    }

    /// <summary>
    /// The watchdog's answer to a handler that has held its thread, before returning a task, past the job's timeout and
    /// <see cref="JobsOptions.TimeoutGrace"/>: the attempt ends as a timeout (retried or dead) now, while the handler's
    /// thread stays blocked; whatever it does when it returns is ignored.
    /// </summary>
    public async Task AbandonBlockedAsync(FetchedJob job, TimeSpan blockedFor)
    {
        var timeout = TimeSpan.FromMilliseconds(job.TimeoutMs ?? (int)options.DefaultTimeout.TotalMilliseconds);
        var outcome = Outcome(
            job, $"Timed out after {timeout}: its handler blocked its thread for {blockedFor:g} without returning a task; abandoned.", dead: false);
        if (!job.TrySettle(outcome))
        {
            return;
        }

        JobsLog.JobAbandoned(logger, job.Id, job.Kind, options.TimeoutGrace);
        Log(job, outcome);
        metrics.Ran(job.Queue, job.Kind, blockedFor.TotalSeconds);
        await completer.AddAsync(outcome).ConfigureAwait(false);
    }

    private async Task InvokeAsync(FetchedJob job, CancellationToken cancellationToken, CancellationToken timedOut, CancellationToken shutdown)
    {
        if (!handlers.TryGet(job.Kind, out var registration))
        {
            throw new InvalidOperationException(
                $"No handler for job kind '{job.Kind}' is registered on this host: register one with AddJobs().AddHandler<TPayload, THandler>().");
        }

        TenantId? tenant = job.TenantId.Length == 0 ? null : Tenant(job);
        var context = new JobContext(job.Id, job.Kind, job.Queue, tenant, job.Attempt, job.MaxAttempts, job.CreatedAt);
        var scope = scopes.CreateAsyncScope();
        await using (scope.ConfigureAwait(false))
        {
            using var tenantScope = tenant is { } t ? tenants.BeginScope(t) : null;

            // The handler starts inline, on the producer's pump: a batch of quick jobs runs without a thread hop. One that
            // blocks its thread before returning a task holds the pump; the producer's watchdog then hands the pump to
            // another thread and, past the timeout and grace, abandons the attempt (QueueProducer.Watch).
            var task = registration.InvokeAsync(scope.ServiceProvider, job, options.SerializerOptions, context, cancellationToken);
            if (task.IsCompleted)
            {
                await task.ConfigureAwait(false);
                return;
            }

            try
            {
                await task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && !task.IsCompleted)
            {
                // The token fired: give the handler the grace period to observe it, then abandon it. What fired first
                // decides what an abandoned attempt is (a timeout that fires during the grace does not count).
                var atStop = shutdown.IsCancellationRequested && !timedOut.IsCancellationRequested;
                try
                {
                    await task.WaitAsync(options.TimeoutGrace, time, CancellationToken.None).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    throw new AbandonedException(atStop);
                }
            }

            await task.ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The job's tenant. A tenant id an earlier version stored and the current rules refuse (an invisible code point, since
    /// TenantId refuses those) can never get a tenant scope: the job is dead at once, with a message naming the rule,
    /// instead of failing every attempt with the TenantId constructor's exception.
    /// </summary>
    private static TenantId Tenant(FetchedJob job) => TenantId.Validate(job.TenantId) is { } broken
        ? throw new JobPayloadException(
            $"The tenant id '{job.TenantId}' of job {job.Id} (kind '{job.Kind}'), stored by an earlier version, is not a valid TenantId now: "
            + $"{broken} No tenant scope can be made for it: correct its tenant_id and retry it, or discard it.")
        : new TenantId(job.TenantId);

    private Completion Fail(FetchedJob job, string error, bool dead)
    {
        var outcome = Outcome(job, error, dead);
        Log(job, outcome);
        return outcome;
    }

    /// <summary>A failed attempt's outcome (dead on the last attempt), not logged.</summary>
    private Completion Outcome(FetchedJob job, string error, bool dead)
    {
        // A NUL (PostgreSQL text cannot hold it) or a lone surrogate (Npgsql cannot encode it) would make the completion
        // itself fail; the cut must not split a surrogate pair either.
        error = JobText.Storable(error, MaxErrorLength);
        return dead || job.Attempt >= job.MaxAttempts
            ? new Completion(job.Id, job.LeaseId, job.Attempt, CompletionKind.Dead, error, default, job.Queue, job.Kind)
            : new Completion(job.Id, job.LeaseId, job.Attempt, CompletionKind.Retry, error, clock.GetUtcNow() + Backoff(options, job.Attempt), job.Queue, job.Kind);
    }

    private void Log(FetchedJob job, Completion outcome)
    {
        if (outcome.Kind == CompletionKind.Dead)
        {
            JobsLog.JobDead(logger, job.Id, job.Kind, job.Queue, job.TenantId, job.Attempt, outcome.Error!);
        }
        else
        {
            JobsLog.JobFailed(logger, job.Id, job.Kind, job.Queue, job.TenantId, job.Attempt, job.MaxAttempts, outcome.Error!);
        }
    }

    /// <summary>
    /// Exponential backoff with jitter, never longer than <see cref="JobsOptions.RetryMaxDelay"/>: d = base * 2^(attempt-1)
    /// (at most the maximum), drawn uniformly from [0.75 d, 1.25 d] with the band's top cut at the maximum. Below the cap
    /// that is ±25%; at the cap [0.75 max, max], so hosts that failed together still spread their retries.
    /// </summary>
    internal static TimeSpan Backoff(JobsOptions options, int attempt)
    {
        var exponent = Math.Min(attempt - 1, 40);
        var max = (double)options.RetryMaxDelay.Ticks;
        var delay = Math.Min(options.RetryBaseDelay.Ticks * Math.Pow(2, exponent), max);
        var low = delay * 0.75;
        var high = Math.Min(delay * 1.25, max);
        return TimeSpan.FromTicks((long)Math.Min(low + ((high - low) * Random.Shared.NextDouble()), max));
    }

    /// <summary>
    /// The error stored for a handler's exception: type, message and stack trace. A message or stack trace that cannot be
    /// read (a getter that throws) leaves the type name in its place, so the attempt still fails and is written.
    /// </summary>
    internal static string Describe(Exception ex)
    {
        string message, stack;
        try
        {
            message = ex.Message;
        }
        catch (Exception inner)
        {
            message = $"(its message could not be read: {DescribeType(inner)})";
        }

        try
        {
            stack = ex.StackTrace ?? string.Empty;
        }
        catch (Exception inner)
        {
            stack = $"(its stack trace could not be read: {DescribeType(inner)})";
        }

        return $"{DescribeType(ex)}: {message}\n{stack}";
    }

    private static string DescribeType(Exception ex) => ex.GetType().FullName ?? ex.GetType().Name;

    /// <summary>The handler ignored its cancellation for the grace period; <paramref name="atStop"/>: the cancellation was the stop's.</summary>
    private sealed class AbandonedException(bool atStop) : Exception
    {
        public bool AtStop { get; } = atStop;
    }
}
