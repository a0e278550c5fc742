using System;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.DependencyInjection;

namespace ScaleOps.Jobs.Internal;

/// <summary>A job that can never be handled (its payload, or its stored tenant id): dead at once (retrying cannot help).</summary>
internal sealed class JobPayloadException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Connects a kind to its payload type and handler.</summary>
internal abstract class JobHandlerRegistration(string kind, Type payloadType)
{
    public string Kind { get; } = kind;

    public Type PayloadType { get; } = payloadType;

    /// <summary>
    /// Deserializes the job's payload, resolves the handler and calls it, marking the call on <paramref name="job"/>
    /// (<see cref="FetchedJob.EnterHandler"/>): what comes before is the worker's, not the handler's.
    /// </summary>
    public abstract Task InvokeAsync(
        IServiceProvider services, FetchedJob job, JsonSerializerOptions serializer, JobContext context, CancellationToken cancellationToken);
}

/// <summary>The registration of <see cref="IJobHandler{TPayload}"/>.</summary>
internal sealed class JobHandlerRegistration<TPayload>() : JobHandlerRegistration(JobKind<TPayload>.Name, typeof(TPayload))
{
    public override Task InvokeAsync(
        IServiceProvider services, FetchedJob job, JsonSerializerOptions serializer, JobContext context, CancellationToken cancellationToken)
    {
        TPayload? value;
        try
        {
            value = JsonSerializer.Deserialize<TPayload>(job.Payload, serializer);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Whatever the deserializer throws, also from the payload type's constructor, a setter or a converter
            // (ArgumentException, FormatException...), comes back at every attempt: retrying cannot help.
            throw new JobPayloadException(
                $"The payload of job {context.Id} (kind '{Kind}') cannot be deserialized into {typeof(TPayload)}: {ex.GetType().FullName}: {ex.Message}", ex);
        }

        if (value is null)
        {
            throw new JobPayloadException($"The payload of job {context.Id} (kind '{Kind}') is JSON null; {typeof(TPayload)} expected.");
        }

        var handler = services.GetRequiredService<IJobHandler<TPayload>>();
        Task? task;
        job.EnterHandler();
        try
        {
            task = handler.HandleAsync(value, context, cancellationToken);
        }
        finally
        {
            job.LeaveHandler();
        }

        return task ?? throw new InvalidOperationException(
            $"{handler.GetType()}.HandleAsync returned a null Task for job {context.Id} (kind '{Kind}'): return a task " +
            "(Task.CompletedTask when there is nothing to await).");
    }
}
