using static TorchSharp.torch;

namespace MlpKit.Ffn.Variants;

/// <summary>The expert-balancing terms of the σ-MoE paper and its baselines.</summary>
public static class MoeRegularizers
{
    /// <summary>
    /// −H(p̄), p̄ = mean over tokens of softmax(z_t), computed in log space
    /// (log p̄ = logsumexp_t log_softmax(z_t) − log T). Softmax even under sigmoid gating, on the marginal over the
    /// batch, so confident per-token routing is still allowed. Returns Σ_e p̄_e log p̄_e (unscaled; ≤ 0).
    /// </summary>
    public static Tensor NegativeMarginalEntropy(Tensor logits)
    {
        var z = logits.reshape(-1, logits.shape[^1]);
        var logP = z.log_softmax(-1).logsumexp(0) - Math.Log(z.shape[0]);
        return (logP.exp() * logP).sum();
    }

    /// <summary>
    /// The Switch load-balance loss as the paper's code implements it: mean over tokens and experts of
    /// softmax(z)_{t,e} · f_e, where f_e is the (non-differentiable) share of routed (token, slot) pairs that went
    /// to expert e. Equals (1/N_E)·Σ_e P̄_e f_e (unscaled).
    /// </summary>
    public static Tensor SwitchLoadBalance(Tensor logits, Tensor idx)
    {
        var z = logits.reshape(-1, logits.shape[^1]);
        var nExperts = z.shape[1];
        Tensor f;
        using (no_grad())
            f = bincount(idx.reshape(-1), minlength: nExperts).to(z.dtype) / idx.numel();
        return (z.softmax(-1) * f).mean();
    }

    /// <summary>
    /// Log-space Sinkhorn toward uniform marginals on the [T, N_E] score matrix (alternating row and column
    /// normalisation, the unnormalised variant S-BASE uses). Only used to pick experts, so no gradient.
    /// </summary>
    public static Tensor SinkhornBalance(Tensor logits, int iterations)
    {
        using var _ = no_grad();
        var l = logits.reshape(-1, logits.shape[^1]).detach();
        for (int i = 0; i < iterations; i++)
        {
            l = l - l.logsumexp(1, keepdim: true);
            l = l - l.logsumexp(0, keepdim: true);
        }
        return l;
    }
}
