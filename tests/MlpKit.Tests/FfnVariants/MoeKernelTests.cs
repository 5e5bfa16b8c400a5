using MlpKit.Ffn;
using MlpKit.Ffn.Variants;
using MlpKit.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace MlpKit.Tests.FfnVariantsTests;

public class MoeKernelTests
{
    static (Tensor x, Tensor idx, Tensor gate, Tensor w1, Tensor w2) Problem(long T, long d, long ne, long g, long k, long seed)
    {
        manual_seed(seed);
        var x = randn(T, d, dtype: ScalarType.Float64).requires_grad_(true);
        // Distinct experts per token, as top-K gives; one expert left unused to cover empty slices.
        var idx = rand(T, ne - 1, dtype: ScalarType.Float64).topk((int)k, -1, true, false).indexes;
        var gate = rand(T, k, dtype: ScalarType.Float64).requires_grad_(true);
        var w1 = randn(ne, d, g, dtype: ScalarType.Float64).requires_grad_(true);
        var w2 = randn(ne, g, d, dtype: ScalarType.Float64).requires_grad_(true);
        return (x, idx, gate, w1, w2);
    }

    static Tensor[] Grads(Func<Tensor> f, Tensor gy, params Tensor[] wrt)
    {
        foreach (var t in wrt) t.grad = null;
        (f() * gy).sum().backward();
        return wrt.Select(t => t.grad!.clone()).ToArray();
    }

    [Theory]
    [InlineData("sorted")]
    [InlineData("sorted-chunked")]
    [InlineData("sorted-autograd")]
    [InlineData("sorted-one-thread")]
    [InlineData("padded-custom-backward")]
    [InlineData("padded-autograd")]
    public void FastPathEqualsNaiveLoopForwardAndGradients(string path)
    {
        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        var (x, idx, gate, w1, w2) = Problem(T: 23, d: 6, ne: 5, g: 4, k: 2, seed: 7);
        var gy = randn(23, 6, dtype: ScalarType.Float64);
        Func<Tensor> fast = path switch
        {
            "sorted" => () => MoeKernels.Sorted(x, idx, gate, w1, w2, FfnActivation.Relu),
            // Chunks of ~20 rows: groups of two or three experts, gathered and scattered separately.
            "sorted-chunked" => () => MoeKernels.Sorted(x, idx, gate, w1, w2, FfnActivation.Relu, chunkRows: 20),
            "sorted-one-thread" => () => MoeKernels.Sorted(x, idx, gate, w1, w2, FfnActivation.Relu, oneThread: true),
            "sorted-autograd" => () => MoeKernels.Sorted(x, idx, gate, w1, w2, FfnActivation.Relu, customBackwardOff: true),
            "padded-custom-backward" => () => MoeKernels.PaddedBmm(x, idx, gate, w1, w2, FfnActivation.Relu),
            _ => () => MoeKernels.PaddedBmm(x, idx, gate, w1, w2, FfnActivation.Relu, customBackwardOff: true),
        };
        Func<Tensor> naive = () => MoeKernels.NaiveLoop(x, idx, gate, w1, w2, FfnActivation.Relu);

        var yFast = fast();
        var yNaive = naive();
        Assert.True(yFast.allclose(yNaive, rtol: 1e-12, atol: 1e-12), $"max diff {(yFast - yNaive).abs().max().item<double>()}");
        Assert.True(yNaive.abs().max().item<double>() > 0.1);  // a vacuous all-zero comparison would not count

        var gFast = Grads(fast, gy, x, gate, w1, w2);
        var gNaive = Grads(naive, gy, x, gate, w1, w2);
        string[] names = ["x", "gate", "w1", "w2"];
        for (int i = 0; i < 4; i++)
            Assert.True(gFast[i].allclose(gNaive[i], rtol: 1e-10, atol: 1e-12), $"grad {names[i]} max diff {(gFast[i] - gNaive[i]).abs().max().item<double>()}");
        // The unused expert gets an exactly zero weight gradient.
        var used = idx.reshape(-1).bincount(null, 5);
        Assert.Equal(0L, used[4].item<long>());
        Assert.Equal(0.0, gFast[2][4].abs().sum().item<double>());
    }

    [Fact]
    public void SortedPathPassesGradcheckOnGateAndWeights()
    {
        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        var (x, idx, gate, w1, w2) = Problem(T: 7, d: 3, ne: 4, g: 2, k: 2, seed: 3);
        var gy = randn(7, 3, dtype: ScalarType.Float64);
        var analytic = Grads(() => MoeKernels.Sorted(x, idx, gate, w1, w2, FfnActivation.Gelu), gy, gate, w1);
        // Central differences on a few entries: an independent check of the autograd path itself.
        double Loss() { using var _ = no_grad(); return (MoeKernels.Sorted(x, idx, gate, w1, w2, FfnActivation.Gelu) * gy).sum().item<double>(); }
        const double h = 1e-6;
        foreach (var (t, g) in new[] { (gate, analytic[0]), (w1, analytic[1]) })
        {
            var flat = t.detach().view(-1);
            var gflat = g.view(-1);
            for (long i = 0; i < flat.shape[0]; i += 3)
            {
                var v = flat[i].item<double>();
                flat[i] = v + h; var lp = Loss();
                flat[i] = v - h; var lm = Loss();
                flat[i] = v;
                Assert.Equal((lp - lm) / (2 * h), gflat[i].item<double>(), 6);
            }
        }
    }

    [Fact]
    public void LayerForwardMatchesIndependentSigmoidTopKReference()
    {
        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        manual_seed(11);
        var moe = new MoeFeedForward(MoeConfig.SigmaMoe(8, 6, 5, 3));
        moe.to(ScalarType.Float64);
        moe.eval();
        var x = randn(2, 5, 8, dtype: ScalarType.Float64);
        var y = moe.forward(x).reshape(-1, 8);

        // Reference written from the definition, token by token, experts chosen by sorting the sigmoid scores in C#.
        var x2 = x.reshape(-1, 8);
        var z = x2.mm(moe.Selector.detach().t());
        var zs = z.data<double>().ToArray();
        for (int t = 0; t < 10; t++)
        {
            var chosen = Enumerable.Range(0, 6).OrderByDescending(e => zs[t * 6 + e]).Take(3);
            var yt = zeros(8, dtype: ScalarType.Float64);
            foreach (var e in chosen)
            {
                var g = 1.0 / (1.0 + Math.Exp(-zs[t * 6 + e]));
                var h = nn.functional.relu(x2[t].matmul(moe.Keys.detach()[e]));
                yt += g * h.matmul(moe.Values.detach()[e]);
            }
            Assert.True(y[t].allclose(yt, rtol: 1e-12, atol: 1e-12), $"token {t}");
        }
        Assert.Equal(10L * 3, moe.UsageCounts.Sum());
        Assert.Equal(10L, moe.UsageTokens);
    }

    [Fact]
    public void SigmaMoeWithAllExpertsAndUnitGatesEqualsDenseFromSameWeights()
    {
        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        manual_seed(5);
        long d = 10, ne = 4, g = 6;
        var moe = new MoeFeedForward(MoeConfig.SigmaMoe(d, ne, g, k: ne)) { ForceUnitGates = true };
        moe.to(ScalarType.Float64);
        var dense = new DenseFeedForward("dense", d, ne * g, d, FfnActivation.Relu, upBias: false, downBias: false);
        dense.to(ScalarType.Float64);
        // Hidden unit e·G+j of the dense block is key j of expert e.
        var up = moe.Keys.detach().permute(0, 2, 1).reshape(ne * g, d);
        var down = moe.Values.detach().reshape(ne * g, d).t();
        dense.SetWeights(new FeedForwardWeights(up, null, null, down, null, FfnActivation.Relu));
        var x = randn(17, d, dtype: ScalarType.Float64);
        var a = moe.forward(x);
        var b = dense.forward(x);
        Assert.True(a.allclose(b, rtol: 1e-12, atol: 1e-12), $"max diff {(a - b).abs().max().item<double>()}");
    }

    [Fact]
    public void KernelModesGiveTheSameLayerOutputAndAutoFallsBackWhenImbalanced()
    {
        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        manual_seed(12);
        var moe = new MoeFeedForward(MoeConfig.SigmaMoe(8, 6, 4, 2));
        moe.to(ScalarType.Float64);
        var x = randn(40, 8, dtype: ScalarType.Float64);
        moe.KernelMode = MoeKernelMode.PaddedBmm;
        var a = moe.forward(x);
        moe.KernelMode = MoeKernelMode.Sorted;
        var b = moe.forward(x);
        Assert.True(a.allclose(b, rtol: 1e-12, atol: 1e-12));
        // A selector that sends every token to experts 0 and 1: padding would cost N_E/K = 3 rows per pair.
        using (no_grad()) moe.Selector.copy_(zeros(6, 8, dtype: ScalarType.Float64).index_fill_(1, tensor(new long[] { 0 }), 0.0));
        using (no_grad()) { moe.Selector[0, 0] = 100.0; moe.Selector[1, 0] = 100.0; }
        moe.KernelMode = MoeKernelMode.Auto;
        var xPos = x.abs() + 0.1;
        moe.forward(xPos);
        Assert.Equal(MoeKernelMode.Sorted, moe.LastKernel);
        Assert.Equal(3.0, moe.LastPaddingOverhead, 12);
    }

    [Fact]
    public void TunerCyclesThroughThePathsThenKeepsTheFastestAndRetunesWhenThreadsChange()
    {
        var t = new MoeKernelTuner { SamplesPerKernel = 2 };
        MoeKernelMode[] cycle = [MoeKernelMode.Sorted, MoeKernelMode.PaddedBmm, MoeKernelMode.SortedOneThread];
        double[] times = [50, 30, 60, 40, 35, 20];  // best: sorted 40, padded 30, one thread 20
        for (int i = 0; i < 6; i++)
        {
            var m = t.Next(threads: 2);
            Assert.Equal(cycle[i % 3], m);
            Assert.False(t.Settled);
            t.Report(m, times[i]);
        }
        Assert.True(t.Settled);
        Assert.Equal(MoeKernelMode.SortedOneThread, t.Next(threads: 2));
        t.Report(MoeKernelMode.Sorted, 1.0);                  // ignored once settled
        Assert.Equal(MoeKernelMode.SortedOneThread, t.Next(threads: 2));
        Assert.Equal((40.0, 30.0, 20.0), t.BestMs);
        Assert.Equal(MoeKernelMode.Sorted, t.Next(threads: 3)); // a new thread count starts over
        Assert.False(t.Settled);
        Assert.Equal(MoeKernelMode.Sorted, t.Next(threads: 1)); // one thread: sorted, no timing
        Assert.True(t.Settled);
    }

    [Fact]
    public void OneThreadPathRestoresTheThreadCount()
    {
        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        var (x, idx, gate, w1, w2) = Problem(T: 9, d: 4, ne: 3, g: 2, k: 2, seed: 5);
        var before = get_num_threads();
        MoeKernels.Sorted(x, idx, gate, w1, w2, FfnActivation.Relu, oneThread: true).sum().backward();
        Assert.Equal(before, get_num_threads());
    }

    [Fact]
    public void AutoWithoutHandWrittenBackwardChoosesByPadding()
    {
        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        manual_seed(13);
        var moe = new MoeFeedForward(MoeConfig.SigmaMoe(8, 6, 4, 2) with { Activation = FfnActivation.Gelu });
        moe.to(ScalarType.Float64);
        var x = randn(600, 8, dtype: ScalarType.Float64);
        moe.forward(x);
        Assert.True(moe.LastPaddingOverhead <= moe.MaxPaddingOverhead, $"padding {moe.LastPaddingOverhead}");
        Assert.Equal(MoeKernelMode.PaddedBmm, moe.LastKernel);
        Assert.False(moe.KernelTuner.Settled);                 // the tuner only runs where both paths are hand-written
        moe.MaxPaddingOverhead = 1.0;
        moe.forward(x);
        Assert.Equal(MoeKernelMode.Sorted, moe.LastKernel);
    }

    [Fact]
    public void AutoWithReluSettlesOnOnePathAfterTimingBoth()
    {
        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        manual_seed(14);
        var moe = new MoeFeedForward(MoeConfig.SigmaMoe(8, 6, 4, 2));
        var x = randn(64, 8);
        var seen = new HashSet<MoeKernelMode>();
        // Differentiated calls: the sample is reported from the backward.
        for (int i = 0; i < 3 * moe.KernelTuner.SamplesPerKernel; i++) { moe.forward(x).sum().backward(); seen.Add(moe.LastKernel); }
        if (get_num_threads() == 1) Assert.Equal([MoeKernelMode.Sorted], seen);
        else Assert.Equal([MoeKernelMode.Sorted, MoeKernelMode.PaddedBmm, MoeKernelMode.SortedOneThread], seen.OrderBy(m => m));
        Assert.True(moe.KernelTuner.Settled);
        var best = moe.KernelTuner.BestMs;
        var chosen = get_num_threads() == 1 ? MoeKernelMode.Sorted
            : best.Sorted <= best.Padded && best.Sorted <= best.SortedOneThread ? MoeKernelMode.Sorted
            : best.Padded <= best.SortedOneThread ? MoeKernelMode.PaddedBmm : MoeKernelMode.SortedOneThread;
        moe.forward(x);
        Assert.Equal(chosen, moe.LastKernel);
    }
}
