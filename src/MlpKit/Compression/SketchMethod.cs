using TorchSharp;
using MlpKit.Ffn;
using static TorchSharp.torch;

namespace MlpKit.Compression;

/// <summary>
/// Random sketching of the sub-MLPs (reference code): S ∈ R^{p×c} with entries N(0, 1/c); W1 ← SᵀW1, b1 ← Sᵀb1,
/// Gate ← SᵀGate, W2 ← W2·S, b2 unchanged, the nonlinearity applied to the sketched pre-activation.
/// <c>sketch-topk</c> is the GPT-2/Switch variant: the k neurons of largest ‖w1_i‖·‖w2_i‖ are kept as they are and
/// the other p−k are sketched into c−k units with S ~ N(0, 1/(c−k)).
/// </summary>
public sealed class SketchMethod(bool topK) : ICompressionMethod
{
    public string Name => topK ? "sketch-topk" : "sketch";

    public string Description => topK
        ? "keep the top third of neurons by norm, Gaussian-sketch the rest"
        : "Gaussian random sketch S~N(0,1/c): W1<-S^T W1, b1<-S^T b1, W2<-W2 S";

    public CompressedFeedForward Compress(FeedForwardWeights w, int targetHidden, CompressionContext ctx)
    {
        SubMlps.CheckTarget(w, targetHidden, ctx);
        using var scope = NewDisposeScope();
        var dtype = SubMlps.WorkType(w);
        var gen = new Generator((ulong)ctx.Seed);
        long p = w.HiddenDim;
        var wd = new FeedForwardWeights(w.Up.detach().to(dtype), w.UpBias?.detach().to(dtype), w.Gate?.detach().to(dtype),
            w.Down.detach().to(dtype), w.DownBias?.detach().to(dtype).clone(), w.Activation);

        int k = topK ? (int)Math.Min(targetHidden - 1, Math.Round(targetHidden * ctx.SketchTopKFraction)) : 0;
        k = Math.Max(0, k);
        if (k == 0)
            return FusionMethod.Keep(new CompressedFeedForward(SubMlps.CastLike(Sketch(wd, targetHidden, gen), w), null));

        var order = SubMlps.NormImportance(wd, dtype).argsort(descending: true);
        var top = order[..k].sort().Values;
        var rest = order[k..].sort().Values;
        var kept = SubMlps.Select(wd, top);
        var sketched = Sketch(SubMlps.Select(wd, rest), targetHidden - k, gen);
        var merged = new FeedForwardWeights(
            torch.cat(new[] { kept.Up, sketched.Up }, 0),
            kept.UpBias is null ? null : torch.cat(new[] { kept.UpBias, sketched.UpBias! }, 0),
            kept.Gate is null ? null : torch.cat(new[] { kept.Gate, sketched.Gate! }, 0),
            torch.cat(new[] { kept.Down, sketched.Down }, 1),
            wd.DownBias, w.Activation);
        _ = p;
        return FusionMethod.Keep(new CompressedFeedForward(SubMlps.CastLike(merged, w), null));
    }

    static FeedForwardWeights Sketch(FeedForwardWeights w, int c, Generator gen)
    {
        var s = torch.randn(new long[] { w.HiddenDim, c }, dtype: w.Up.dtype, generator: gen) / Math.Sqrt(c);
        var st = s.t();
        return new FeedForwardWeights(st.mm(w.Up), w.UpBias is null ? null : st.mv(w.UpBias), w.Gate is null ? null : st.mm(w.Gate),
            w.Down.mm(s), w.DownBias, w.Activation);
    }
}
