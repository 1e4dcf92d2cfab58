using System.Collections.Concurrent;
using System.Diagnostics;

namespace Apex.Bench.Soak;

/// <summary>
/// Measures how long this process got no CPU at all (a dedicated thread that wakes every 10 ms and
/// notes how late it woke). Server and clients share the process and, on a busy machine, its cores:
/// a close answered late only because the whole process was not scheduled is the machine's delay,
/// not the server's, and is reported apart from the violations.
/// </summary>
internal sealed class StallMonitor : IDisposable
{
    private static readonly long Tick = Stopwatch.Frequency / 100;
    private readonly ConcurrentQueue<(long Start, long End)> _stalls = new();
    private readonly Thread _thread;
    private volatile bool _stop;

    public StallMonitor()
    {
        _thread = new Thread(Watch) { IsBackground = true, Name = "soak stall monitor", Priority = ThreadPriority.AboveNormal };
        _thread.Start();
    }

    /// <summary>Time within [start, end] (Stopwatch timestamps) during which the process was not scheduled.</summary>
    public TimeSpan StalledBetween(long start, long end)
    {
        long total = 0;
        foreach (var (s, e) in _stalls)
        {
            var from = Math.Max(s, start);
            var to = Math.Min(e, end);
            if (to > from)
            {
                total += to - from;
            }
        }

        return Stopwatch.GetElapsedTime(0, total);
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join();
    }

    private void Watch()
    {
        while (!_stop)
        {
            var before = Stopwatch.GetTimestamp();
            Thread.Sleep(10);
            var after = Stopwatch.GetTimestamp();
            // Anything beyond the 10 ms asked for, and a little scheduler slack, was time without CPU.
            if (after - before > 3 * Tick)
            {
                _stalls.Enqueue((before + Tick, after));
            }
        }
    }
}
