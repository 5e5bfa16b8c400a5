using MlpKit.Checkpoints;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.Models;

/// <summary>
/// Rotary grouped-query self-attention as the Mixtral and Llama decoders have it (transformers' LlamaAttention):
/// q/k/v/o projections (biases where the config says), RoPE on queries and keys, an optional KV cache, and key/value
/// heads repeated so query head j reads key/value head j / (heads / kvHeads).
/// </summary>
public sealed class GqaAttention : nn.Module
{
    private Linear q_proj;
    private Linear k_proj;
    private Linear v_proj;
    private Linear o_proj;
    readonly int _heads, _kvHeads;
    readonly long _headDim;
    readonly double _dropout;

    public GqaAttention(long hidden, int heads, int kvHeads, long headDim, bool qkvBias, bool outputBias, double dropout) : base(nameof(GqaAttention))
    {
        if (heads % kvHeads != 0)
            throw new MlpKitException($"config.json: num_key_value_heads: {kvHeads} does not divide num_attention_heads {heads}");
        if (headDim % 2 != 0) throw new MlpKitException($"config.json: head_dim: {headDim} must be even for rotary embeddings");
        (_heads, _kvHeads, _headDim, _dropout) = (heads, kvHeads, headDim, dropout);
        q_proj = nn.Linear(hidden, heads * headDim, hasBias: qkvBias);
        k_proj = nn.Linear(hidden, kvHeads * headDim, hasBias: qkvBias);
        v_proj = nn.Linear(hidden, kvHeads * headDim, hasBias: qkvBias);
        o_proj = nn.Linear(heads * headDim, hidden, hasBias: outputBias);
        RegisterComponents();
    }

    /// <summary>The attention output [B, T, hidden] (after o_proj) for normed inputs h [B, T, hidden].</summary>
    public Tensor forward(Tensor h, Tensor mask, Tensor cos, Tensor sin, KvCache? cache, int layer)
    {
        var (b, t) = (h.shape[0], h.shape[1]);
        var q = q_proj.forward(h).view(b, t, _heads, _headDim).transpose(1, 2);
        var k = k_proj.forward(h).view(b, t, _kvHeads, _headDim).transpose(1, 2);
        var v = v_proj.forward(h).view(b, t, _kvHeads, _headDim).transpose(1, 2);
        q = RotaryEmbedding.Apply(q, cos, sin);
        k = RotaryEmbedding.Apply(k, cos, sin);
        if (cache is not null) (k, v) = cache.Append(layer, k, v);
        int rep = _heads / _kvHeads;
        if (rep > 1)
        {
            k = k.repeat_interleave(rep, dim: 1);
            v = v.repeat_interleave(rep, dim: 1);
        }
        var a = AttentionOps.MergeHeads(AttentionOps.Attend(q, k, v, mask, 1.0 / Math.Sqrt(_headDim), _dropout, training));
        return o_proj.forward(a);
    }

    /// <summary>Name-map entries: module <paramref name="ours"/>q_proj.weight ↔ checkpoint <paramref name="hf"/>q_proj.weight, biases where present.</summary>
    public IEnumerable<TensorMapping> Names(string ours, string hf)
    {
        foreach (var (proj, lin) in new[] { ("q_proj", q_proj), ("k_proj", k_proj), ("v_proj", v_proj), ("o_proj", o_proj) })
        {
            yield return new(ours + proj + ".weight", hf + proj + ".weight", ParameterCategory.Attention);
            if (lin.bias is not null) yield return new(ours + proj + ".bias", hf + proj + ".bias", ParameterCategory.Attention);
        }
    }
}
