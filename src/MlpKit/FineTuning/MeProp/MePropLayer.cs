using static TorchSharp.torch;

namespace MlpKit.FineTuning.MeProp;

/// <summary>
/// Identity in the forward pass; in the backward pass it keeps the k largest |g| per row of the gradient
/// reaching a linear's output. Placed right after the linear, the linear's own backward then forms
/// dW = g̃ᵀ x, db = Σ g̃ and dx = g̃ W from the sparsified g̃, which is meProp's top-k backprop.
/// </summary>
public sealed class MePropTopK : autograd.SingleTensorFunction<MePropTopK>
{
    public override string Name => "MePropTopK";

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var y = (Tensor)vars[0];
        ctx.save_data("k", vars[1]);
        // A fresh tensor, not y itself: autograd needs this node's output to be its own.
        return y.clone();
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
    {
        var k = (int)ctx.get_data("k");
        return [KeepTopK(grad, k), null!];
    }

    /// <summary>Zeroes all but the k largest-magnitude entries of every row (last dimension).</summary>
    public static Tensor KeepTopK(Tensor g, int k)
    {
        var width = g.shape[^1];
        if (k >= width) return g;
        var idx = g.abs().topk(k, dim: -1).indexes;
        return zeros_like(g).scatter_(-1, idx, g.gather(-1, idx));
    }
}
