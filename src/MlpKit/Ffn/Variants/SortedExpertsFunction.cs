using static TorchSharp.torch;

namespace MlpKit.Ffn.Variants;

/// <summary>
/// The sorted (unpadded) ReLU expert computation with a hand-written backward. The (token, slot) pairs are sorted by
/// expert once (<see cref="MoeKernels.Route"/>); every projection of the forward and the backward is one matmul per
/// expert written in place (addmm_ with β = 0) into a slice of a G-wide buffer or of a d-wide chunk buffer.
/// <para>
/// Why chunks: the d-wide gathered rows of all T·K pairs are ≥ 32 MiB at the benchmark size (4096 tokens, K 4,
/// d 512), above glibc's largest mmap threshold, so each such temporary is a fresh mapping whose pages fault in
/// on first touch: about a third of the whole step went to page faults. Gathering and scattering a group of
/// experts at a time keeps every d-wide temporary near <see cref="MoeKernels.DefaultChunkBytes"/>, which the
/// heap reuses without faulting and which stays in cache between the gather and the matmul that reads it.
/// </para>
/// <para>
/// Saved for the backward: x, the sorted gates and the G-wide hidden activations. The d-wide gathered rows are
/// gathered again, chunk by chunk. The gate gradient of a pair is ⟨grad of the gated hidden, hidden⟩.
/// </para>
/// Inputs: x [T, d], gate [T, K], w1 [N_E, d, G], w2 [N_E, G, d_out], order and tokenOf [T·K] (the sort),
/// counts (long[N_E]), chunkRows (long), optionally a callback given the backward's wall time in ms (for the tuner)
/// and whether to run on one intra-op thread (<see cref="MoeKernelMode.SortedOneThread"/>).
/// </summary>
internal sealed class SortedExpertsFunction : autograd.SingleTensorFunction<SortedExpertsFunction>
{
    public override string Name => "SortedReluExperts";

    /// <summary>Groups of consecutive experts whose pairs total about chunkRows (an expert is never split).</summary>
    internal static List<(int First, int End, long Start, long Rows)> Chunks(long[] counts, long chunkRows)
    {
        var chunks = new List<(int, int, long, long)>();
        long start = 0;
        int first = 0;
        long rows = 0;
        for (int e = 0; e < counts.Length; e++)
        {
            rows += counts[e];
            if (rows >= chunkRows || e == counts.Length - 1)
            {
                if (rows > 0) chunks.Add((first, e + 1, start, rows));
                start += rows;
                rows = 0;
                first = e + 1;
            }
        }
        return chunks;
    }

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var gate = (Tensor)vars[1];
        var w1 = (Tensor)vars[2];
        var w2 = (Tensor)vars[3];
        var order = (Tensor)vars[4];
        var tokenOf = (Tensor)vars[5];
        var counts = (long[])vars[6];
        var chunkRows = (long)vars[7];
        var onBackwardMs = vars.Length > 8 ? vars[8] as Action<double> : null;
        var oneThread = vars.Length > 9 && (bool)vars[9];
        using var threads = new IntraOpThreads(oneThread);
        long nPairs = order.shape[0], g = w1.shape[2], dOut = w2.shape[2];
        var chunks = Chunks(counts, chunkRows);
        using var scope = NewDisposeScope();
        var gs = gate.reshape(-1).index_select(0, order).unsqueeze(1);
        var h = empty(nPairs, g, dtype: x.dtype, device: x.device);
        foreach (var (first, end, start, rows) in chunks)
        {
            using var c = NewDisposeScope();
            var xs = x.index_select(0, tokenOf.narrow(0, start, rows));
            long at = 0;
            for (int e = first; e < end; e++)
            {
                if (counts[e] == 0) continue;
                h.narrow(0, start + at, counts[e]).addmm_(xs.narrow(0, at, counts[e]), w1[e], 0, 1);
                at += counts[e];
            }
        }
        h.relu_();
        var hg = h * gs;
        var y = zeros(x.shape[0], dOut, dtype: x.dtype, device: x.device);
        foreach (var (first, end, start, rows) in chunks)
        {
            using var c = NewDisposeScope();
            var ys = empty(rows, dOut, dtype: x.dtype, device: x.device);
            long at = 0;
            for (int e = first; e < end; e++)
            {
                if (counts[e] == 0) continue;
                ys.narrow(0, at, counts[e]).addmm_(hg.narrow(0, start + at, counts[e]), w2[e], 0, 1);
                at += counts[e];
            }
            y.index_add_(0, tokenOf.narrow(0, start, rows), ys, 1.0);
        }
        // Saved tensors are committed after forward returns, so they must outlive this scope.
        gs.MoveToOuterDisposeScope();
        h.MoveToOuterDisposeScope();
        ctx.save_for_backward([x, gs, w1, w2, h, order, tokenOf]);
        ctx.save_data("counts", counts);
        ctx.save_data("chunkRows", chunkRows);
        ctx.save_data("gateShape", gate.shape);
        if (onBackwardMs is not null) ctx.save_data("onBackwardMs", onBackwardMs);
        ctx.save_data("oneThread", oneThread);
        return y.MoveToOuterDisposeScope();
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOut)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        using var threads = new IntraOpThreads((bool)ctx.get_data("oneThread"));
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        Tensor x = saved[0], gs = saved[1], w1 = saved[2], w2 = saved[3], h = saved[4], order = saved[5], tokenOf = saved[6];
        var counts = (long[])ctx.get_data("counts");
        var chunkRows = (long)ctx.get_data("chunkRows");
        var gateShape = (long[])ctx.get_data("gateShape");
        var chunks = Chunks(counts, chunkRows);
        long nPairs = order.shape[0];
        // An expert that got no pair keeps an exactly zero weight gradient.
        var gradW1 = zeros_like(w1);
        var gradW2 = zeros_like(w2);
        var ghg = empty_like(h);                                  // d loss / d (h·g)
        var hg = h * gs;
        foreach (var (first, end, start, rows) in chunks)
        {
            using var c = NewDisposeScope();
            var gy = gradOut.index_select(0, tokenOf.narrow(0, start, rows));
            long at = 0;
            for (int e = first; e < end; e++)
            {
                if (counts[e] == 0) continue;
                var gyE = gy.narrow(0, at, counts[e]);
                gradW2[e].addmm_(hg.narrow(0, start + at, counts[e]).t(), gyE, 0, 1);
                ghg.narrow(0, start + at, counts[e]).addmm_(gyE, w2[e].t(), 0, 1);
                at += counts[e];
            }
        }
        hg.Dispose();
        var gradGs = (ghg * h).sum(dim: -1);
        var gradGate = zeros(nPairs, dtype: gs.dtype, device: gs.device).index_copy_(0, order, gradGs).view(gateShape);
        var gh = ghg.mul_(gs).masked_fill_(h.le(0), 0.0);         // through the gate, then the ReLU
        var gradX = zeros_like(x);
        foreach (var (first, end, start, rows) in chunks)
        {
            using var c = NewDisposeScope();
            var tok = tokenOf.narrow(0, start, rows);
            var xs = x.index_select(0, tok);
            var gxs = empty_like(xs);
            long at = 0;
            for (int e = first; e < end; e++)
            {
                if (counts[e] == 0) continue;
                var ghE = gh.narrow(0, start + at, counts[e]);
                gradW1[e].addmm_(xs.narrow(0, at, counts[e]).t(), ghE, 0, 1);
                gxs.narrow(0, at, counts[e]).addmm_(ghE, w1[e].t(), 0, 1);
                at += counts[e];
            }
            gradX.index_add_(0, tok, gxs, 1.0);
        }
        (ctx.get_data("onBackwardMs") as Action<double>)?.Invoke(sw.Elapsed.TotalMilliseconds);
        return [gradX.MoveToOuterDisposeScope(), gradGate.MoveToOuterDisposeScope(), gradW1.MoveToOuterDisposeScope(),
            gradW2.MoveToOuterDisposeScope(), null!, null!, null!, null!, null!, null!];
    }
}

/// <summary>
/// Sets libtorch's intra-op threads of the calling thread to 1 until disposed (no-op when off or already 1). It also
/// updates the default that threads created meanwhile start with, so a step should not spawn them in that window.
/// </summary>
internal readonly struct IntraOpThreads : IDisposable
{
    readonly int _previous;

    public IntraOpThreads(bool one)
    {
        _previous = one ? get_num_threads() : 0;
        if (_previous > 1) set_num_threads(1);
    }

    public void Dispose()
    {
        if (_previous > 1) set_num_threads(_previous);
    }
}
