using static TorchSharp.torch;

namespace MlpKit.Ffn.Variants;

/// <summary>
/// The expert computation of a MoE layer, y[t] = Σ_k gate[t,k] · act(x[t]·W1[e]) · W2[e] with e = idx[t,k],
/// done the way the paper's CVMM kernel does it, adapted to CPU: the T·K (token, slot) pairs are sorted by
/// expert once, the order is reused for both projections, every expert runs one dense matmul over its
/// contiguous slice, and the slot outputs are scattered back with index_add. No capacity factor, no padding,
/// no dropped tokens.
/// </summary>
public static class MoeKernels
{
    /// <summary>
    /// Bytes of one d-wide gathered temporary of the sorted ReLU path (see <see cref="SortedExpertsFunction"/>): 8 MiB,
    /// 4096 rows at d 512 in float32. Measured at d 512, N_E 16 and 64, 1 thread: 4096-8192 rows fastest, one chunk
    /// for all pairs 15-20% slower (page faults), one expert at a time in between.
    /// </summary>
    public const long DefaultChunkBytes = 8L << 20;

    static readonly Action<double> NoTimer = _ => { };

    /// <summary>The sort of the (token, slot) pairs by expert, shared by both projections of one layer.</summary>
    public sealed record Routing(Tensor Order, Tensor TokenOf, long[] Counts);

    /// <summary>Sorts the flattened selections [T, K] by expert; counts are read back once (one host sync).</summary>
    public static Routing Route(Tensor idx, long nExperts)
    {
        using var _ = no_grad();
        var k = idx.shape[^1];
        var flat = idx.reshape(-1);
        // Stable so that pairs of one expert stay in token order: contiguous reads of x, deterministic sums.
        var order = flat.sort(dim: 0, descending: false, stable: true).Indices;
        var tokenOf = order.div(k, rounding_mode: RoundingMode.floor);
        var counts = bincount(flat, minlength: nExperts).to(ScalarType.Int64).data<long>().ToArray();
        return new Routing(order, tokenOf, counts);
    }

    /// <summary>
    /// x [T, d_in], idx and gate [T, K], w1 [N_E, d_in, G], w2 [N_E, G, d_out] → [T, d_out]. With ReLU and no hidden
    /// dropout it runs <see cref="SortedExpertsFunction"/> (hand-written backward, chunked gathers, chunkRows 0 = from
    /// <see cref="DefaultChunkBytes"/>). Otherwise gradients flow to x, gate, w1 and w2 through autograd of the sorted
    /// formulation (split/unbind/cat backward are copies, so no per-expert full-size zero buffers are made).
    /// </summary>
    public static Tensor Sorted(Tensor x, Tensor idx, Tensor gate, Tensor w1, Tensor w2, FfnActivation act,
        double hiddenDropout = 0.0, bool training = false, Routing? routing = null, bool customBackwardOff = false,
        long chunkRows = 0, Action<double>? onBackwardMs = null, bool oneThread = false)
    {
        var nExperts = w1.shape[0];
        var r = routing ?? Route(idx, nExperts);
        if (act == FfnActivation.Relu && !(hiddenDropout > 0 && training) && !customBackwardOff)
        {
            var rows = chunkRows > 0 ? chunkRows : Math.Max(1, DefaultChunkBytes / (Math.Max(x.shape[1], w2.shape[2]) * x.ElementSize));
            return SortedExpertsFunction.apply(x, gate, w1, w2, r.Order, r.TokenOf, r.Counts, rows, onBackwardMs ?? NoTimer, oneThread);
        }
        var xs = x.index_select(0, r.TokenOf);
        // The gate multiplies the hidden activations (G wide) rather than the outputs (d wide): same result, fewer MACs.
        var gs = gate.reshape(-1).index_select(0, r.Order).unsqueeze(1);
        var xParts = xs.split(r.Counts, 0);
        var gParts = gs.split(r.Counts, 0);
        var w1s = w1.unbind(0);
        var w2s = w2.unbind(0);
        var outs = new List<Tensor>(capacity: (int)nExperts);
        for (int e = 0; e < nExperts; e++)
        {
            if (r.Counts[e] == 0) continue;
            var h = Activations.Apply(act, xParts[e].mm(w1s[e]));
            if (hiddenDropout > 0 && training) h = nn.functional.dropout(h, hiddenDropout, training: true);
            outs.Add((h * gParts[e]).mm(w2s[e]));
        }
        var ys = outs.Count == 1 ? outs[0] : cat(outs, 0);
        return zeros(x.shape[0], w2.shape[2], dtype: x.dtype, device: x.device).index_add(0, r.TokenOf, ys, 1.0);
    }

    /// <summary>
    /// The same sum as <see cref="Sorted"/> as one padded batched matmul per projection: every expert's slice of the
    /// sorted pairs is padded to the largest load and all experts run in one bmm. The op count is constant in N_E,
    /// which matters on a busy CPU where every parallel region pays a synchronisation; the price is the padding
    /// (see <see cref="PaddingOverhead"/>). Padding rows read token 0 with gate 0, so they add exact zeros to the
    /// output and to every gradient. With ReLU and no hidden dropout it runs <see cref="PaddedExpertsFunction"/>
    /// (hand-written backward, d-wide gathered rows not kept); otherwise autograd differentiates the same ops.
    /// </summary>
    public static Tensor PaddedBmm(Tensor x, Tensor idx, Tensor gate, Tensor w1, Tensor w2, FfnActivation act,
        double hiddenDropout = 0.0, bool training = false, Routing? routing = null, bool customBackwardOff = false,
        Action<double>? onBackwardMs = null)
    {
        var nExperts = w1.shape[0];
        var r = routing ?? Route(idx, nExperts);
        var maxLoad = Math.Max(1, r.Counts.Max());
        var nPairs = r.Order.shape[0];
        Tensor tokenPadded, pairPadded;
        using (no_grad())
        {
            // Row j of expert e's block holds sorted pair offset[e]+j, or the dummy pair nPairs when j ≥ count.
            var pos = new long[nExperts * maxLoad];
            long offset = 0;
            for (int e = 0; e < nExperts; e++)
            {
                for (long j = 0; j < maxLoad; j++) pos[e * maxLoad + j] = j < r.Counts[e] ? offset + j : nPairs;
                offset += r.Counts[e];
            }
            var slot = tensor(pos, device: x.device);
            tokenPadded = cat([r.TokenOf, zeros(1, dtype: ScalarType.Int64, device: x.device)]).index_select(0, slot);
            pairPadded = cat([r.Order, full(1, nPairs, dtype: ScalarType.Int64, device: x.device)]).index_select(0, slot);
        }
        if (act == FfnActivation.Relu && !(hiddenDropout > 0 && training) && !customBackwardOff)
            return PaddedExpertsFunction.apply(x, gate, w1, w2, tokenPadded, pairPadded, maxLoad, onBackwardMs ?? NoTimer);
        var xs = x.index_select(0, tokenPadded).view(nExperts, maxLoad, x.shape[1]);
        var gFlat = cat([gate.reshape(-1), zeros(1, dtype: gate.dtype, device: gate.device)]);
        var gs = gFlat.index_select(0, pairPadded).view(nExperts, maxLoad, 1);
        var h = Activations.Apply(act, xs.bmm(w1));
        if (hiddenDropout > 0 && training) h = nn.functional.dropout(h, hiddenDropout, training: true);
        var ys = (h * gs).bmm(w2).view(nExperts * maxLoad, -1);
        return zeros(x.shape[0], w2.shape[2], dtype: x.dtype, device: x.device).index_add(0, tokenPadded, ys, 1.0);
    }

    /// <summary>Rows the padded form computes per real (token, slot) pair: N_E · max load / (T·K) ≥ 1.</summary>
    public static double PaddingOverhead(Routing r) =>
        r.Order.shape[0] == 0 ? 1.0 : (double)r.Counts.Length * r.Counts.Max() / r.Order.shape[0];

    /// <summary>The definition, one token and slot at a time: the reference the fast paths are tested against.</summary>
    public static Tensor NaiveLoop(Tensor x, Tensor idx, Tensor gate, Tensor w1, Tensor w2, FfnActivation act)
    {
        var T = x.shape[0];
        var K = idx.shape[1];
        var ids = idx.to(ScalarType.Int64).data<long>().ToArray();
        var rows = new List<Tensor>((int)T);
        for (long t = 0; t < T; t++)
        {
            Tensor? acc = null;
            for (long k = 0; k < K; k++)
            {
                var e = ids[t * K + k];
                var h = Activations.Apply(act, x[t].unsqueeze(0).mm(w1[e]));
                var y = gate[t, k] * h.mm(w2[e]);
                acc = acc is null ? y : acc + y;
            }
            rows.Add(acc!);
        }
        return cat(rows, 0);
    }
}
