namespace MlpKit.FineTuning.MeProp;

/// <summary>
/// meProp (Sun et al. 2017), the SparseGrad paper's baseline: in the backward pass of each MLP linear only
/// the k largest-magnitude entries of every row of the output gradient are kept, so the weight gradient
/// (and the gradient passed down) is built from a top-k sparsified signal. The MLP weights train with AdamW.
/// </summary>
public sealed record MePropConfig : FineTuneConfig
{
    /// <summary>Entries kept per row of the output gradient; 0 means use <see cref="KeepFraction"/> of the width.</summary>
    public int K { get; init; }
    public double KeepFraction { get; init; } = 0.1;
    /// <summary>Regex over MLP linear names (e.g. "layers.0.mlp.up").</summary>
    public string Targets { get; init; } = @"(^|\.)(up|gate|down)$";

    public int KeepFor(long width) => (int)Math.Clamp(K > 0 ? K : (long)Math.Ceiling(KeepFraction * width), 1, width);

    public static MethodOptionSet<MePropConfig> Options { get; } = new MethodOptionSet<MePropConfig>("meprop")
        .Integer("k", "entries kept per output-gradient row (0: use keep)", c => c.K, (c, v) => c with { K = v }, 0)
        .Number("keep", "fraction of each output-gradient row kept", c => c.KeepFraction, (c, v) => c with { KeepFraction = v }, 1e-6, 1)
        .Regex("targets", "module names (regex) of the MLP linears", c => c.Targets, (c, v) => c with { Targets = v })
        .Shared();

    public static MePropConfig From(IReadOnlyDictionary<string, string>? values) => Options.Parse(values);
}
