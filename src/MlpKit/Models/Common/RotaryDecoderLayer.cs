using static TorchSharp.torch;

namespace MlpKit.Models;

/// <summary>
/// One pre-RMSNorm rotary decoder layer: x + Attn(RMSNorm x), then x + FFN(RMSNorm x). The feed-forward part is the
/// architecture's (Llama's gated MLP, registered as "mlp"; Mixtral's sparse MoE, as "moe"), so module names stay each
/// architecture's own.
/// </summary>
public sealed class RotaryDecoderLayer<TFfn> : nn.Module where TFfn : nn.Module<Tensor, Tensor>
{
    readonly RmsNorm _inputNorm, _postNorm;
    readonly GqaAttention _attn;
    readonly TFfn _ffn;

    public RotaryDecoderLayer(int index, long hidden, double eps, GqaAttention attention, string ffnName, TFfn ffn) : base($"layer{index}")
    {
        _inputNorm = new RmsNorm(hidden, eps);
        _attn = attention;
        _postNorm = new RmsNorm(hidden, eps);
        _ffn = ffn;
        register_module("input_norm", _inputNorm);
        register_module("attn", _attn);
        register_module("post_norm", _postNorm);
        register_module(ffnName, _ffn);
    }

    public GqaAttention Attention => _attn;
    public TFfn FeedForward => _ffn;

    public Tensor forward(Tensor x, Tensor mask, Tensor cos, Tensor sin, KvCache? cache, int index) => LayerScope.Run(() =>
    {
        var h = x + _attn.forward(_inputNorm.forward(x), mask, cos, sin, cache, index);
        return h + _ffn.forward(_postNorm.forward(h));
    });
}
