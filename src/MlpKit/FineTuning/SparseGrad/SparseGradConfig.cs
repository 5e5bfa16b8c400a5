namespace MlpKit.FineTuning.SparseGrad;

/// <summary>
/// SparseGrad (Chekalina et al., EMNLP 2024): MLP weights are fine-tuned in the basis W' = Uᵀ W V found by
/// HOSVD of their early gradients, where about 1% of the gradient entries carry the signal; only those
/// entries are trained, with gradients and Adam moments stored as index + values.
/// </summary>
public sealed record SparseGradConfig : FineTuneConfig
{
    /// <summary>Fraction of each MLP weight's entries (in the transformed basis) that train.</summary>
    public double Density { get; init; } = 0.01;
    /// <summary>Batches whose gradients are collected for the HOSVD and for the entry selection.</summary>
    public int CalibrationSteps { get; init; } = 10;
    /// <summary>
    /// One basis pair per kind of MLP weight (up, gate, down) shared by all layers of the same shape, from
    /// the gradients stacked over steps and layers as the paper does; false gives each weight its own.
    /// </summary>
    public bool ShareBasis { get; init; } = true;
    /// <summary>MLP biases are few and cheap; they train densely, as in the paper's sparse linear layer.</summary>
    public bool TrainBiases { get; init; } = true;
    /// <summary>
    /// 0 (the paper's rule): the support is the top entries of the whole m × n grid. g &gt; 0: candidates are
    /// first limited to the leading a rows × b columns of the transformed basis (ranked by their gradient
    /// energy, a·b ≈ g·k, shaped like the matrix), then the top k are taken among them. The per-step cost
    /// of SparseGrad grows with the rows and columns the support touches (g U[:, R], x V[:, C]), so this
    /// bounds the extra work at about N·(m·a + n·b) multiply-adds.
    /// </summary>
    public double Grid { get; init; }
    /// <summary>Regex over MLP linear names (e.g. "layers.0.mlp.down").</summary>
    public string Targets { get; init; } = @"(^|\.)(up|gate|down)$";

    public static MethodOptionSet<SparseGradConfig> Options { get; } = new MethodOptionSet<SparseGradConfig>("sparsegrad")
        .Number("density", "fraction of MLP weight entries trained", c => c.Density, (c, v) => c with { Density = v }, 1e-9, 1)
        .Integer("calibration-steps", "batches whose gradients find the basis and the support", c => c.CalibrationSteps, (c, v) => c with { CalibrationSteps = v }, 1, 100_000)
        .Bool("share-basis", "one basis per kind of MLP weight, shared by the layers", c => c.ShareBasis, (c, v) => c with { ShareBasis = v })
        .Bool("train-biases", "MLP biases train densely", c => c.TrainBiases, (c, v) => c with { TrainBiases = v })
        .Number("grid", "limit the support to a leading sub-grid of about GRID x k cells (0: the paper's rule)", c => c.Grid, (c, v) => c with { Grid = v }, 0, 1e9)
        .Regex("targets", "module names (regex) of the MLP linears", c => c.Targets, (c, v) => c with { Targets = v })
        .Shared();

    public static SparseGradConfig From(IReadOnlyDictionary<string, string>? values) => Options.Parse(values);
}
