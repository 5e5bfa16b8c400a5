using static TorchSharp.torch;

namespace MlpKit.Models;

/// <summary>
/// Rotary position embedding (RoPE) on [B, heads, T, head_dim] queries and keys, in the Hugging Face convention
/// (modeling_llama/mixtral): frequencies θ^(−2i/d) computed in float32, the angle vector repeated (cat(freqs, freqs))
/// and rotate_half pairing channel i with i + d/2. One implementation for every decoder: Mixtral computes the angles
/// of each call's positions; the σ-MoE LMs keep a table for their fixed context.
/// </summary>
public sealed class RotaryEmbedding : IDisposable
{
    readonly Tensor _cos, _sin;

    /// <summary>A table of the angles of positions 0..maxLength−1.</summary>
    public RotaryEmbedding(long headDim, long maxLength, double theta = 10000.0)
    {
        var (cos, sin) = Angles(0, maxLength, headDim, theta, ScalarType.Float32, CPU);
        _cos = cos.DetachFromDisposeScope();
        _sin = sin.DetachFromDisposeScope();
    }

    /// <summary>cos and sin [1, 1, length, headDim] for absolute positions start..start+length−1.</summary>
    public static (Tensor Cos, Tensor Sin) Angles(long start, long length, long headDim, double theta, ScalarType dtype, Device device)
    {
        using var invFreq = InverseFrequencies(headDim, theta, device);
        return Angles(start, length, invFreq, dtype, device);
    }

    /// <summary>θ^(−2i/d) for i &lt; d/2, in float32 as transformers computes them.</summary>
    public static Tensor InverseFrequencies(long headDim, double theta, Device? device = null) =>
        1.0 / pow(theta, arange(0, headDim, 2, dtype: ScalarType.Int64, device: device).to_type(ScalarType.Float32) / headDim);

    /// <summary>cos and sin [1, 1, length, 2·invFreq.numel] from given (possibly rescaled) inverse frequencies.</summary>
    public static (Tensor Cos, Tensor Sin) Angles(long start, long length, Tensor invFreq, ScalarType dtype, Device device)
    {
        using var scope = NewDisposeScope();
        var pos = arange(start, start + length, dtype: ScalarType.Int64, device: device).to_type(ScalarType.Float32);
        var freqs = pos.unsqueeze(1) * invFreq.to(ScalarType.Float32, device).unsqueeze(0);
        var emb = cat(new[] { freqs, freqs }, -1);
        return (emb.cos().to_type(dtype).unsqueeze(0).unsqueeze(0).MoveToOuterDisposeScope(),
                emb.sin().to_type(dtype).unsqueeze(0).unsqueeze(0).MoveToOuterDisposeScope());
    }

    /// <summary>x·cos + rotate_half(x)·sin, with cos and sin broadcast over batch and heads.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin) => x * cos + RotateHalf(x) * sin;

    /// <summary>Rotates x [B, H, T, D] for positions offset..offset+T−1 from the table.</summary>
    public Tensor Apply(Tensor x, long offset = 0)
    {
        var t = x.shape[2];
        return Apply(x, _cos.narrow(2, offset, t).to(x.dtype, x.device), _sin.narrow(2, offset, t).to(x.dtype, x.device));
    }

    static Tensor RotateHalf(Tensor x)
    {
        var half = x.shape[^1] / 2;
        return cat(new[] { -x.narrow(-1, half, half), x.narrow(-1, 0, half) }, -1);
    }

    public void Dispose()
    {
        _cos.Dispose();
        _sin.Dispose();
    }
}
