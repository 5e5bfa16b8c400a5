using static TorchSharp.torch;

namespace MlpKit.Ffn.Variants;

/// <summary>Config of the dense baseline: ReLU/GELU MLP, or SwiGLU with <c>Gated</c> and SiLU.</summary>
public sealed record DenseConfig(
    long DModel,
    long DFf,
    FfnActivation Activation = FfnActivation.Relu,
    bool Gated = false,
    bool Bias = true,
    double WeightStdScale = 1.0) : FfnVariantConfig(DModel, WeightStdScale)
{
    public override void Validate(string where)
    {
        base.Validate(where);
        if (DFf <= 0) throw MlpKitException.Field(where, "d_ff", $"must be positive, got {DFf}");
    }

    /// <summary>Parameters of this block: the up (and gate) and down projections plus biases.</summary>
    public long ParameterCount => (Gated ? 3 : 2) * DModel * DFf + (Bias ? DFf + DModel : 0);

    public long MacsPerToken => (Gated ? 3 : 2) * DModel * DFf;
}

/// <summary>
/// The dense FFN baseline in the pre-LN init (truncated normal, std ws/√fan_in, zero biases). It wraps the
/// library's <see cref="DenseFeedForward"/>, so compression code sees it through <see cref="IFeedForward"/>.
/// </summary>
public sealed class DenseVariant : FeedForwardVariant
{
    private readonly DenseFeedForward ffn;
    private readonly DenseConfig _config;

    public DenseVariant(DenseConfig config, string name = "ffn") : base(nameof(DenseVariant))
    {
        config.Validate(name);
        _config = config;
        ffn = new DenseFeedForward(name, config.DModel, config.DFf, config.DModel, config.Activation,
            gated: config.Gated, upBias: config.Bias, downBias: config.Bias);
        RegisterComponents();
        var w = ffn.GetWeights();
        var ws = config.WeightStdScale;
        VariantInit.TruncNormal(w.Up, ws / Math.Sqrt(config.DModel));
        if (w.Gate is not null) VariantInit.TruncNormal(w.Gate, ws / Math.Sqrt(config.DModel));
        VariantInit.TruncNormal(w.Down, ws / Math.Sqrt(config.DFf));
        using (no_grad())
        {
            w.UpBias?.zero_();
            w.DownBias?.zero_();
        }
    }

    public override string VariantName => "dense";
    public override FfnVariantConfig Config => _config;

    /// <summary>The block in the library's common feed-forward contract.</summary>
    public IFeedForward Block => ffn;

    public override Tensor forward(Tensor x)
    {
        _aux = null;
        return ffn.forward(x);
    }

    public override long MacsPerToken => _config.MacsPerToken;
    public override double NominalComputeFraction => 1.0;
}
