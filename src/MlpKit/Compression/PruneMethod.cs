using MlpKit.Ffn;
using static TorchSharp.torch;

namespace MlpKit.Compression;

/// <summary>
/// Structured pruning: keep the c neurons of largest importance, unscaled. <c>prune</c> ranks by the weight norms
/// ‖[gate_i | up_i | b1_i]‖·‖w2_i‖ (each neuron's input and output side kept together, unlike the reference
/// code's Switch pruning which ranked them separately); <c>prune-act</c> ranks by mean |h_i(x)|·‖w2_i‖ on calibration inputs.
/// </summary>
public sealed class PruneMethod(bool useActivations) : ICompressionMethod
{
    public string Name => useActivations ? "prune-act" : "prune";

    public string Description => useActivations
        ? "structured pruning by mean |activation| x output norm on calibration inputs"
        : "structured pruning by input-weight norm x output-weight norm";

    public CompressedFeedForward Compress(FeedForwardWeights w, int targetHidden, CompressionContext ctx)
    {
        SubMlps.CheckTarget(w, targetHidden, ctx);
        using var scope = NewDisposeScope();
        var dtype = SubMlps.WorkType(w);
        Tensor importance;
        if (useActivations)
        {
            if (ctx.Calibration is null)
                throw new MlpKitException($"{ctx.Where}: method prune-act needs calibration inputs (--calib FILE)");
            using var _ = no_grad();
            var x = ctx.Calibration.to(w.Up.dtype).reshape(-1, w.InputDim);
            importance = SubMlps.Hidden(w, x).abs().mean(new long[] { 0 }).to(dtype) * w.Down.detach().to(dtype).square().sum(new long[] { 0 }).sqrt();
        }
        else
        {
            importance = SubMlps.NormImportance(w, dtype);
        }
        var keep = importance.topk(targetHidden, 0, largest: true, sorted: false).Item2.sort().Values;
        return FusionMethod.Keep(new CompressedFeedForward(SubMlps.Select(w, keep), null));
    }
}
