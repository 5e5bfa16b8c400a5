using MlpKit.FineTuning;
using MlpKit.FineTuning.Lora;
using MlpKit.FineTuning.MeProp;
using MlpKit.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace MlpKit.Tests.FineTuning;

[Collection(MlpKit.Tests.Training.TorchRngCollection.Name)]
public class FineTuneMethodTests
{
    static (TinyMlpClassifier, SyntheticData) Setup(ScalarType dtype = ScalarType.Float64, bool gated = false, int seed = 3)
    {
        TorchRuntime.EnsureInitialized();
        manual_seed(seed);
        var data = new SyntheticData(64);
        return (new TinyMlpClassifier(data.Vocab, 8, 24, 2, data.Classes, gated, dtype: dtype), data);
    }

    static int[] FirstBatch => Enumerable.Range(0, 16).ToArray();

    [Fact]
    public void RegistryListsTheMethodsAndRejectsUnknownOnes()
    {
        Assert.Equal(new[] { "full", "lora", "meprop", "sparsegrad", "fusion+sparsegrad" }, FineTuneMethods.Names);
        var e = Assert.Throws<MlpKitException>(() => FineTuneMethods.Create("adapterz"));
        Assert.Contains("adapterz", e.Message);
        var o = Assert.Throws<MlpKitException>(() => FineTuneMethods.Create("lora", new Dictionary<string, string> { ["rnak"] = "4" }));
        Assert.Contains("rnak", o.Message);
    }

    [Fact]
    public void LoraWithZeroBChangesNothingAtStepZeroAndMergesExactly()
    {
        using var scope = NewDisposeScope();
        var (model, data) = Setup();
        model.eval();
        var (t, o, _) = data.Batch(FirstBatch);
        var before = model.call(t, o).detach().clone();
        var adapter = FineTuneMethods.Create("lora", new Dictionary<string, string> { ["rank"] = "3", ["alpha"] = "6" }).Inject(model, new FineTuneContext());
        Assert.Equal(0.0, (model.call(t, o) - before).abs().max().item<double>());

        // Only the adapters and the head train; the MLP and the rest are frozen.
        var names = adapter.DenseTrainable.Select(p => p.Name).ToList();
        Assert.Contains("head.weight", names);
        Assert.Contains("lora.blocks.0.up.A", names);
        Assert.DoesNotContain("blocks.0.up.weight", names);
        Assert.False(model.named_parameters().Single(p => p.name == "blocks.0.up.weight").parameter.requires_grad);

        var lora = (LoraInjector.LoraAdapter)adapter;
        using (no_grad()) foreach (var l in lora.Layers) l.Layer.B.normal_();
        var hooked = model.call(t, o).detach().clone();
        Assert.True((hooked - before).abs().max().item<double>() > 1e-3, "a non-zero B must change the output");
        adapter.Merge();
        Assert.True((model.call(t, o) - hooked).abs().max().item<double>() < 1e-12);
        Assert.DoesNotContain(model.state_dict().Keys, k => k.Contains("lora"));
    }

    [Fact]
    public void MePropWithFullWidthEqualsTheFullGradient()
    {
        using var scope = NewDisposeScope();
        var (reference, data) = Setup(seed: 5);
        var (model, _) = Setup(seed: 5);
        reference.train(); model.train();
        FineTuneMethods.Create("meprop", new Dictionary<string, string> { ["k"] = "1000" }).Inject(model, new FineTuneContext());
        data.Loss(reference, FirstBatch).backward();
        data.Loss(model, FirstBatch).backward();
        var refGrads = reference.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad);
        var checkedAny = 0;
        foreach (var (name, p) in model.named_parameters())
        {
            if (p.grad is null) continue;
            Assert.True((p.grad - refGrads[name]!).abs().max().item<double>() < 1e-12, name);
            checkedAny++;
        }
        Assert.True(checkedAny >= 9, $"expected the MLP linears and head to have gradients, got {checkedAny}");
    }

    [Fact]
    public void MePropTopKMatchesAHandMaskedBackward()
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        var x = randn(5, 7, dtype: ScalarType.Float64);
        var w = randn(6, 7, dtype: ScalarType.Float64, requires_grad: true);
        var upstream = randn(5, 6, dtype: ScalarType.Float64);
        var y = MePropTopK.apply(nn.functional.linear(x, w), 2);
        (y * upstream).sum().backward();

        // By hand: keep the 2 largest |g| in each row of the output gradient, then dW = g̃ᵀ x.
        var g = upstream.clone();
        var a = g.data<double>().ToArray();
        for (var r = 0; r < 5; r++)
        {
            var keep = Enumerable.Range(0, 6).OrderByDescending(c => Math.Abs(a[r * 6 + c])).Take(2).ToHashSet();
            for (var c = 0; c < 6; c++) if (!keep.Contains(c)) a[r * 6 + c] = 0;
        }
        var expected = tensor(a, new long[] { 5, 6 }).t().matmul(x);
        Assert.True((w.grad! - expected).abs().max().item<double>() < 1e-12);
    }
}
