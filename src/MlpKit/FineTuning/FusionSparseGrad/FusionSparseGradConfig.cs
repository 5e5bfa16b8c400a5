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

    public static FusionSparseGradConfig From(IReadOnlyDictionary<string, string>? values)
    {
        var fusion = new Dictionary<string, string>(StringComparer.Ordinal);
        var rest = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in values ?? new Dictionary<string, string>())
            (k.StartsWith("fusion-", StringComparison.Ordinal) ? fusion : rest)[k] = v;
        var o = new MethodOptions(MethodName, fusion);
        var d = new FusionSparseGradConfig();
        var hidden = o.Int("fusion-hidden", 0, 0, int.MaxValue);
        var c = new FusionSparseGradConfig
        {
            Ratio = o.Double("fusion-ratio", d.Ratio, 1e-9, 1),
            Hidden = hidden > 0 ? hidden : null,
            Restarts = o.Int("fusion-restarts", d.Restarts, 1, 1000),
            CalibrationSamples = o.Int("fusion-calib-samples", d.CalibrationSamples, 1, 1_000_000),
            SparseGrad = SparseGradConfig.From(rest),
        };
        o.EnsureAllUsed();
        return c;
    }
}
