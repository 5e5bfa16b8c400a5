namespace MlpKit.Runtime;

/// <summary>
/// Names a phase on stderr only when it runs longer than a moment (2 s by default): a slow load says what it is doing,
/// while a quick one, or one that fails on bad input at once, prints nothing beside its own result or one-line error.
/// </summary>
public sealed class SlowPhaseNotice : IDisposable
{
    readonly Timer? _timer;

    public SlowPhaseNotice(string message, bool enabled = true, double seconds = 2) =>
        _timer = enabled ? new Timer(_ => Console.Error.WriteLine(message), null, TimeSpan.FromSeconds(seconds), Timeout.InfiniteTimeSpan) : null;

    public void Dispose() => _timer?.Dispose();
}
