namespace MlpKit.Training;

/// <summary>
/// The live status line on stderr: redrawn in place on a terminal, printed as plain lines every
/// <c>logEvery</c> steps when stderr is redirected (logs, CI).
/// </summary>
internal sealed class ProgressLine(bool enabled, int logEvery)
{
    readonly bool _tty = !Console.IsErrorRedirected;
    DateTime _last = DateTime.MinValue;
    int _width;

    public void Update(StepInfo s, double etaSeconds)
    {
        if (!enabled) return;
        var line = $"step {s.Step}/{s.TotalSteps}  epoch {s.Epoch}  loss {s.Loss:F4}  lr {s.LearningRate:E2}  {s.ExamplesPerSecond:F1} ex/s  ETA {Format(etaSeconds)}";
        if (_tty)
        {
            if ((DateTime.UtcNow - _last).TotalMilliseconds < 200 && s.Step != s.TotalSteps) return;
            _last = DateTime.UtcNow;
            Console.Error.Write("\r" + line.PadRight(_width));
            _width = line.Length;
        }
        else if (s.Step % Math.Max(1, logEvery) == 0 || s.Step == s.TotalSteps)
            Console.Error.WriteLine(line);
    }

    public void Message(string text)
    {
        if (!enabled) return;
        if (_tty && _width > 0) { Console.Error.WriteLine(); _width = 0; }
        Console.Error.WriteLine(text);
    }

    /// <summary>A warning is shown even without the progress line: it says something about the run's result.</summary>
    public void Warn(string text)
    {
        if (_tty && _width > 0) { Console.Error.WriteLine(); _width = 0; }
        Console.Error.WriteLine("warning: " + text);
    }

    public void End()
    {
        if (enabled && _tty && _width > 0) Console.Error.WriteLine();
        _width = 0;
    }

    static string Format(double seconds)
    {
        if (double.IsNaN(seconds) || double.IsInfinity(seconds)) return "--:--:--";
        var t = TimeSpan.FromSeconds(Math.Max(0, seconds));
        return $"{(int)t.TotalHours:D2}:{t.Minutes:D2}:{t.Seconds:D2}";
    }
}
