using System;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;

namespace ScaleOps.TestInfrastructure;

/// <summary>
/// A logger (and logger provider, for any category) that completes <see cref="Message"/> with the formatted message of
/// the first event of one id: a test waits on it instead of sleeping.
/// </summary>
/// <typeparam name="TCategory">The category, when used as an <see cref="ILogger{TCategoryName}"/>.</typeparam>
public sealed class LogEventSignal<TCategory> : ILoggerProvider, ILogger<TCategory>
{
    private readonly int _eventId;

    /// <summary>Initializes a new instance of the <see cref="LogEventSignal{TCategory}"/> class.</summary>
    /// <param name="eventId">The event id to wait for.</param>
    public LogEventSignal(int eventId) => _eventId = eventId;

    /// <summary>Gets the message of the first event with the id.</summary>
    public TaskCompletionSource<string> Message { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <inheritdoc/>
    public ILogger CreateLogger(string categoryName) => this;

    /// <inheritdoc/>
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    /// <inheritdoc/>
    public bool IsEnabled(LogLevel logLevel) => true;

    /// <inheritdoc/>
    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        if (eventId.Id == _eventId)
        {
            Message.TrySetResult(formatter(state, exception));
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
    }
}
