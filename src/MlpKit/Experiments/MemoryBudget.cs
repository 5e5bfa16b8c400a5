using System.Globalization;

namespace MlpKit.Experiments;

/// <summary>
/// The paper's protocol compares methods at an equal trainable-memory budget: SparseGrad at a given
/// density fixes the budget, LoRA's rank and MeProp's keep fraction are derived from it.
/// <para>
/// Rule. For MLP weights of shapes m_l × n_l, SparseGrad trains B = Σ_l ⌈d·m_l·n_l⌉ entries; each costs a
/// gradient and two Adam moments, exactly like a dense trainable element, so matching trainable entries
/// matches gradient + optimizer memory (SparseGrad also stores one int64 index per entry; that overhead is
/// measured and reported, not matched). LoRA on the same weights trains r·Σ_l (m_l + n_l) elements, so
/// r = max(1, round(B / Σ_l (m_l + n_l))). MeProp keeps the top fraction of every row of each linear's output
/// gradient; keep = d makes each token's weight-gradient contribution hold the same fraction d of entries as
/// SparseGrad's support. MeProp's weights still train with dense AdamW (as in meProp), so its optimizer
/// state cannot shrink with keep: that is reported as measured.
/// </para>
/// </summary>
public sealed record MemoryBudget(double Density, long SparseGradEntries, long LoraPerRank, int LoraRank, double MePropKeep)
{
    public long LoraEntries => LoraPerRank * LoraRank;

    public static MemoryBudget Match(IEnumerable<(long Rows, long Cols)> mlpWeights, double density)
    {
        if (!(density > 0 && density <= 1)) throw new MlpKitException($"--density {density.ToString(CultureInfo.InvariantCulture)}: must be in (0, 1]");
        long entries = 0, perRank = 0;
        foreach (var (m, n) in mlpWeights)
        {
            if (m <= 0 || n <= 0) throw new ArgumentException($"weight shape {m}x{n} must be positive");
            entries += Math.Max(1, (long)Math.Ceiling(density * m * n));
            perRank += m + n;
        }
        if (perRank == 0) throw new MlpKitException("memory matching: the model has no MLP weights");
        var rank = (int)Math.Max(1, Math.Round((double)entries / perRank, MidpointRounding.AwayFromZero));
        return new MemoryBudget(density, entries, perRank, rank, density);
    }

    /// <summary>
    /// The method options that realise the budget for each method (full takes none). fusion+sparsegrad keeps the
    /// density, so it trains the same fraction of its smaller MLP weights: less memory than the budget, by design.
    /// </summary>
    public IReadOnlyDictionary<string, string> OptionsFor(string method) => method switch
    {
        "sparsegrad" or MlpKit.FineTuning.FusionSparseGrad.FusionSparseGradConfig.MethodName => new Dictionary<string, string> { ["density"] = Density.ToString("R", CultureInfo.InvariantCulture) },
        "lora" => new Dictionary<string, string> { ["rank"] = LoraRank.ToString(CultureInfo.InvariantCulture) },
        "meprop" => new Dictionary<string, string> { ["keep"] = MePropKeep.ToString("R", CultureInfo.InvariantCulture) },
        _ => new Dictionary<string, string>(),
    };
}
