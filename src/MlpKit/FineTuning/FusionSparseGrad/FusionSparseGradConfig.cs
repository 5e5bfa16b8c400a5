using MlpKit.FineTuning.SparseGrad;

namespace MlpKit.FineTuning.FusionSparseGrad;

/// <summary>
/// `fusion+sparsegrad`: MLP Fusion shrinks every feed-forward block first (k-means over the sub-MLPs, cluster sizes
/// kept as a frozen scale), then SparseGrad fine-tunes the smaller blocks. Options prefixed `fusion-` configure the
/// compression; every other option is SparseGrad's.
/// </summary>
public sealed record FusionSparseGradConfig
{
    public const string MethodName = "fusion+sparsegrad";

    /// <summary>Fraction of each block's hidden neurons kept (`fusion-ratio`); ignored when <see cref="Hidden"/> is set.</summary>
    public double Ratio { get; init; } = 0.5;
    /// <summary>Hidden width of every fused block (`fusion-hidden`), instead of the ratio.</summary>
    public int? Hidden { get; init; }
    /// <summary>k-means restarts (`fusion-restarts`), as `mlpkit compress --restarts`.</summary>
    public int Restarts { get; init; } = 3;
    /// <summary>Training texts whose MLP inputs measure the compression's output error (`fusion-calib-samples`).</summary>
    public int CalibrationSamples { get; init; } = 64;
    public SparseGradConfig SparseGrad { get; init; } = new();

    public static MethodOptionSet<FusionSparseGradConfig> Options { get; } = new MethodOptionSet<FusionSparseGradConfig>(MethodName)
        .Number("fusion-ratio", "fraction of each block's hidden neurons kept", c => c.Ratio, (c, v) => c with { Ratio = v }, 1e-9, 1)
        .Integer("fusion-hidden", "hidden width of every fused block instead of the ratio (0: use the ratio)", c => c.Hidden ?? 0,
            (c, v) => c with { Hidden = v > 0 ? v : null }, 0)
        .Integer("fusion-restarts", "k-means restarts", c => c.Restarts, (c, v) => c with { Restarts = v }, 1, 1000)
        .Integer("fusion-calib-samples", "training texts that measure the compression", c => c.CalibrationSamples, (c, v) => c with { CalibrationSamples = v }, 1, 1_000_000)
        .Include(SparseGradConfig.Options, c => c.SparseGrad, (c, v) => c with { SparseGrad = v });

    public static FusionSparseGradConfig From(IReadOnlyDictionary<string, string>? values) => Options.Parse(values);
}
