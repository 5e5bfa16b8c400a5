using MlpKit.Ffn;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.Models.UseLite;

/// <summary>
/// One pre-norm layer of the USE-Lite encoder, as its TF.js graph computes it:
/// <code>
///   x = Attention(LayerNorm(x)) + Residual(x)       Residual = identity, or a dense in→hidden projection
///                                                    (masked to valid tokens) when the widths differ
///   x = Ffn(LayerNorm(x)) ⊙ valid + x                 Ffn = 512→1536→512 ReLU, on valid tokens only
/// </code>
/// Attention uses one fused QKV projection of width 3·in, <see cref="UseLiteConfig.Heads"/> heads of
/// width in/heads, queries scaled by 1/√(in/heads), padding keys biased by -1e9, and an in→hidden output
/// projection.
/// </summary>
public sealed class UseLiteLayer : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    private LayerNorm attn_norm;
    private Linear qkv;
    private Linear attn_out;
    private Linear? residual_proj;
    private LayerNorm mlp_norm;
    private DenseFeedForward mlp;
    private readonly int _heads;

    public UseLiteLayer(int index, int inputDim, int hiddenDim, int ffnDim, int heads, double eps) : base($"layers.{index}")
    {
        _heads = heads;
        attn_norm = nn.LayerNorm(inputDim, eps);
        qkv = nn.Linear(inputDim, 3L * inputDim);
        attn_out = nn.Linear(inputDim, hiddenDim);
        residual_proj = inputDim == hiddenDim ? null : nn.Linear(inputDim, hiddenDim);
        mlp_norm = nn.LayerNorm(hiddenDim, eps);
        mlp = new DenseFeedForward($"layers.{index}.mlp", hiddenDim, ffnDim, hiddenDim, FfnActivation.Relu);
        RegisterComponents();
    }

    public DenseFeedForward Mlp => mlp;
    public long InputDim => qkv.weight!.shape[1];
    /// <summary>Layer 0 projects its 256-wide input to the 512-wide stream for the residual.</summary>
    public bool HasResidualProjection => residual_proj is not null;

    /// <param name="x">[B, T, in] residual stream.</param>
    /// <param name="keyBias">[B, 1, 1, T]: 0 for real tokens, -1e9 for padding.</param>
    /// <param name="valid">[B, T, 1]: 1 for real tokens, 0 for padding.</param>
    public override Tensor forward(Tensor x, Tensor keyBias, Tensor valid)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1], width = x.shape[2], depth = width / _heads;
        var parts = qkv.forward(attn_norm.forward(x)).split(width, -1);
        Tensor Heads(Tensor p) => p.reshape(b, t, _heads, depth).transpose(1, 2);
        // The graph scales the queries (not the scores) by the float32 constant depth^-0.5.
        var q = Heads(parts[0]) * (float)(1.0 / Math.Sqrt(depth));
        var scores = q.matmul(Heads(parts[1]).transpose(-1, -2)) + keyBias;
        var context = nn.functional.softmax(scores, -1).matmul(Heads(parts[2]))
            .transpose(1, 2).reshape(b, t, width);
        var residual = residual_proj is null ? x : residual_proj.forward(x) * valid;
        var h = attn_out.forward(context) + residual;
        var y = mlp.forward(mlp_norm.forward(h)) * valid + h;
        return y.MoveToOuterDisposeScope();
    }
}
