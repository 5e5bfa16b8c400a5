using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.Ffn.Variants;

/// <summary>Config of the Top-K activation FFN: a dense MLP keeping only the K largest hidden activations.</summary>
/// <para>RankByValueNorm: 
/// Rank neurons by activation × ‖value column‖ instead of the activation alone (the paper's
/// <c>topk_use_norm</c>; off in every sweep).
/// </para>
public sealed record TopKConfig(
    long DModel,
    long DFf,
    long K,
    FfnActivation Activation = FfnActivation.Relu,
    bool Bias = true,
    bool RankByValueNorm = false,
    double WeightStdScale = 1.0) : FfnVariantConfig(DModel, WeightStdScale)
{
    public override void Validate(string where)
    {
        base.Validate(where);
        if (DFf <= 0) throw MlpKitException.Field(where, "d_ff", $"must be positive, got {DFf}");
        if (K <= 0 || K > DFf) throw MlpKitException.Field(where, "k", $"must be in 1..d_ff ({DFf}), got {K}");
    }
}

/// <summary>
/// Top-K activation: u = act(W1·x + b1), all but the K largest entries of u zeroed, y = W2·u + b2. The mask is
/// found without gradient; the kept activations carry their gradient. The first projection stays dense, so at
/// best half of the FFN compute is saved: this is the paper's "ideal" approximation, not a fast one.
/// </summary>
public sealed class TopKFeedForward : FeedForwardVariant
{
    private Linear up;
    private Linear down;
    private readonly TopKConfig _config;

    public TopKFeedForward(TopKConfig config, string name = "ffn") : base(nameof(TopKFeedForward))
    {
        config.Validate(name);
        _config = config;
        up = nn.Linear(config.DModel, config.DFf, hasBias: config.Bias);
        down = nn.Linear(config.DFf, config.DModel, hasBias: config.Bias);
        RegisterComponents();
        VariantInit.TruncNormal(up.weight!, config.WeightStdScale / Math.Sqrt(config.DModel));
        VariantInit.TruncNormal(down.weight!, config.WeightStdScale / Math.Sqrt(config.DFf));
        using (no_grad())
        {
            up.bias?.zero_();
            down.bias?.zero_();
        }
        _usage = new long[config.DFf];
    }

    public override string VariantName => "topk";
    public override FfnVariantConfig Config => _config;
    public Linear Up => up;
    public Linear Down => down;

    public override Tensor forward(Tensor x)
    {
        _aux = null;
        var h = Activations.Apply(_config.Activation, up.forward(x));
        Tensor mask;
        using (no_grad())
        {
            var rank = _config.RankByValueNorm ? h * down.weight!.norm(0, keepdim: false, p: 2) : h;
            var idx = rank.topk((int)_config.K, dim: -1, largest: true, sorted: false).indexes;
            mask = zeros_like(h).scatter_(-1, idx, ones(idx.shape, dtype: h.dtype, device: h.device));
            var counts = bincount(idx.reshape(-1), minlength: _config.DFf).to(ScalarType.Int64).data<long>().ToArray();
            AddUsage(counts, idx.numel() / _config.K);
        }
        return down.forward(h * mask);
    }

    public override long MacsPerToken => _config.DModel * _config.DFf + _config.K * _config.DModel;
    public override double NominalComputeFraction => (double)_config.K / _config.DFf;
}
