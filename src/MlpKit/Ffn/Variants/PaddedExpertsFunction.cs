using static TorchSharp.torch;

namespace MlpKit.Ffn.Variants;

/// <summary>
/// The padded-bmm ReLU expert computation with a hand-written backward (the CVMM recipe on CPU): the forward keeps
/// only the input, the gates and the G-wide hidden activations; the gathered d-wide input rows are rebuilt in the
/// backward instead of being saved, and the gate gradient is ⟨grad of the gated hidden, hidden⟩ per row.
/// Inputs: x [T, d], gate [T, K], w1 [N_E, d, G], w2 [N_E, G, d_out], tokenPadded and pairPadded [N_E·M] (see
/// <see cref="MoeKernels.PaddedBmm"/>; the dummy pair index is T·K), M, and optionally a callback given the
/// backward's wall time in ms (for the tuner).
/// </summary>
internal sealed class PaddedExpertsFunction : autograd.SingleTensorFunction<PaddedExpertsFunction>
{
    public override string Name => "PaddedReluExperts";

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var gate = (Tensor)vars[1];
        var w1 = (Tensor)vars[2];
        var w2 = (Tensor)vars[3];
        var tokenPadded = (Tensor)vars[4];
        var pairPadded = (Tensor)vars[5];
        var maxLoad = (long)vars[6];
        var onBackwardMs = vars.Length > 7 ? vars[7] as Action<double> : null;
        var ne = w1.shape[0];
        // Intermediates die with this scope rather than with the caller's step: the d-wide gathered rows and the
        // expert outputs would otherwise stay resident until the whole step is disposed.
        using var scope = NewDisposeScope();
        var gs = cat([gate.reshape(-1), zeros(1, dtype: gate.dtype, device: gate.device)])
            .index_select(0, pairPadded).view(ne, maxLoad, 1);
        var xs = x.index_select(0, tokenPadded).view(ne, maxLoad, x.shape[1]);
        var h = xs.bmm(w1).relu_();
        xs.Dispose();
        var hg = h * gs;
        var ys = hg.bmm(w2).view(ne * maxLoad, -1);
        hg.Dispose();
        var y = zeros(x.shape[0], w2.shape[2], dtype: x.dtype, device: x.device).index_add_(0, tokenPadded, ys, 1.0);
        ys.Dispose();
        // Saved tensors are committed after forward returns, so they must outlive this scope.
        gs.MoveToOuterDisposeScope();
        h.MoveToOuterDisposeScope();
        ctx.save_for_backward([x, gs, w1, w2, h, tokenPadded, pairPadded]);
        ctx.save_data("gateShape", gate.shape);
        if (onBackwardMs is not null) ctx.save_data("onBackwardMs", onBackwardMs);
        return y.MoveToOuterDisposeScope();
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOut)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        Tensor x = saved[0], gs = saved[1], w1 = saved[2], w2 = saved[3], h = saved[4], tokenPadded = saved[5], pairPadded = saved[6];
        var gateShape = (long[])ctx.get_data("gateShape");
        long ne = w1.shape[0], maxLoad = h.shape[1];
        var gy = gradOut.index_select(0, tokenPadded).view(ne, maxLoad, -1);
        var hg = h * gs;
        var gradW2 = hg.transpose(1, 2).bmm(gy);
        hg.Dispose();
        var ghg = gy.bmm(w2.transpose(1, 2));                    // d loss / d (h·g)
        gy.Dispose();
        var gradGs = (ghg * h).sum(dim: -1).view(-1);
        long nPairs = gateShape[0] * gateShape[1];
        var gradGate = zeros(nPairs + 1, dtype: gs.dtype, device: gs.device).index_add_(0, pairPadded, gradGs, 1.0)
            .narrow(0, 0, nPairs).view(gateShape);
        var gh = ghg.mul_(gs).masked_fill_(h.le(0), 0.0);         // through the gate, then the ReLU
        var xs = x.index_select(0, tokenPadded).view(ne, maxLoad, x.shape[1]);
        var gradW1 = xs.transpose(1, 2).bmm(gh);
        xs.Dispose();
        var gxs = gh.bmm(w1.transpose(1, 2)).view(ne * maxLoad, -1);
        var gradX = zeros_like(x).index_add_(0, tokenPadded, gxs, 1.0);
        (ctx.get_data("onBackwardMs") as Action<double>)?.Invoke(sw.Elapsed.TotalMilliseconds);
        return [gradX.MoveToOuterDisposeScope(), gradGate.MoveToOuterDisposeScope(), gradW1.MoveToOuterDisposeScope(),
            gradW2.MoveToOuterDisposeScope(), null!, null!, null!, null!];
    }
}
