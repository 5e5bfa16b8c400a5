using MlpKit.Compression;
using MlpKit.Ffn;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MlpKit.Tests.Compression;

public class RepairTests
{
    static CompressionContext Ctx(Tensor x) => new() { Seed = 3, Calibration = x, Where = "layers.0.mlp" };

    [Fact]
    public void LstsqWithAllNeuronsAndNoRidgeRecoversTheOriginalBlock()
    {
        using var scope = NewDisposeScope();
        var w = FfnFactory.Random(8, 20, 6, FfnActivation.Gelu, 11);
        var x = FfnFactory.Inputs(200, 8, 5);
        var kept = CompressionMethods.Get("prune").Compress(w, 20, Ctx(x));
        var damaged = kept with { Weights = kept.Weights with { Down = kept.Weights.Down * 0.3, DownBias = zeros_like(kept.Weights.DownBias!) } };
        var repaired = Repair.Apply(damaged, x, w.Forward(x), RepairMode.Lstsq, "t", ridge: 0);
        // Same neurons (in some order), so the re-solved output side is the original one.
        Assert.True(FfnFactory.RelErr(repaired.Forward(x), w.Forward(x)) < 1e-10);
        Assert.True((repaired.Weights.DownBias! - w.DownBias!).abs().max().ToDouble() < 1e-8);
    }

    /// <summary>A block without an output bias (Llama, Mixtral experts) is re-fitted without an intercept and stays bias-free.</summary>
    [Fact]
    public void ABiasFreeGatedBlockIsRefittedWithoutAnIntercept()
    {
        using var scope = NewDisposeScope();
        var w = FfnFactory.Random(8, 20, 6, FfnActivation.Silu, 12, gated: true, upBias: false, downBias: false);
        var x = FfnFactory.Inputs(200, 8, 6);
        var kept = CompressionMethods.Get("prune").Compress(w, 20, Ctx(x));
        var damaged = kept with { Weights = kept.Weights with { Down = kept.Weights.Down * 0.3 } };
        var repaired = Repair.Apply(damaged, x, w.Forward(x), RepairMode.Lstsq, "t", ridge: 0);
        Assert.Null(repaired.Weights.DownBias);
        Assert.True(FfnFactory.RelErr(repaired.Forward(x), w.Forward(x)) < 1e-10);
        var e = Assert.Throws<MlpKitException>(() => Repair.Apply(damaged, x, w.Forward(x), RepairMode.Bias, "layers.2.mlp"));
        Assert.Contains("layers.2.mlp", e.Message);
        Assert.Contains("no output bias", e.Message);
    }

    [Theory]
    [InlineData("prune")]
    [InlineData("prune-act")]
    [InlineData("fusion")]
    [InlineData("drop")]
    [InlineData("sketch")]
    public void LstsqNeverIncreasesTheCalibrationErrorAndBiasCentresTheResidual(string method)
    {
        using var scope = NewDisposeScope();
        foreach (var act in new[] { FfnActivation.Gelu, FfnActivation.Relu })
        {
            var w = FfnFactory.Random(8, 32, 6, act, 21);
            var x = FfnFactory.Inputs(300, 8, 6);
            var y = w.Forward(x);
            var r = CompressionMethods.Get(method).Compress(w, 8, Ctx(x));
            double before = FfnFactory.RelErr(r.Forward(x), y);
            var ls = Repair.Apply(r, x, y, RepairMode.Lstsq, "t");
            Assert.True(FfnFactory.RelErr(ls.Forward(x), y) <= before + 1e-12, $"{method}/{act}: lstsq made it worse");
            var bias = Repair.Apply(r, x, y, RepairMode.Bias, "t");
            Assert.True(FfnFactory.RelErr(bias.Forward(x), y) <= before + 1e-12, $"{method}/{act}: bias made it worse");
            Assert.True((bias.Forward(x) - y).mean([0]).abs().max().ToDouble() < 1e-10);
            if (r.HiddenScale is not null) Assert.True(ls.HiddenScale!.equal(r.HiddenScale).all().ToBoolean());
        }
    }

    [Fact]
    public void ObsPruningDropsRedundantNeuronsThatPerNeuronScoresKeep()
    {
        // Every neuron twice: half the width loses nothing if one copy of each pair goes, which the
        // least-squares removal cost sees (a copy's twin takes over) and a per-neuron score cannot.
        using var scope = NewDisposeScope();
        var w = FfnFactory.Doubled(FfnFactory.Random(8, 16, 6, FfnActivation.Gelu, 31));
        var x = FfnFactory.Inputs(400, 8, 7);
        var y = w.Forward(x);
        var obs = CompressionMethods.Get("prune-obs").Compress(w, 16, Ctx(x));
        var act = Repair.Apply(CompressionMethods.Get("prune-act").Compress(w, 16, Ctx(x)), x, y, RepairMode.Lstsq, "t");
        double eObs = FfnFactory.RelErr(obs.Forward(x), y), eAct = FfnFactory.RelErr(act.Forward(x), y);
        Assert.True(eObs < 1e-2, $"prune-obs error {eObs}");
        Assert.True(eAct > 0.05, $"prune-act + lstsq error {eAct}");
    }

    [Fact]
    public void FewTokensStillGiveAFiniteRidgeFitAndNonFiniteActivationsAreOneLineNamingTheBlock()
    {
        using var scope = NewDisposeScope();
        var w = FfnFactory.Random(8, 32, 6, FfnActivation.Gelu, 41);
        // Fewer tokens than kept neurons: the ridge keeps the fit solvable, and on those tokens it is no worse than no repair.
        var few = FfnFactory.Inputs(10, 8, 8);
        var r = CompressionMethods.Get("prune").Compress(w, 16, Ctx(few));
        var fit = Repair.Apply(r, few, w.Forward(few), RepairMode.Lstsq, "layers.3.mlp");
        Assert.False(fit.Forward(few).isnan().any().item<bool>());
        Assert.True(FfnFactory.RelErr(fit.Forward(few), w.Forward(few)) <= FfnFactory.RelErr(r.Forward(few), w.Forward(few)));
        var obs = CompressionMethods.Get("prune-obs").Compress(w, 16, Ctx(few));
        Assert.Equal(16, obs.Weights.HiddenDim);
        Assert.False(obs.Forward(few).isnan().any().item<bool>());
        var bad = FfnFactory.Inputs(100, 8, 9);
        bad[3, 2] = tensor(double.NaN);
        Assert.Contains("NaN", Assert.Throws<MlpKitException>(() => Repair.Apply(r, bad, w.Forward(bad), RepairMode.Lstsq, "layers.3.mlp")).Message);
    }
}
