using MlpKit.Ffn;
using MlpKit.Models;
using MlpKit.Generation;
using MlpKit.Models.Gpt2;
using MlpKit.Models.Mixtral;
using MlpKit.Runtime;
using static TorchSharp.torch;
using Xunit;

namespace MlpKit.Tests.Models;

public class GenerationTests
{
    internal static Gpt2Model TinyGpt2(long seed = 1)
    {
        TorchRuntime.EnsureInitialized();
        manual_seed(seed);
        var m = new Gpt2Model(new Gpt2Config(50, 40, 32, 2, 4, new long[] { 64, 48 }, FfnActivation.GeluTanh, 1e-5));
        Spread(m);
        return m;
    }

    internal static MixtralModel TinyMixtral(long seed = 2, bool tied = false)
    {
        TorchRuntime.EnsureInitialized();
        manual_seed(seed);
        var sizes = new IReadOnlyList<long>[] { new long[] { 24, 32, 16, 40 }, new long[] { 32, 32, 32, 32 } };
        var m = new MixtralModel(new MixtralConfig(50, 32, 2, 4, 2, 8, 4, 2, sizes, 1e-5, 10000.0, 64, null, tied));
        Spread(m);
        return m;
    }

    // Default inits give near-uniform logits; a wider spread makes argmax decisions well separated.
    static void Spread(nn.Module m)
    {
        using var _ = no_grad();
        foreach (var (name, p) in m.named_parameters())
            if (p.dim() > 1) p.normal_(0, name.Contains("embed") || name.Contains("wte") ? 1.0 : 0.3);
    }

    [Fact]
    public void GreedyWithCacheEqualsRecomputingTheSequence()
    {
        foreach (ICausalLanguageModel model in new ICausalLanguageModel[] { TinyGpt2(), TinyMixtral() })
        {
            using var _ = (IDisposable)model;
            var prompt = new long[] { 3, 14, 15, 9 };
            var cached = TextGenerator.Generate(model, prompt, new GenerationOptions { MaxNewTokens = 12, UseCache = true });
            var full = TextGenerator.Generate(model, prompt, new GenerationOptions { MaxNewTokens = 12, UseCache = false });
            Assert.Equal(12, cached.Length);
            Assert.Equal(full, cached);
        }
    }

    [Fact]
    public void CachedLogitsMatchFullForwardAtEveryPosition()
    {
        foreach (ICausalLanguageModel model in new ICausalLanguageModel[] { TinyGpt2(), TinyMixtral() })
        {
            using var _ = (IDisposable)model;
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var ids = tensor(new long[] { 5, 1, 7, 22, 8, 30, 2 }, new long[] { 1, 7 });
            var full = model.Forward(ids);
            using var cache = model.NewCache();
            var first = model.Forward(ids.narrow(1, 0, 3), null, cache);
            var steps = new List<Tensor> { first };
            for (int t = 3; t < 7; t++) steps.Add(model.Forward(ids.narrow(1, t, 1), null, cache));
            var incremental = cat(steps.ToArray(), 1);
            Assert.Equal(7, cache.Length);
            Assert.True((full - incremental).abs().max().item<float>() < 1e-4f, model.Architecture);
        }
    }

    [Fact]
    public void TopK1SamplingEqualsGreedy()
    {
        using var model = TinyGpt2();
        var prompt = new long[] { 1, 2, 3 };
        var greedy = TextGenerator.Generate(model, prompt, new GenerationOptions { MaxNewTokens = 10 });
        var topk1 = TextGenerator.Generate(model, prompt, new GenerationOptions { MaxNewTokens = 10, Sample = true, TopK = 1, Temperature = 0.7, Seed = 99 });
        Assert.Equal(greedy, topk1);
    }

    [Fact]
    public void SeededSamplingIsReproducibleAndSeedsDiffer()
    {
        using var model = TinyGpt2();
        var prompt = new long[] { 1, 2, 3 };
        GenerationOptions Opt(long seed) => new() { MaxNewTokens = 15, Sample = true, Temperature = 2.0, Seed = seed };
        var a = TextGenerator.Generate(model, prompt, Opt(7));
        var b = TextGenerator.Generate(model, prompt, Opt(7));
        Assert.Equal(a, b);
        var others = Enumerable.Range(8, 4).Select(s => TextGenerator.Generate(model, prompt, Opt(s)));
        Assert.Contains(others, o => !o.SequenceEqual(a));
    }

    [Fact]
    public void TopKKeepsTheKLargest()
    {
        TorchRuntime.EnsureInitialized();
        var logits = tensor(new float[] { 0.5f, 3f, -1f, 2f, 1f }).unsqueeze(0);
        var warped = TextGenerator.Warp(logits, new GenerationOptions { Sample = true, TopK = 2 }).data<float>().ToArray();
        Assert.Equal(new[] { float.NegativeInfinity, 3f, float.NegativeInfinity, 2f, float.NegativeInfinity }, warped);
    }

    [Fact]
    public void TopPKeepsTheSmallestNucleusAboveP()
    {
        TorchRuntime.EnsureInitialized();
        // probabilities 0.5, 0.25, 0.15, 0.1: p = 0.7 needs {0.5, 0.25}; p = 0.8 needs {0.5, 0.25, 0.15}
        var probs = new[] { 0.15, 0.5, 0.1, 0.25 };
        var logits = tensor(probs.Select(p => (float)Math.Log(p)).ToArray()).unsqueeze(0);
        bool[] Kept(double p) => TextGenerator.Warp(logits, new GenerationOptions { Sample = true, TopP = p })
            .data<float>().ToArray().Select(float.IsFinite).ToArray();
        Assert.Equal(new[] { false, true, false, true }, Kept(0.7));
        Assert.Equal(new[] { true, true, false, true }, Kept(0.8));
        Assert.Equal(new[] { false, true, false, false }, Kept(0.3));
        // Sampling under p = 0.7 only ever draws the nucleus.
        using var g = new Generator(5);
        for (int i = 0; i < 50; i++)
        {
            var token = TextGenerator.NextToken(logits, new GenerationOptions { Sample = true, TopP = 0.7 }, g)[0];
            Assert.Contains(token, new long[] { 1, 3 });
        }
    }

    [Fact]
    public void TemperatureScalesLogits()
    {
        TorchRuntime.EnsureInitialized();
        var logits = tensor(new float[] { 1f, -2f, 4f }).unsqueeze(0);
        var warped = TextGenerator.Warp(logits, new GenerationOptions { Sample = true, Temperature = 0.5 }).data<float>().ToArray();
        Assert.Equal(new[] { 2f, -4f, 8f }, warped);
    }
}
