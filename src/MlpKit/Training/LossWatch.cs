using System.Globalization;

namespace MlpKit.Training;

/// <summary>
/// Watches the training loss for a run that is not learning: once a quarter of the steps are done, it compares the
/// mean loss of the last steps with that of the first ones and returns one warning if it has not fallen (a learning
/// rate far too small or too large is the usual cause). Short runs (under 20 steps) and runs resumed past the quarter
/// are not judged: a handful of noisy batches says nothing.
/// </summary>
internal sealed class LossWatch(long startStep, long totalSteps)
{
    const int Window = 10;
    readonly long _checkAt = startStep == 0 && totalSteps >= 20 ? (long)Math.Ceiling(totalSteps * 0.25) : -1;
    readonly List<double> _first = [];
    readonly Queue<double> _recent = new();

    /// <summary>Records the loss of <paramref name="step"/>; returns the warning at the quarter mark, else null.</summary>
    public string? Add(long step, double loss)
    {
        if (_checkAt < 0 || step > _checkAt) return null;
        var firstCount = Math.Max(1, Math.Min(Window, _checkAt / 4));
        if (_first.Count < firstCount) _first.Add(loss);
        _recent.Enqueue(loss);
        if (_recent.Count > Math.Min(Window, firstCount)) _recent.Dequeue();
        if (step < _checkAt) return null;
        var (first, last) = (_first.Average(), _recent.Average());
        var ci = CultureInfo.InvariantCulture;
        return last < first ? null
            : $"the training loss has not fallen in the first {step} of {totalSteps} steps ({first.ToString("F4", ci)} -> {last.ToString("F4", ci)}); " +
              "the learning rate (--lr) may be too small or too large";
    }
}
