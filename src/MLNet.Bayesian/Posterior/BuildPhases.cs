using System.Diagnostics;

namespace MLNet.Bayesian.Posterior;

/// <summary>
/// Seconds of stage 2 per phase, for the posterior-build benchmark: each <see cref="Mark"/> charges the time since
/// the previous one to the named phase; repeated names add up, in the order first seen. Single-threaded use only.
/// </summary>
internal sealed class BuildPhases
{
    readonly List<(string Name, double Seconds, int Calls)> _items = new();
    readonly Stopwatch _clock = Stopwatch.StartNew();

    public IReadOnlyList<(string Name, double Seconds, int Calls)> Items => _items;

    public void Mark(string phase)
    {
        double seconds = _clock.Elapsed.TotalSeconds;
        _clock.Restart();
        int i = _items.FindIndex(p => p.Name == phase);
        if (i < 0) _items.Add((phase, seconds, 1));
        else _items[i] = (phase, _items[i].Seconds + seconds, _items[i].Calls + 1);
    }
}
