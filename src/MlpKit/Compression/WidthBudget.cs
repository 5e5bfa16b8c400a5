namespace MlpKit.Compression;

/// <summary>
/// A model-wide width budget (`--budget b`): the compressed model keeps round(b·Σp) neurons in total, and each
/// block gets the width its measured sensitivity asks for, as FLAP allocates by fluctuation. The sensitivity is
/// each block's greedy least-squares removal schedule (<see cref="ObsPruneMethod.RemovalSchedule"/>): the
/// squared-error increase of every further neuron removed, relative to that block's output energy on the
/// calibration tokens. Removals are then taken one at a time from whichever block's next removal is cheapest, so
/// a block whose neurons can be spared (MiniLM layer 0) gives up more than one that cannot (layer 3).
/// </summary>
public static class WidthBudget
{
    /// <summary>No block is cut below this fraction of the budget's uniform width (and never below one neuron).</summary>
    public const double MinFractionOfUniform = 0.25;

    /// <summary>The kept total for a budget: round(b·Σp), at least one neuron per block.</summary>
    public static long Total(double budget, IReadOnlyList<long> widths)
    {
        if (!(budget > 0 && budget <= 1))
            throw new MlpKitException($"--budget {budget}: must be in (0, 1] (the fraction of all feed-forward neurons kept)");
        return Math.Max(widths.Count, (long)Math.Round(budget * widths.Sum()));
    }

    /// <summary>The lowest width the allocation may give a block of width p under the budget.</summary>
    public static int Floor(double budget, long p) => (int)Math.Max(1, Math.Round(budget * p * MinFractionOfUniform));

    /// <summary>
    /// Widths summing exactly to <paramref name="total"/>: start from the full widths and remove, one neuron at a
    /// time, the cheapest next removal over all blocks (costs[i][k] = cost of block i's (k+1)-th removal; a block
    /// offers no more removals than its cost list holds).
    /// </summary>
    public static int[] Allocate(IReadOnlyList<long> widths, IReadOnlyList<double[]> costs, long total)
    {
        if (widths.Count != costs.Count) throw new ArgumentException("one cost list per block", nameof(costs));
        long toRemove = widths.Sum() - total;
        if (toRemove < 0 || toRemove > costs.Sum(c => (long)c.Length))
            throw new MlpKitException($"--budget: {total} neurons cannot be reached within the allowed per-block widths");
        var taken = new int[widths.Count];
        var queue = new PriorityQueue<int, (double Cost, int Block)>();
        for (int i = 0; i < widths.Count; i++)
            if (costs[i].Length > 0) queue.Enqueue(i, (costs[i][0], i));
        for (long r = 0; r < toRemove; r++)
        {
            int i = queue.Dequeue();
            taken[i]++;
            if (taken[i] < costs[i].Length) queue.Enqueue(i, (costs[i][taken[i]], i));
        }
        return widths.Select((w, i) => (int)(w - taken[i])).ToArray();
    }
}
