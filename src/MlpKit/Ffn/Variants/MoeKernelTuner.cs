namespace MlpKit.Ffn.Variants;

/// <summary>
/// Chooses how one layer runs its experts, by measured time. Which one is faster depends on the machine
/// and its load more than on the shapes: the sorted path (one matmul per expert, no padding) does the least work,
/// but every one of its N_E·6 matmuls is a parallel region; with 2 threads on a busy CPU each region can wait a
/// scheduler slice for the second thread, and the padded bmm's handful of regions then wins by several times
/// (measured: N_E 16, 2 threads, load ≈ 17 on 2 cores: sorted 2.3-2.5× dense, padded 0.8×; 1 thread: sorted
/// 0.35×, padded 0.44×). On one thread there are no regions to wait on and the sorted path, with the least work,
/// is taken without timing (so single-threaded runs stay bit-for-bit reproducible). With more threads the first
/// 3·<see cref="SamplesPerKernel"/> calls cycle through the sorted path, the padded bmm and the sorted path on one
/// intra-op thread (which sidesteps the barriers altogether when the second core is taken), and the one with the smaller fastest
/// forward+backward time (forward alone when no backward follows) is kept until the intra-op thread count changes.
/// The backward is timed because it holds two thirds of the matmuls: a forward-only choice picked the sorted path
/// under load and the step then ran at 3.4× dense.
/// </summary>
public sealed class MoeKernelTuner
{
    readonly List<double>[] _samples = [[], [], []];
    int _issued;
    int _threads = -1;

    /// <summary>Timed calls per path before the choice is made.</summary>
    public int SamplesPerKernel { get; init; } = 3;

    public bool Settled => (_threads is >= 0 and <= 1) || _samples.All(s => s.Count >= SamplesPerKernel);

    /// <summary>The fastest time recorded per path, in ms (∞ when not sampled).</summary>
    public (double Sorted, double Padded, double SortedOneThread) BestMs => (Best(0), Best(1), Best(2));

    static readonly MoeKernelMode[] Candidates = [MoeKernelMode.Sorted, MoeKernelMode.PaddedBmm, MoeKernelMode.SortedOneThread];

    double Best(int i) => _samples[i].Count == 0 ? double.PositiveInfinity : _samples[i].Min();

    /// <summary>The path the next call should take, given the current intra-op thread count.</summary>
    public MoeKernelMode Next(int threads)
    {
        if (threads != _threads) Reset(threads);
        if (threads <= 1) return MoeKernelMode.Sorted;
        if (!Settled) return Candidates[_issued++ % Candidates.Length];
        int best = 0;
        for (int i = 1; i < Candidates.Length; i++) if (Best(i) < Best(best)) best = i;
        return Candidates[best];
    }

    /// <summary>Records the time of a call (forward, plus its backward when there is one) made while not settled.</summary>
    public void Report(MoeKernelMode mode, double ms)
    {
        if (Settled) return;
        _samples[Array.IndexOf(Candidates, mode)].Add(ms);
    }

    public void Reset(int threads = -1)
    {
        foreach (var s in _samples) s.Clear();
        _issued = 0;
        _threads = threads;
    }
}
