using static TorchSharp.torch;

namespace MlpKit.Ntk;

/// <summary>
/// The empirical NTK over N examples (returned as float64 [N, N]): K[i,j] = ⟨g_i, op(g_j)⟩ with g_i = ∇θ f(x_i) and op = sign (Adam kernel,
/// the reference default) or identity (SGD kernel). f is any model output that gives one scalar per example,
/// computed for all N examples in one batch, with examples independent of each other (no batch statistics).
/// </summary>
public static class NtkMeter
{
    /// <summary>Elements of one materialised chunk of per-example gradients (N × rows × in).</summary>
    public static long ChunkElements { get; set; } = 1L << 24;

    /// <summary>
    /// Fast path for feed-forward parameters: one forward and one backward of Σ_i f(x_i) give, for every linear map
    /// inside the taps, the output gradients g[i,t] and inputs a[i,t]; the per-example weight gradient is
    /// Σ_t g[i,t] ⊗ a[i,t] (bias: Σ_t g[i,t]). Those are materialised a few output rows at a time and folded into K,
    /// so memory stays bounded whatever the kernel kind.
    /// </summary>
    /// <param name="scalars">Runs the model over the N examples (with the taps in its path) and returns f, shape [N].</param>
    /// <param name="taps">The blocks whose parameters the kernel is taken over.</param>
    /// <param name="kind">Sign (Adam) or SGD kernel.</param>
    public static Tensor Kernel(Func<Tensor> scalars, IReadOnlyList<FfnTap> taps, NtkKind kind = NtkKind.Sign)
    {
        var parts = KernelPerTap(scalars, taps, kind);
        var k = parts[0];
        for (int i = 1; i < parts.Count; i++) { k.add_(parts[i]); parts[i].Dispose(); }
        return k;
    }

    /// <summary>
    /// The kernel split by block: entry l is the contribution of tap l's parameters (the full kernel is their sum),
    /// all from the same single forward and backward pass.
    /// </summary>
    public static IReadOnlyList<Tensor> KernelPerTap(Func<Tensor> scalars, IReadOnlyList<FfnTap> taps, NtkKind kind = NtkKind.Sign)
    {
        if (taps.Count == 0) throw new MlpKitException("NTK: no feed-forward blocks selected");
        foreach (var t in taps) t.Reset();
        using var scope = NewDisposeScope();
        using var gradMode = enable_grad();
        var f = scalars();
        if (f.dim() != 1) throw new MlpKitException($"NTK: the model output must be one scalar per example, got shape [{string.Join(", ", f.shape)}]");
        long n = f.shape[0];
        var records = taps.SelectMany(t => t.Records.Select(r => (Tap: t, Rec: r))).ToList();
        if (records.Count == 0) throw new MlpKitException("NTK: the selected feed-forward blocks were not run by the model (hooks not reached)");
        var outs = records.Select(r => r.Rec.Output).ToList();
        var grads = autograd.grad(new[] { f.sum() }, outs, retain_graph: false, allow_unused: true);

        var perTap = taps.ToDictionary(t => t, _ => zeros(new long[] { n, n }, dtype: ScalarType.Float64));
        // Group by (tap, parameter) so a block run twice sums its contributions before the sign is taken.
        foreach (var group in records.Select((r, i) => (r.Tap, r.Rec, G: grads[i])).GroupBy(r => (r.Tap, r.Rec.Linear)))
        {
            var items = group.ToList();
            var k = perTap[group.Key.Tap];
            long inDim = items[0].Rec.Input.shape[^1], outDim = items[0].Rec.Output.shape[^1];
            var a = cat(items.Select(r => r.Rec.Input.detach().reshape(n, -1, inDim)).ToList(), 1);
            var g = cat(items.Select(r => (r.G ?? zeros_like(r.Rec.Output)).detach().reshape(n, -1, outDim)).ToList(), 1);
            long tokens = a.shape[1];
            long rows = Math.Max(1, Math.Min(outDim, ChunkElements / Math.Max(1, n * Math.Max(inDim, tokens))));
            for (long r0 = 0; r0 < outDim; r0 += rows)
            {
                using var inner = NewDisposeScope();
                long r1 = Math.Min(outDim, r0 + rows);
                var gc = g.narrow(2, r0, r1 - r0);
                var per = einsum("nto,nti->noi", gc, a).reshape(n, -1);
                Accumulate(k, per, kind);
            }
            if (items[0].Rec.HasBias)
                Accumulate(k, g.sum(1), kind);
        }
        return taps.Select(t => perTap[t].MoveToOuterDisposeScope()).ToList();
    }

    /// <summary>
    /// Reference path: one backward pass per example (autograd w.r.t. the given leaf parameters), the full gradient
    /// matrix G [N, |θ|] stored, K = G·op(G)ᵀ. Also the way to get the kernel over parameters outside the feed-forward blocks.
    /// </summary>
    public static Tensor KernelBruteForce(Func<Tensor> scalars, IReadOnlyList<Tensor> parameters, NtkKind kind = NtkKind.Sign)
    {
        using var scope = NewDisposeScope();
        using var gradMode = enable_grad();
        var f = scalars();
        if (f.dim() != 1) throw new MlpKitException($"NTK: the model output must be one scalar per example, got shape [{string.Join(", ", f.shape)}]");
        long n = f.shape[0];
        var rows = new List<Tensor>();
        for (long i = 0; i < n; i++)
        {
            var gs = autograd.grad(new[] { f[i] }, parameters.ToList(), retain_graph: true, allow_unused: true);
            rows.Add(cat(gs.Select((g, j) => (g ?? zeros_like(parameters[j])).detach().reshape(-1).to(ScalarType.Float64)).ToList(), 0));
        }
        var gm = stack(rows);
        var k = gm.mm((kind == NtkKind.Sign ? gm.sign() : gm).t());
        return k.MoveToOuterDisposeScope();
    }

    static void Accumulate(Tensor k, Tensor perExample, NtkKind kind)
    {
        var g = perExample.to(ScalarType.Float64);
        k.add_(g.mm((kind == NtkKind.Sign ? g.sign() : g).t()));
    }
}
