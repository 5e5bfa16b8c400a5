using static TorchSharp.torch;

namespace MlpKit.Embeddings;

/// <summary>Sentence pooling of token states [B, T, H] under a mask [B, T] (1 = token), as sentence-transformers computes it.</summary>
public static class Pooling
{
    public static Tensor Pool(Tensor hidden, Tensor mask, PoolingMode mode, bool normalize)
    {
        using var scope = NewDisposeScope();
        var m = mask.to(hidden.dtype).unsqueeze(-1);
        var pooled = mode switch
        {
            PoolingMode.Cls => hidden.select(1, 0),
            // sum over real tokens / their count (clamped as sentence-transformers does, for all-padding rows)
            PoolingMode.Mean => (hidden * m).sum(1) / m.sum(1).clamp_min(1e-9),
            _ => hidden.masked_fill(m.eq(0), -1e9).amax(1),
        };
        if (normalize) pooled = nn.functional.normalize(pooled, p: 2, dim: 1);
        return pooled.MoveToOuterDisposeScope();
    }
}
