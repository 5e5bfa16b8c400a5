using static TorchSharp.torch;

namespace MlpKit.Ffn.Variants;

/// <summary>The initialisations the σ-MoE paper uses for its pre-LN models and their MoE/PKM layers.</summary>
public static class VariantInit
{
    /// <summary>ws = √(2/n_layers): keeps the residual stream's variance flat over depth in a pre-LN stack.</summary>
    public static double PreLnScale(int nLayers)
    {
        if (nLayers <= 0) throw new MlpKitException($"n_layers must be positive, got {nLayers}");
        return Math.Sqrt(2.0 / nLayers);
    }

    /// <summary>
    /// The dense pre-LN rule: normal with std ws/√fan_in truncated at ±2 std (draws outside are redrawn).
    /// Written out because TorchSharp 0.107's nn.init.trunc_normal_ fills the tensor with the constant std.
    /// </summary>
    public static void TruncNormal(Tensor w, double std)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        w.normal_(0.0, std);
        for (int round = 0; round < 100; round++)
        {
            var outside = w.abs().gt(2.0 * std);
            if (!outside.any().item<bool>()) return;
            w.copy_(where(outside, randn_like(w) * std, w));
        }
        w.clamp_(-2.0 * std, 2.0 * std);
    }

    public static void Normal(Tensor w, double std)
    {
        using var _ = no_grad();
        nn.init.normal_(w, 0.0, std);
    }

    /// <summary>
    /// Divides every row (one expert's selector vector) by its L2 norm, then rescales the matrix so its global
    /// std is what it was: all experts start with the same selector norm, so none gets a head start.
    /// </summary>
    public static void RenormRowsKeepStd(Tensor w)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var std = w.std();
        var normed = w / w.norm(1, keepdim: true, p: 2);
        normed = normed * (std / normed.std());
        w.copy_(normed);
    }
}
