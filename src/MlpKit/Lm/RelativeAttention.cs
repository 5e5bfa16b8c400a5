using MlpKit.Ffn.Variants;
using TorchSharp.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace MlpKit.Lm;

/// <summary>
/// Transformer-XL relative multi-head attention (Dai et al. 2019). Queries come from the current segment x [B, T, D];
/// keys and values from [memory ; x] (L = M + T positions). The score of query i (absolute position M + i) and key j is
/// (q_i·k_j + q_i·W_r R_{M+i−j} + u·k_j + v·W_r R_{M+i−j}) / √head_dim with sinusoidal R, masked to j ≤ M + i.
/// The position term is computed once per distance and aligned to (i, j) with the relative-shift trick.
/// </summary>
public sealed class RelativeMultiHeadAttention : nn.Module<Tensor, Tensor, Tensor>
{
    private Linear q_net;
    private Linear kv_net;
    private Linear r_net;
    private Linear proj;
    private Parameter r_w_bias;   // u [H, hd]
    private Parameter r_r_bias;   // v [H, hd]
    private readonly int _heads;

    public RelativeMultiHeadAttention(long dModel, int heads, double ws) : base(nameof(RelativeMultiHeadAttention))
    {
        _heads = heads;
        var hd = dModel / heads;
        q_net = nn.Linear(dModel, dModel, hasBias: false);
        kv_net = nn.Linear(dModel, 2 * dModel, hasBias: false);
        r_net = nn.Linear(dModel, dModel, hasBias: false);
        proj = nn.Linear(dModel, dModel, hasBias: false);
        r_w_bias = nn.Parameter(zeros(heads, hd));
        r_r_bias = nn.Parameter(zeros(heads, hd));
        RegisterComponents();
        var std = ws / Math.Sqrt(dModel);
        foreach (var w in new[] { q_net.weight!, kv_net.weight!, r_net.weight!, proj.weight! }) VariantInit.TruncNormal(w, std);
        // Small non-zero biases so the content and position bias terms both carry gradient signal from step one.
        VariantInit.TruncNormal(r_w_bias, std);
        VariantInit.TruncNormal(r_r_bias, std);
    }

    /// <summary>Sinusoidal embeddings [L, dModel] of the distances L−1, L−2, …, 0 (sin half, then cos half).</summary>
    public static Tensor SinusoidalDistances(long length, long dModel, ScalarType dtype, Device device)
    {
        var invFreq = pow(10000.0, -arange(0, dModel, 2, dtype: ScalarType.Float64) / dModel);
        var dist = arange(length - 1, -1, -1, dtype: ScalarType.Float64);
        var angles = outer(dist, invFreq);
        return cat([angles.sin(), angles.cos()], 1).to(dtype, device);
    }

    /// <summary>
    /// Aligns bd [.., T, L] whose column c holds distance L−1−c into [.., T, L] whose (i, j) holds distance M+i−j
    /// (M = L − T): pad one zero column on the left, view as [L+1, T], drop the first row, view back. Entries with
    /// j &gt; M + i hold unrelated values; the causal mask removes them.
    /// </summary>
    public static Tensor RelShift(Tensor bd)
    {
        var lead = bd.shape[..^2];
        long T = bd.shape[^2], L = bd.shape[^1];
        var padded = nn.functional.pad(bd, [1, 0]);
        var shifted = padded.view([.. lead, L + 1, T]).narrow(-2, 1, L);
        return shifted.reshape([.. lead, T, L]);
    }

    /// <summary>Scaled, masked attention scores [B, H, T, L] of x [B, T, D] over [memory ; x] (memory [B, M, D] or empty).</summary>
    public Tensor Scores(Tensor x, Tensor memory, out Tensor values)
    {
        long B = x.shape[0], T = x.shape[1], D = x.shape[2], hd = D / _heads;
        var cat = memory.shape[1] > 0 ? torch.cat([memory, x], 1) : x;
        long L = cat.shape[1], M = L - T;
        var q = q_net.forward(x).view(B, T, _heads, hd).transpose(1, 2);               // [B, H, T, hd]
        var kv = kv_net.forward(cat).view(B, L, 2, _heads, hd).permute(2, 0, 3, 1, 4);  // [2, B, H, L, hd]
        var k = kv[0];
        values = kv[1];
        var r = r_net.forward(SinusoidalDistances(L, D, x.dtype, x.device)).view(L, _heads, hd).transpose(0, 1); // [H, L, hd]
        var ac = matmul(q + r_w_bias.view(1, _heads, 1, hd), k.transpose(-2, -1));
        var bd = RelShift(matmul(q + r_r_bias.view(1, _heads, 1, hd), r.transpose(-2, -1).unsqueeze(0)));
        var future = ones(T, L, dtype: ScalarType.Bool, device: x.device).triu(M + 1);
        return ((ac + bd) / Math.Sqrt(hd)).masked_fill(future, double.NegativeInfinity);
    }

    /// <summary>x [B, T, D] (already normalised), memory [B, M, D] (M may be 0) → [B, T, D].</summary>
    public override Tensor forward(Tensor x, Tensor memory)
    {
        long B = x.shape[0], T = x.shape[1], D = x.shape[2];
        var scores = Scores(x, memory, out var v);
        var y = matmul(softmax(scores, -1), v);
        return proj.forward(y.transpose(1, 2).reshape(B, T, D));
    }
}
