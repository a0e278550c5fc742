using System;
using System.Threading;
using System.Threading.Tasks;
using ScaleOps.Caching.Internal.L1;

namespace ScaleOps.Caching.Internal;

/// <summary>What a factory may do to the cache from inside, and which of its exceptions fail-safe answers.</summary>
internal sealed partial class TenantCache
{
    /// <summary>The keys whose factory runs in the current flow, innermost first (<see cref="ThrowIfLoadingHere"/>).</summary>
    private static readonly AsyncLocal<LoadingKey?> Loading = new();

    private sealed record LoadingKey(TenantBucket Bucket, string Key, LoadingKey? Outer);

    /// <summary>
    /// Refuses to wait for a load of <paramref name="key"/> from inside that load's own factory (a factory that reads its
    /// own key, directly or through a cached helper): the load completes only when the factory returns, so the wait
    /// never ended, and every later caller of the key joined it.
    /// </summary>
    private static void ThrowIfLoadingHere(TenantBucket bucket, string key)
    {
        for (var loading = Loading.Value; loading is not null; loading = loading.Outer)
        {
            if (ReferenceEquals(loading.Bucket, bucket) && string.Equals(loading.Key, key, StringComparison.Ordinal))
            {
                throw new InvalidOperationException(
                    $"The factory of cache key '{Shorten(key)}' (tenant {bucket.Tenant}) reads that same key: it would wait for itself. " +
                    "Produce the value without reading it from the cache.");
            }
        }
    }

    /// <summary>
    /// Whether a factory's exception is a failure that fail-safe may answer: anything but a cancellation while the token
    /// it was given (the cache shutting down) or the token of the caller that started it (<paramref name="caller"/>: a
    /// factory that closes over the request's token) is cancelled. A factory's own <see cref="OperationCanceledException"/>,
    /// such as <c>HttpClient</c>'s timeout (<see cref="TaskCanceledException"/>), is a failure like any other.
    /// </summary>
    private bool IsFactoryFailure(Exception ex, CancellationToken caller) =>
        ex is not OperationCanceledException || !(_shutdown.IsCancellationRequested || caller.IsCancellationRequested);

    /// <summary>
    /// What a flight's followers get when its factory was cancelled by its leader's token: they did not cancel, so they
    /// load again (<see cref="CoalescePinnedAsync"/>) instead of getting the leader's cancellation.
    /// </summary>
    private sealed class LeaderCancelledException(Exception inner) : Exception(inner.Message, inner);
}
