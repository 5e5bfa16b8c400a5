using static TorchSharp.torch;

namespace MlpKit.Ffn.Variants;

/// <summary>
/// A position-wise feed-forward block that can replace the dense MLP of a transformer layer: dense
/// itself, or one of its sparse approximations (Top-K activation, product-key memory, mixtures of experts).
/// Input and output are [..., d_model]. Everything a trainer or a report needs is here, so callers never
/// special-case a variant.
/// </summary>
public abstract class FeedForwardVariant : nn.Module<Tensor, Tensor>
{
    protected FeedForwardVariant(string name) : base(name) { }

    /// <summary>The registered name ("dense", "sigma-moe", ...).</summary>
    public abstract string VariantName { get; }

    /// <summary>The config the block was built from.</summary>
    public abstract FfnVariantConfig Config { get; }

    public long DModel => Config.DModel;

    /// <summary>
    /// The regulariser of the last forward call, already scaled by its coefficient (add it to the loss as is),
    /// or a zero scalar when the variant has none. It belongs to the dispose scope of that forward call.
    /// </summary>
    public Tensor AuxLoss => _aux ?? zeros(1, dtype: ScalarType.Float32).squeeze();

    protected Tensor? _aux;

    /// <summary>
    /// How often each unit was selected since the last <see cref="ResetUsage"/>: experts for MoEs, values for
    /// PKM, hidden neurons for Top-K; empty for dense. Counted in training and evaluation alike.
    /// </summary>
    public long[] UsageCounts => (long[])_usage.Clone();

    /// <summary>Tokens seen since the last <see cref="ResetUsage"/>.</summary>
    public long UsageTokens { get; private set; }

    public void ResetUsage()
    {
        Array.Clear(_usage);
        UsageTokens = 0;
    }

    protected long[] _usage = [];

    protected void AddUsage(long[] counts, long tokens)
    {
        for (int i = 0; i < counts.Length; i++) _usage[i] += counts[i];
        UsageTokens += tokens;
    }

    /// <summary>Trainable parameters of the block (its own count, for parameter-equal comparisons).</summary>
    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>Exact multiply-accumulates per token of one forward call, selector/key search included.</summary>
    public abstract long MacsPerToken { get; }

    /// <summary>
    /// The compute share the paper's tables report ("% FFN FLOPs", "% FF params used at once"): K/N_E for the
    /// MoEs, K/d_ff for Top-K, heads·knn/N for PKM, 1 for dense. It ignores the selector; see
    /// <see cref="MacsPerToken"/> for the exact figure.
    /// </summary>
    public abstract double NominalComputeFraction { get; }
}

/// <summary>The fields every variant config shares.</summary>
/// <param name="DModel">Width of the residual stream (input and output of the block).</param>
/// <param name="WeightStdScale">
/// The pre-LN init scale ws: every weight std is ws/√fan_in; ws = √(2/n_layers) for a pre-LN stack
/// (<see cref="VariantInit.PreLnScale"/>), 1 for post-LN.
/// </param>
public abstract record FfnVariantConfig(long DModel, double WeightStdScale)
{
    /// <summary>Throws a <see cref="MlpKitException"/> naming the field that is out of range.</summary>
    public virtual void Validate(string where)
    {
        if (DModel <= 0) throw MlpKitException.Field(where, "d_model", $"must be positive, got {DModel}");
        if (!(WeightStdScale > 0)) throw MlpKitException.Field(where, "weight_std_scale", $"must be positive, got {WeightStdScale}");
    }
}
