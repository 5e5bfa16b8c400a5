using MlpKit.Ffn;
using static TorchSharp.torch;

namespace MlpKit.Compression;

/// <summary>
/// The reference code's SVD baseline: each weight matrix (Up, Gate, Down) replaced by its rank-t truncated SVD,
/// biases kept, hidden width unchanged. t is chosen so the factors hold no more parameters than a width-c block
/// (t = 153 for d = 768, p = 3072, c = 768, as in the reference code). The result is returned as dense rank-t
/// matrices of width p: output and NTK errors are measured on that function (the kernel w.r.t. the dense
/// product, not w.r.t. the two thin factors), and a checkpoint stores it at full width.
/// </summary>
public sealed class SvdMethod : ICompressionMethod
{
    public string Name => "svd";

    public string Description => "rank-t truncated SVD of W1 and W2 at the same parameter budget as width c (width unchanged)";

    public bool ReducesWidth => false;

    public static int Rank(FeedForwardWeights w, int targetHidden)
    {
        long din = w.InputDim, dout = w.OutputDim, p = w.HiddenDim;
        long budget = targetHidden * (din * (w.IsGated ? 2 : 1) + dout + (w.UpBias is null ? 0 : 1));
        long perRank = (p + din) * (w.IsGated ? 2 : 1) + (p + dout);
        return (int)Math.Clamp(budget / perRank, 1, Math.Min(p, Math.Min(din, dout)));
    }

    public CompressedFeedForward Compress(FeedForwardWeights w, int targetHidden, CompressionContext ctx)
    {
        SubMlps.CheckTarget(w, targetHidden, ctx);
        using var scope = NewDisposeScope();
        var dtype = SubMlps.WorkType(w);
        int t = Rank(w, targetHidden);
        Tensor Low(Tensor m)
        {
            var (u, s, vh) = linalg.svd(m.detach().to(dtype), fullMatrices: false);
            return (u[.., ..t] * s[..t].unsqueeze(0)).mm(vh[..t]);
        }
        var r = new FeedForwardWeights(Low(w.Up), w.UpBias?.detach().to(dtype).clone(), w.Gate is null ? null : Low(w.Gate),
            Low(w.Down), w.DownBias?.detach().to(dtype).clone(), w.Activation);
        return FusionMethod.Keep(new CompressedFeedForward(SubMlps.CastLike(r, w), null));
    }
}
