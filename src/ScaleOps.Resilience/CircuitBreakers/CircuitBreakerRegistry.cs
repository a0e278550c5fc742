using System;
using System.Collections.Generic;
using System.Collections.Frozen;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using ScaleOps.Resilience.Internal;

namespace ScaleOps.Resilience.CircuitBreakers;

/// <summary>
/// The named circuit breakers of this process (one Polly.Core pipeline each, configured in
/// <see cref="ResilienceOptions.CircuitBreakers"/>, with an optional retry): run calls through
/// <see cref="GetPipeline(string, bool)"/>, list their states for operators and health checks, and isolate (force open)
/// or reset (close) one by name. Names are case-insensitive, as in configuration.
/// </summary>
public sealed class CircuitBreakerRegistry
{
    private readonly FrozenDictionary<string, Breaker> _breakers;

    internal CircuitBreakerRegistry(IOptions<ResilienceOptions> options, TimeProvider time, ResilienceMetrics metrics, ILogger<CircuitBreakerRegistry> logger)
    {
        _breakers = options.Value.CircuitBreakers.ToFrozenDictionary(
            p => p.Key, p => new Breaker(p.Key, p.Value, time, metrics, logger), StringComparer.OrdinalIgnoreCase);
        metrics.ObserveBreakers(this);
    }

    /// <summary>The configured breaker names, in order.</summary>
    public IReadOnlyList<string> Names => [.. _breakers.Keys.Order(StringComparer.Ordinal)];

    /// <summary>
    /// The pipeline <paramref name="name"/> for work that may not be safe to repeat: the breaker, and the retry only when
    /// the pipeline's <see cref="RetrySettings.RetryNonIdempotent"/> is set. Same as <c>GetPipeline(name, idempotent: false)</c>.
    /// </summary>
    /// <param name="name">A configured breaker name, for example <see cref="CircuitBreakerNames.Redis"/>.</param>
    /// <returns>The pipeline; it throws <see cref="BrokenCircuitException"/> while the breaker is open or isolated.</returns>
    /// <exception cref="ArgumentException">No breaker has this name; the message lists the configured ones.</exception>
    public ResiliencePipeline GetPipeline(string name) => GetPipeline(name, idempotent: false);

    /// <summary>
    /// The pipeline <paramref name="name"/>: its breaker, with its configured <see cref="CircuitBreakerSettings.Retry"/>
    /// outside it when <paramref name="idempotent"/> is <see langword="true"/> (or the pipeline retries every call).
    /// Each attempt is one call through the breaker; an open breaker ends the retries with
    /// <see cref="BrokenCircuitException"/>.
    /// </summary>
    /// <param name="name">A configured breaker name, for example <see cref="CircuitBreakerNames.Postgres"/>.</param>
    /// <param name="idempotent">
    /// Whether the work is safe to repeat (a read, an upsert, a write guarded by a key): only then is it retried by default.
    /// </param>
    /// <returns>The pipeline.</returns>
    /// <exception cref="ArgumentException">No breaker has this name; the message lists the configured ones.</exception>
    public ResiliencePipeline GetPipeline(string name, bool idempotent)
    {
        var breaker = Find(name);
        return idempotent ? breaker.IdempotentPipeline : breaker.Pipeline;
    }

    /// <summary>The current state of the breaker <paramref name="name"/>.</summary>
    /// <param name="name">A configured breaker name.</param>
    /// <returns>The state.</returns>
    /// <exception cref="ArgumentException">No breaker has this name.</exception>
    public CircuitState GetState(string name) => Find(name).State.CircuitState;

    /// <summary>
    /// Whether the breaker <paramref name="name"/> refuses calls now: isolated, or open and its break duration not yet
    /// over. Once the break is over the breaker is still reported <see cref="CircuitState.Open"/> (Polly.Core moves it to
    /// half-open only when a call is tried), but it is no longer broken: the next call through its pipeline is the trial.
    /// Code that skips calls while a breaker is broken must ask this, not the state, or it never makes that trial.
    /// </summary>
    /// <param name="name">A configured breaker name.</param>
    /// <returns><see langword="true"/> while it is isolated, or open within its break duration.</returns>
    /// <exception cref="ArgumentException">No breaker has this name.</exception>
    public bool IsBroken(string name) => Find(name).IsBroken();

    /// <summary>Every breaker's state, ordered by name.</summary>
    /// <returns>The statuses.</returns>
    public IReadOnlyList<CircuitBreakerStatus> GetStatuses() =>
        [.. _breakers.Values.OrderBy(b => b.Name, StringComparer.Ordinal).Select(b => b.Status())];

    /// <summary>Opens the breaker <paramref name="name"/> until <see cref="ResetAsync"/> (an operator isolating a dependency).</summary>
    /// <param name="name">A configured breaker name.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task.</returns>
    /// <exception cref="ArgumentException">No breaker has this name.</exception>
    public Task IsolateAsync(string name, CancellationToken cancellationToken = default) => Find(name).Control.IsolateAsync(cancellationToken);

    /// <summary>Closes the breaker <paramref name="name"/>, ending an isolation or an open period now.</summary>
    /// <param name="name">A configured breaker name.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    /// <returns>A task.</returns>
    /// <exception cref="ArgumentException">No breaker has this name.</exception>
    public Task ResetAsync(string name, CancellationToken cancellationToken = default) => Find(name).Control.CloseAsync(cancellationToken);

    /// <summary>The breaker alone, never a retry (for work the caller must not repeat, such as taking rate limit tokens).</summary>
    internal ResiliencePipeline GetBreakerPipeline(string name) => Find(name).BreakerPipeline;

    /// <summary>The breaker's state provider: a cheap read of its state on a hot path.</summary>
    internal CircuitBreakerStateProvider GetStateProvider(string name) => Find(name).State;

    internal bool TryGet(string name, out CircuitState state)
    {
        var found = _breakers.TryGetValue(name, out var breaker);
        state = found ? breaker!.State.CircuitState : CircuitState.Closed;
        return found;
    }

    private Breaker Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _breakers.TryGetValue(name, out var breaker)
            ? breaker
            : throw new ArgumentException(
                $"No circuit breaker is named '{name}'. Configured breakers (ScaleOps:Resilience:CircuitBreakers): {string.Join(", ", Names)}.",
                nameof(name));
    }

    private sealed class Breaker
    {
        private readonly TimeProvider _time;
        private long _changedAtTicks = long.MinValue;

        // When the current open period ends (UTC ticks). Polly runs OnOpened just after it opened the breaker, so until
        // then (and while closed or half-open) this is MaxValue: an open breaker whose end is not recorded yet is broken.
        private long _openUntilTicks = long.MaxValue;

        public Breaker(string name, CircuitBreakerSettings settings, TimeProvider time, ResilienceMetrics metrics, ILogger logger)
        {
            Name = name;
            Critical = settings.Critical;
            _time = time;
            var options = new CircuitBreakerStrategyOptions
            {
                Name = name,
                FailureRatio = settings.FailureRatio,
                MinimumThroughput = settings.MinimumThroughput,
                SamplingDuration = settings.SamplingDuration,
                BreakDuration = settings.BreakDuration,
                ShouldHandle = args => new ValueTask<bool>(Counts(args.Outcome.Exception, args.Outcome.Result, args.Context.CancellationToken)),
                StateProvider = State,
                ManualControl = Control,
                OnOpened = args =>
                {
                    Interlocked.Exchange(ref _openUntilTicks, OpenUntil(time.GetUtcNow().UtcTicks, args.BreakDuration)); // isolation: MaxValue
                    Changed(time, metrics, CircuitState.Open);
                    Log.BreakerOpened(logger, name, args.BreakDuration, args.IsManual, args.Outcome.Exception);
                    return default;
                },
                OnClosed = args =>
                {
                    Interlocked.Exchange(ref _openUntilTicks, long.MaxValue);
                    Changed(time, metrics, CircuitState.Closed);
                    Log.BreakerClosed(logger, name, args.IsManual);
                    return default;
                },
                OnHalfOpened = _ =>
                {
                    Interlocked.Exchange(ref _openUntilTicks, long.MaxValue);
                    Changed(time, metrics, CircuitState.HalfOpen);
                    return default;
                },
            };
            BreakerPipeline = new ResiliencePipelineBuilder { Name = name, TimeProvider = time }.AddCircuitBreaker(options).Build();
            IdempotentPipeline = settings.Retry is { } retry
                ? new ResiliencePipelineBuilder { Name = name, TimeProvider = time }
                    .AddRetry(RetryOptions(name, retry, metrics, logger))
                    .AddPipeline(BreakerPipeline) // retry outside: each attempt is one sample of the same breaker
                    .Build()
                : BreakerPipeline;
            Pipeline = settings.Retry is { RetryNonIdempotent: true } ? IdempotentPipeline : BreakerPipeline;
        }

        /// <summary>
        /// Whether an outcome counts as a failure of the dependency (Polly.Core's <c>ShouldHandle</c>): the transient
        /// failures, and, in half-open only, a cancellation the caller asked for. Polly.Core knows two outcomes, handled
        /// (a failure) and unhandled (a success), and a half-open breaker closes on an unhandled one; a trial the caller
        /// gave up on never got an answer from the dependency, so it must not close the breaker, and Polly.Core offers
        /// no way to stay half-open (the trial is the only call a half-open breaker lets through). So it re-opens the
        /// breaker for another break, after which the next call is a new trial. While closed the same cancellation is
        /// not a failure (an unhandled outcome changes nothing there).
        /// </summary>
        private bool Counts(Exception? exception, object? result, CancellationToken callerToken) =>
            TransientFailures.IsTransient(exception, result, callerToken)
            || (exception is OperationCanceledException && callerToken.IsCancellationRequested && State.CircuitState == CircuitState.HalfOpen);

        private static RetryStrategyOptions RetryOptions(string name, RetrySettings retry, ResilienceMetrics metrics, ILogger logger) => new()
        {
            Name = name + "-retry",
            MaxRetryAttempts = retry.MaxRetryAttempts,
            Delay = retry.BaseDelay,
            MaxDelay = retry.MaxDelay,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = retry.UseJitter,
            ShouldHandle = args => new ValueTask<bool>(TransientFailures.IsTransient(args.Outcome.Exception, args.Outcome.Result, args.Context.CancellationToken)),
            OnRetry = args =>
            {
                var exception = args.Outcome.Exception;
                metrics.Retry(name, exception);
                Log.Retrying(logger, name, args.AttemptNumber + 1, args.RetryDelay, exception);
                return default;
            },
        };

        public string Name { get; }

        public bool Critical { get; }

        public CircuitBreakerStateProvider State { get; } = new();

        public CircuitBreakerManualControl Control { get; } = new();

        /// <summary>The breaker alone.</summary>
        public ResiliencePipeline BreakerPipeline { get; }

        /// <summary>Retry (if configured) outside the breaker.</summary>
        public ResiliencePipeline IdempotentPipeline { get; }

        /// <summary>For work not declared idempotent: the breaker, or the retrying pipeline if it retries every call.</summary>
        public ResiliencePipeline Pipeline { get; }

        public CircuitBreakerStatus Status()
        {
            var ticks = Interlocked.Read(ref _changedAtTicks);
            var state = State.CircuitState;
            return new CircuitBreakerStatus(Name, state, Critical, ticks == long.MinValue ? null : new DateTimeOffset(ticks, TimeSpan.Zero))
            {
                IsBroken = IsBroken(state),
            };
        }

        public bool IsBroken() => IsBroken(State.CircuitState);

        private bool IsBroken(CircuitState state) => state == CircuitState.Isolated
            || (state == CircuitState.Open && _time.GetUtcNow().UtcTicks < Interlocked.Read(ref _openUntilTicks));

        private static long OpenUntil(long nowTicks, TimeSpan breakDuration) =>
            breakDuration.Ticks >= DateTimeOffset.MaxValue.UtcTicks - nowTicks ? long.MaxValue : nowTicks + breakDuration.Ticks;

        private void Changed(TimeProvider time, ResilienceMetrics metrics, CircuitState state)
        {
            Interlocked.Exchange(ref _changedAtTicks, time.GetUtcNow().UtcTicks);
            metrics.BreakerTransition(Name, state);
        }
    }
}
