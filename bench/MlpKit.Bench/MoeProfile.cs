using System.Diagnostics;
using MlpKit.Ffn;
using MlpKit.Ffn.Variants;
using TorchSharp;
using static TorchSharp.torch;

namespace MlpKit.Bench;

/// <summary>
/// Where one σ-MoE step spends its time (d 512, G 128, K 4, 4096 tokens): the layer under each expert path, the
/// selector, the routing, the pieces of the padded path, and the sorted path's chunk size. Wall time and process
/// CPU time are both printed: on a shared machine CPU time excludes the time other jobs hold the cores (with one
/// thread it is the cost of the work itself; with more it also counts spinning at barriers).
/// </summary>
public static class MoeProfile
{
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out Timespec ts);

    private struct Timespec { public long Sec; public long Nsec; }

    static double CpuMs() { ClockGetTime(2 /* CLOCK_PROCESS_CPUTIME_ID */, out var t); return t.Sec * 1e3 + t.Nsec / 1e6; }

    public static void Run(long ne, long tokens = 4096, long d = 512, long g = 128, long k = 4, int reps = 7)
    {
        manual_seed(1);
        var moe = new MoeFeedForward(MoeConfig.SigmaMoe(d, ne, g, k));
        var dense = new DenseVariant(new DenseConfig(d, ParamEqual.DenseDFfForMoe(d, ne, g)));
        var x = randn(tokens, d);
        var gyOut = randn(tokens, d);
        void T(string name, Action f)
        {
            var wall = new List<double>();
            var cpu = new List<double>();
            for (int i = 0; i < reps + 1; i++)
            {
                using var s = NewDisposeScope();
                var c0 = CpuMs();
                var sw = Stopwatch.StartNew();
                f();
                sw.Stop();
                var c1 = CpuMs();
                if (i > 0) { wall.Add(sw.Elapsed.TotalMilliseconds); cpu.Add(c1 - c0); }
            }
            wall.Sort();
            cpu.Sort();
            Console.WriteLine($"{name,-40} wall min {wall[0],8:F1} med {wall[wall.Count / 2],8:F1}   cpu min {cpu[0],8:F1} med {cpu[cpu.Count / 2],8:F1} ms");
        }
        void Step(FeedForwardVariant m)
        {
            var xi = x.detach().requires_grad_(true);
            ((m.forward(xi) * gyOut).sum() + m.AuxLoss).backward();
            foreach (var p in m.parameters()) p.grad = null;
        }

        Tensor idx, gate;
        using (no_grad())
        {
            var z = nn.functional.linear(x, moe.Selector);
            idx = z.topk((int)k, -1, true, false).indexes;
            gate = z.sigmoid().gather(1, idx);
        }
        var r = MoeKernels.Route(idx, ne);
        long m = r.Counts.Max(), nPairs = tokens * k;
        Console.WriteLine($"N_E {ne}, {torch.get_num_threads()} threads, largest expert load {m}, padding ×{MoeKernels.PaddingOverhead(r):F3}");

        T("dense layer fwd+bwd", () => Step(dense));
        foreach (var mode in new[] { MoeKernelMode.Sorted, MoeKernelMode.PaddedBmm })
        {
            moe.KernelMode = mode;
            T($"σ-MoE layer fwd+bwd, {mode}", () => Step(moe));
        }
        T("selector+sigmoid+top-k+entropy fwd+bwd", () =>
        {
            var xi = x.detach().requires_grad_(true);
            var z = nn.functional.linear(xi, moe.Selector);
            var s = z.sigmoid();
            var i2 = s.detach().topk((int)k, -1, true, false).indexes;
            (s.gather(1, i2).sum() + MoeRegularizers.NegativeMarginalEntropy(z)).backward();
            moe.Selector.grad = null;
        });
        T("route (sort by expert, counts)", () => MoeKernels.Route(idx, ne));

        var w1 = moe.Keys.detach();
        var w2 = moe.Values.detach();
        foreach (var ch in new long[] { 1, 2048, 4096, 8192, nPairs })
            T($"sorted kernel fwd+bwd, chunk {ch} rows", () =>
            {
                var xi = x.detach().requires_grad_(true);
                (MoeKernels.Sorted(xi, idx, gate, moe.Keys, moe.Values, FfnActivation.Relu, routing: r, chunkRows: ch) * gyOut).sum().backward();
                moe.Keys.grad = null; moe.Values.grad = null;
            });
        T("sorted kernel fwd (default chunk)", () => { using var _ = no_grad(); MoeKernels.Sorted(x, idx, gate, w1, w2, FfnActivation.Relu, routing: r); });
        T("padded kernel fwd+bwd", () =>
        {
            var xi = x.detach().requires_grad_(true);
            (MoeKernels.PaddedBmm(xi, idx, gate, moe.Keys, moe.Values, FfnActivation.Relu, routing: r) * gyOut).sum().backward();
            moe.Keys.grad = null; moe.Values.grad = null;
        });
        T("padded kernel fwd", () => { using var _ = no_grad(); MoeKernels.PaddedBmm(x, idx, gate, w1, w2, FfnActivation.Relu, routing: r); });

        // Pieces of the padded path: each d-wide [N_E·M, d] temporary is > 32 MiB, a fresh mapping that page-faults.
        using (no_grad())
        {
            var rows = tensor(Enumerable.Range(0, (int)(ne * m)).Select(i => (long)(i % tokens)).ToArray());
            var xs = x.index_select(0, rows).view(ne, m, d);
            var h = xs.bmm(w1).relu_();
            var ys = h.bmm(w2).view(ne * m, d);
            T("padded: gather x rows [N_E·M, d]", () => x.index_select(0, rows));
            T("padded: bmm x·W1", () => xs.bmm(w1));
            T("padded: bmm h·W2", () => h.bmm(w2));
            T("padded: index_add into y", () => zeros(tokens, d).index_add_(0, rows, ys, 1.0));
            T("padded: bmm gᵀ-side W2 grad", () => h.transpose(1, 2).bmm(xs));
            T("padded: bmm grad·W1ᵀ (d-wide out)", () => h.bmm(w1.transpose(1, 2)));
            var buf = empty(ne * m, d);
            T("same d-wide matmul into a reused buffer", () =>
            {
                for (int e = 0; e < ne; e++) buf.narrow(0, e * m, m).addmm_(h[e], w1[e].t(), 0, 1);
            });
        }
    }
}
