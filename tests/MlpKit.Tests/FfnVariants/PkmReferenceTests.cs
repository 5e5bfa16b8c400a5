using MlpKit.Ffn.Variants;
using MlpKit.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace MlpKit.Tests.FfnVariantsTests;

public class PkmReferenceTests
{
    /// <summary>
    /// Product-key memory by brute force: every one of the n_keys² values is scored as s1[i] + s2[j], the top knn of
    /// all of them are kept per head (no candidate search), activated over all heads together, and the values summed
    /// one token and one slot at a time.
    /// </summary>
    static Tensor BruteForce(Tensor x, Tensor keys, Tensor values, PkmConfig c)
    {
        var d = c.DModel;
        var outputs = new List<Tensor>();
        for (long t = 0; t < x.shape[0]; t++)
        {
            var q1 = x[t].narrow(0, 0, d / 2);
            var q2 = x[t].narrow(0, d / 2, d / 2);
            var scores = new List<Tensor>();
            var slots = new List<long>();
            for (long h = 0; h < c.Heads; h++)
            {
                var s1 = keys[h, 0].mv(q1);
                var s2 = keys[h, 1].mv(q2);
                var all = (s1.unsqueeze(1) + s2.unsqueeze(0)).reshape(-1);   // value i·n_keys + j
                long[] top;
                using (no_grad()) top = all.topk((int)c.Knn).indexes.data<long>().ToArray();
                foreach (var v in top) { scores.Add(all[v]); slots.Add(v); }
            }
            var s = stack(scores);
            var w = c.ScoreActivation == PkmScoreActivation.Softmax ? s.softmax(0) : nn.functional.relu(s);
            var y = zeros(d, dtype: x.dtype);
            for (int i = 0; i < slots.Count; i++) y = y + w[i] * values[slots[i]];
            outputs.Add(y);
        }
        return stack(outputs);
    }

    [Theory]
    [InlineData(PkmScoreActivation.Relu)]
    [InlineData(PkmScoreActivation.Softmax)]
    public void ForwardAndGradientsEqualBruteForceInFloat64(PkmScoreActivation activation)
    {
        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        manual_seed(11);
        var c = new PkmConfig(8, 5, Heads: 2, Knn: 3, ScoreActivation: activation);
        var pkm = new PkmFeedForward(c);
        pkm.to(ScalarType.Float64);
        var p = pkm.named_parameters().ToDictionary(kv => kv.name, kv => kv.parameter);
        var keys = p["keys"];
        var values = p["values.weight"];
        // Unit-scale scores so the ReLU keeps some candidates and drops others.
        using (no_grad()) { keys.normal_(); values.normal_(); }
        var x = randn(9, 8, dtype: ScalarType.Float64).requires_grad_(true);
        var gy = randn(9, 8, dtype: ScalarType.Float64);

        var y = pkm.forward(x);
        (y * gy).sum().backward();
        var (gx, gk, gv) = (x.grad!.clone(), keys.grad!.clone(), values.grad!.clone());
        foreach (var t in new[] { x, keys, values }) t.grad = null;

        var yRef = BruteForce(x, keys, values, c);
        (yRef * gy).sum().backward();

        Assert.True(y.allclose(yRef, rtol: 1e-12, atol: 1e-12), $"max diff {(y - yRef).abs().max().item<double>()}");
        Assert.True(yRef.abs().max().item<double>() > 0.1);
        Assert.True(gx.allclose(x.grad!, rtol: 1e-10, atol: 1e-12), "grad x");
        Assert.True(gk.allclose(keys.grad!, rtol: 1e-10, atol: 1e-12), "grad keys");
        Assert.True(gv.allclose(values.grad!, rtol: 1e-10, atol: 1e-12), "grad values");
        Assert.True(values.grad!.abs().sum(new long[] { 1 }).eq(0).any().item<bool>(), "some values are never selected, so the test sees sparse value gradients");
    }
}
