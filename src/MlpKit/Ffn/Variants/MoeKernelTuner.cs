namespace MlpKit.Ffn.Variants;

/// <summary>
/// Chooses between the two expert paths of one layer by measured time. Which one is faster depends on the machine
/// and its load more than on the shapes: the sorted path (one matmul per expert, no padding) does the least work,
/// but every one of its N_E·6 matmuls is a parallel region; with 2 threads on a busy CPU each region can wait a
/// scheduler slice for the second thread, and the padded bmm's handful of regions then wins by several times
/// (measured: N_E 16, 2 threads, load ≈ 17 on 2 cores: sorted 2.3-2.5× dense, padded 0.8×; 1 thread: sorted
/// 0.35×, padded 0.44×). On one thread there are no regions to wait on and the sorted path, with the least work,
/// is taken without timing (so single-threaded runs stay bit-for-bit reproducible). With more threads the first
/// 2·<see cref="SamplesPerKernel"/> forward calls alternate the two paths, and the one with the smaller fastest
/// forward time is kept until the intra-op thread count changes.
/// </summary>
public sealed class MoeKernelTuner
{
    readonly double[] _best = [double.PositiveInfinity, double.PositiveInfinity];
    int _calls;
    int _threads = -1;

    /// <summary>Timed forward calls per path before the choice is made.</summary>
    public int SamplesPerKernel { get; init; } = 3;

    public bool Settled => (_threads is >= 0 and <= 1) || _calls >= 2 * SamplesPerKernel;

    /// <summary>The fastest forward time seen per path, in ms (∞ when not sampled).</summary>
    public (double Sorted, double Padded) BestMs => (_best[0], _best[1]);

    /// <summary>The path the next call should take, given the current intra-op thread count.</summary>
    public MoeKernelMode Next(int threads)
    {
        if (threads != _threads) Reset(threads);
        if (threads <= 1) return MoeKernelMode.Sorted;
        if (!Settled) return _calls % 2 == 0 ? MoeKernelMode.Sorted : MoeKernelMode.PaddedBmm;
        return _best[0] <= _best[1] ? MoeKernelMode.Sorted : MoeKernelMode.PaddedBmm;
    }

    /// <summary>Records the forward time of a call that <see cref="Next"/> chose while not yet settled.</summary>
    public void Report(MoeKernelMode mode, double ms)
    {
        if (Settled) return;
        var i = mode == MoeKernelMode.Sorted ? 0 : 1;
        _best[i] = Math.Min(_best[i], ms);
        _calls++;
    }

    public void Reset(int threads = -1)
    {
        _best[0] = _best[1] = double.PositiveInfinity;
        _calls = 0;
        _threads = threads;
    }
}
