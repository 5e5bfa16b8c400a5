using MlpKit.Runtime;
using MlpKit.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Xunit;

namespace MlpKit.Tests.Training;

/// <summary>The trainer's AdamW against TorchSharp's and against the update written out in float64.</summary>
[Collection(TorchRngCollection.Name)]
public class LeanAdamWTests
{
    static (Parameter[] Params, Tensor[][] Grads) Problem(long seed)
    {
        TorchRuntime.EnsureInitialized();
        var g = new Generator((ulong)seed);
        // Shapes of different sizes so the shared scratch buffer is reshaped, and grown once.
        var ps = new[] { new Parameter(randn(3, 5, dtype: ScalarType.Float64, generator: g)), new Parameter(randn(7, dtype: ScalarType.Float64, generator: g)),
            new Parameter(randn(4, 6, 2, dtype: ScalarType.Float64, generator: g)) };
        var grads = Enumerable.Range(0, 6).Select(_ => ps.Select(p => randn(p.shape, dtype: ScalarType.Float64, generator: g)).ToArray()).ToArray();
        return (ps, grads);
    }

    static void Run(optim.Optimizer opt, Parameter[] ps, Tensor[][] grads)
    {
        foreach (var step in grads)
        {
            for (var i = 0; i < ps.Length; i++) ps[i].grad = step[i].clone();
            opt.step();
        }
    }

    [Fact]
    public void MatchesTorchSharpsAdamWAndTheWrittenOutUpdate()
    {
        using var scope = NewDisposeScope();
        const double lr = 0.05, b1 = 0.9, b2 = 0.99, eps = 1e-6, wd = 0.1;
        var (mine, grads) = Problem(1);
        var (theirs, _) = Problem(1);
        Run(new LeanAdamW([new AdamW.ParamGroup(mine.Take(2), lr, b1, b2, eps, wd), new AdamW.ParamGroup(mine.Skip(2), lr, b1, b2, eps, 0)], lr, b1, b2, eps, wd), mine, grads);
        Run(optim.AdamW([new AdamW.ParamGroup(theirs.Take(2), lr, b1, b2, eps, wd), new AdamW.ParamGroup(theirs.Skip(2), lr, b1, b2, eps, 0)], lr, b1, b2, eps, wd), theirs, grads);

        // The update as Loshchilov & Hutter and torch.optim.AdamW write it, for the first parameter.
        var (reference, _) = Problem(1);
        var p = reference[0].detach().clone();
        var m = zeros_like(p);
        var v = zeros_like(p);
        for (var t = 1; t <= grads.Length; t++)
        {
            var g = grads[t - 1][0];
            p = p * (1 - lr * wd);
            m = b1 * m + (1 - b1) * g;
            v = b2 * v + (1 - b2) * g * g;
            var mHat = m / (1 - Math.Pow(b1, t));
            var vHat = v / (1 - Math.Pow(b2, t));
            p = p - lr * mHat / (vHat.sqrt() + eps);
        }

        for (var i = 0; i < mine.Length; i++)
            Assert.True((mine[i] - theirs[i]).abs().max().item<double>() < 1e-12, $"parameter {i} differs from TorchSharp's AdamW");
        Assert.True((mine[0] - p).abs().max().item<double>() < 1e-12, "differs from the written-out update");
        Assert.True((mine[0] - reference[0]).abs().max().item<double>() > 1e-3, "the parameter did not move");
    }

    [Fact]
    public void SkipsParametersWithoutGradient()
    {
        using var scope = NewDisposeScope();
        var (ps, _) = Problem(2);
        var before = ps[1].detach().clone();
        var opt = new LeanAdamW([new AdamW.ParamGroup(ps, 0.1, 0.9, 0.999, 1e-8, 0.5)], 0.1, 0.9, 0.999, 1e-8, 0.5);
        ps[0].grad = ones_like(ps[0]);
        opt.step();
        Assert.True(ps[1].eq(before).all().item<bool>(), "a parameter without gradient was decayed or moved");
    }
}
