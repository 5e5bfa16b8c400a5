using MlpKit.Ffn.Variants;
using MlpKit.Lm;
using MlpKit.Models;
using MlpKit.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace MlpKit.Tests.FfnVariantsTests;

public class DecoderLmTests
{
    public static TheoryData<string> Names() => new(FfnVariants.Names);

    static LmConfig Tiny(string name)
    {
        var spec = new FfnFamilySpec(DModel: 16, NExperts: 4, ExpertSize: 8, K: 2, Gamma: 1e-3, PkmHeads: 2, PkmKnn: 4);
        return new LmConfig(VocabSize: 11, DModel: 16, NLayers: 2, NHeads: 2, ContextLength: 16, name, FfnVariants.ParamEqualConfig(name, spec));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void TinyLmLossFallsForEveryVariant(string name)
    {
        TorchRuntime.EnsureInitialized();
        using var threads = new SingleThread();
        using var scope = NewDisposeScope();
        manual_seed(31);
        var lm = new DecoderLm(Tiny(name));
        // Sequences counting up mod 11 from random starts: predictable from the previous token.
        var starts = randint(0, 11, new long[] { 8, 1 });
        var seq = (starts + arange(17).unsqueeze(0)).remainder(11);
        var x = seq.narrow(1, 0, 16);
        var y = seq.narrow(1, 1, 16);
        var opt = optim.AdamW(lm.parameters(), lr: 3e-3);
        lm.train();
        double first = 0, last = 0;
        for (int step = 0; step < 50; step++)
        {
            using var s = NewDisposeScope();
            opt.zero_grad();
            var loss = lm.Loss(x, y);
            loss.Total.backward();
            opt.step();
            if (step == 0) first = loss.CrossEntropy.item<float>();
            last = loss.CrossEntropy.item<float>();
        }
        Assert.InRange(first, 1.8, 3.2);   // near ln 11 = 2.40 at init
        Assert.True(last < 0.6 * first, $"{name}: {first} → {last}");
        Assert.Equal(2, lm.Ffns.Count);
        Assert.All(lm.Ffns, f => Assert.Equal(name, f.VariantName));
    }

    [Fact]
    public void RopeScoresDependOnlyOnRelativePosition()
    {
        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        manual_seed(1);
        using var rope = new RotaryEmbedding(8, 32);
        var q = randn(1, 1, 1, 8).expand(1, 1, 32, 8);
        var k = randn(1, 1, 1, 8).expand(1, 1, 32, 8);
        var rq = rope.Apply(q.contiguous());
        var rk = rope.Apply(k.contiguous());
        var s = rq.matmul(rk.transpose(2, 3))[0, 0];   // s[i, j] = q_i · k_j
        Assert.Equal(s[3, 1].item<float>(), s[20, 18].item<float>(), 4);
        Assert.Equal(s[5, 5].item<float>(), s[0, 0].item<float>(), 4);
        Assert.NotEqual(s[3, 1].item<float>(), s[3, 2].item<float>(), 3);
    }

    [Fact]
    public void LmLossAddsEveryLayersAuxLoss()
    {
        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        manual_seed(2);
        var lm = new DecoderLm(Tiny("sigma-moe"));
        var x = randint(0, 11, new long[] { 2, 16 });
        var loss = lm.Loss(x, x);
        var sum = lm.Ffns.Select(f => f.AuxLoss.item<float>()).Sum();
        Assert.True(sum < 0);   // −γ·H
        Assert.Equal(sum, loss.Aux.item<float>(), 6);
        Assert.Equal(loss.CrossEntropy.item<float>() + sum, loss.Total.item<float>(), 5);
    }
}
