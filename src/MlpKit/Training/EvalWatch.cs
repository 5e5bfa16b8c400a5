namespace MlpKit.Training;

/// <summary>Progress and cancellation of a long evaluation: reports at most every two seconds, throws when cancelled.</summary>
public sealed class EvalWatch(CancellationToken cancel, Action<long, long>? progress = null)
{
    readonly System.Diagnostics.Stopwatch _since = System.Diagnostics.Stopwatch.StartNew();

    public void Step(long done, long total)
    {
        cancel.ThrowIfCancellationRequested();
        if (progress is null || _since.Elapsed.TotalSeconds < 2) return;
        progress(done, total);
        _since.Restart();
    }
}
