using MlpKit.Checkpoints;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.Models;

/// <summary>
/// The parts the rotary decoders (Mixtral, the Llama family) share around their layers: the forward pass from ids to
/// logits (embeddings, causal and optionally windowed mask, RoPE angles, the layers, final RMSNorm, a head tied to the
/// embeddings when there is none) and the transformers names of everything but the feed-forward blocks.
/// </summary>
public static class RotaryDecoder
{
    /// <summary>One decoder layer: (x, mask, cos, sin, cache, layer index) → x.</summary>
    public delegate Tensor Layer(Tensor x, Tensor mask, Tensor cos, Tensor sin, KvCache? cache, int index);

    public static Tensor Forward(Tensor inputIds, Tensor? attentionMask, KvCache? cache, Embedding embed, RmsNorm norm, Linear? head,
        Tensor invFreq, long? slidingWindow, int layers, Layer layer)
    {
        using var scope = NewDisposeScope();
        var ids = inputIds.to_type(ScalarType.Int64);
        long t = ids.shape[1];
        long past = cache?.Length ?? 0;
        var x = embed.forward(ids);
        var mask = AttentionOps.CausalMask(t, past, attentionMask, x.dtype, x.device, slidingWindow);
        var (cos, sin) = RotaryEmbedding.Angles(past, t, invFreq, x.dtype, x.device);
        for (int i = 0; i < layers; i++) x = layer(x, mask, cos, sin, cache, i);
        x = norm.forward(x);
        var logits = head is null ? nn.functional.linear(x, embed.weight!) : head.forward(x);
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The name map under transformers' `model.` prefix: embeddings, per layer the two RMSNorms and the attention plus
    /// what <paramref name="feedForward"/> adds for the layer (given our prefix "layers.N." and theirs
    /// "model.layers.N."), the final norm and the head (or the tied head's absence).
    /// </summary>
    public static TensorNameMap Names(string architecture, IReadOnlyList<GqaAttention> attention, bool untiedHead,
        Func<int, string, string, IEnumerable<TensorMapping>> feedForward)
    {
        const string p = "model.";
        var e = new List<TensorMapping> { new("embed.weight", p + "embed_tokens.weight", ParameterCategory.Embeddings) };
        for (int i = 0; i < attention.Count; i++)
        {
            var l = $"{p}layers.{i}.";
            var n = $"layers.{i}.";
            e.Add(new(n + "input_norm.weight", l + "input_layernorm.weight", ParameterCategory.Other));
            e.AddRange(attention[i].Names(n + "attn.", l + "self_attn."));
            e.Add(new(n + "post_norm.weight", l + "post_attention_layernorm.weight", ParameterCategory.Other));
            e.AddRange(feedForward(i, n, l));
        }
        e.Add(new("norm.weight", p + "norm.weight", ParameterCategory.Other));
        var ignored = new List<string> { @"rotary_emb\.inv_freq$" };
        if (untiedHead) e.Add(new("lm_head.weight", "lm_head.weight", ParameterCategory.Embeddings));
        else ignored.Add(@"^lm_head\.weight$");
        return new TensorNameMap(architecture, e, [p], ignored);
    }
}
