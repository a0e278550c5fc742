using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics.Metrics;
using System.Linq;

namespace ScaleOps.Caching.Tests.Support;

/// <summary>
/// Every measurement of one node's <c>scaleops.cache.*</c> instruments, taken with a <see cref="MeterListener"/> as a
/// metrics exporter would (nodes of parallel tests publish the same names on their own meters: only this one is heard).
/// </summary>
public sealed class CacheMeasurements : IDisposable
{
    private readonly MeterListener _listener;
    private readonly ConcurrentDictionary<string, Instrument> _instruments = new();
    private readonly ConcurrentQueue<(string Instrument, double Value, Dictionary<string, object?> Tags)> _measurements = new();

    public CacheMeasurements(Meter meter)
    {
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (ReferenceEquals(instrument.Meter, meter) && instrument.Name.StartsWith("scaleops.cache.", StringComparison.Ordinal))
                {
                    _instruments[instrument.Name] = instrument;
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, v, tags));
        _listener.Start();
    }

    /// <summary>The instruments published on the meter, by name.</summary>
    public IReadOnlyDictionary<string, Instrument> Instruments => _instruments;

    /// <summary>Reads the observable instruments (gauges, observable counters) once.</summary>
    public void Observe() => _listener.RecordObservableInstruments();

    /// <summary>Sum of the measurements of <paramref name="instrument"/> whose tag <paramref name="tag"/> is <paramref name="value"/>.</summary>
    public double Sum(string instrument, string tag, string value) =>
        _measurements.Where(m => m.Instrument == instrument && m.Tags.TryGetValue(tag, out var v) && (v as string) == value).Sum(m => m.Value);

    /// <summary>The distinct values seen for <paramref name="tag"/> on <paramref name="instrument"/>, ordered.</summary>
    public string[] TagValues(string instrument, string tag) =>
        [.. _measurements.Where(m => m.Instrument == instrument && m.Tags.ContainsKey(tag)).Select(m => (string)m.Tags[tag]!).Distinct().Order(StringComparer.Ordinal)];

    /// <summary>The tag names used on <paramref name="instrument"/>, ordered.</summary>
    public string[] TagNames(string instrument) =>
        [.. _measurements.Where(m => m.Instrument == instrument).SelectMany(m => m.Tags.Keys).Distinct().Order(StringComparer.Ordinal)];

    /// <summary>The last measurement of <paramref name="instrument"/>, if any.</summary>
    public double? Last(string instrument) => _measurements.LastOrDefault(m => m.Instrument == instrument) is { Instrument: not null } last ? last.Value : null;

    public void Dispose() => _listener.Dispose();

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var tag in tags)
        {
            copy[tag.Key] = tag.Value;
        }

        _measurements.Enqueue((instrument.Name, value, copy));
    }
}
