using MlpKit.FineTuning;
using MlpKit.Ffn.Variants;
using MlpKit.Lm;
using MlpKit.Runtime;
using MlpKit.Tests.FfnVariantsTests;
using MlpKit.Tests.Support;
using MlpKit.Training;
using static TorchSharp.torch;
using Xunit;

namespace MlpKit.Tests.LmTraining;

[Collection(MlpKit.Tests.Training.TorchRngCollection.Name)]
public class LmTrainingTaskTests
{
    public static TheoryData<string> Variants() => new(FfnVariants.Names);

    [Theory]
    [MemberData(nameof(Variants))]
    public void TinyLmLossFallsOver50TrainerSteps(string ffn)
    {
        TorchRuntime.EnsureInitialized();
        using var threads = new SingleThread();
        var spec = TinyLm.Spec(ffn);
        var stream = TinyLm.Stream(TinyLm.Text());
        manual_seed(spec.Seed);
        using var model = new DecoderLm(spec.ModelConfig(256));
        var task = new LmTrainingTask(model, stream, stream, evalTokens: 64);
        var losses = new List<double>();
        var trainer = new Trainer(model, FineTuneMethods.Create("full"), task, spec.TrainerOptions(outDir: null!, resume: false, progress: false) with { OutDir = null })
        {
            OnStep = s => losses.Add(s.Loss),
        };
        var result = trainer.Run();
        Assert.Equal(50, result.Steps);
        Assert.InRange(losses[0], 4.5, 6.5);   // ≈ ln 256 = 5.55 at init
        var lastFive = losses.TakeLast(5).Average();
        Assert.True(lastFive < 0.5 * losses[0], $"{ffn}: {losses[0]:F3} → {lastFive:F3}");
        Assert.True(result.BestMetric < Math.Exp(0.6 * losses[0]), $"{ffn}: valid perplexity {result.BestMetric}");
    }

    [Fact]
    public void ResumeGivesTheSameNextStepLossesAsAnUninterruptedRun()
    {
        TorchRuntime.EnsureInitialized();
        using var threads = new SingleThread();
        // Expert dropout draws from torch's RNG every step, so the restored RNG state matters too.
        var spec = TinyLm.Spec("sigma-moe", expertDropout: 0.2) with { Steps = 6, CheckpointEvery = 0 };
        var stream = TinyLm.Stream(TinyLm.Text());

        List<double> Train(string dir, bool resume, long? stopAfter)
        {
            manual_seed(spec.Seed);
            using var model = new DecoderLm(spec.ModelConfig(256));
            var task = new LmTrainingTask(model, stream, stream, evalTokens: 32);
            using var cts = new CancellationTokenSource();
            var losses = new List<double>();
            var trainer = new Trainer(model, FineTuneMethods.Create("full"), task, spec.TrainerOptions(dir, resume, progress: false) with { WritePlot = false })
            {
                OnStep = s => { losses.Add(s.Loss); if (s.Step == stopAfter) cts.Cancel(); },
            };
            var r = trainer.Run(cts.Token);
            Assert.Equal(stopAfter is not null, r.Interrupted);
            return losses;
        }

        var whole = Train(TestPaths.TempDir(), resume: false, stopAfter: null);
        var dir = TestPaths.TempDir();
        var first = Train(dir, resume: false, stopAfter: 3);
        var rest = Train(dir, resume: true, stopAfter: null);
        Assert.Equal(6, whole.Count);
        Assert.Equal(whole.Take(3), first, new Tol());
        Assert.Equal(3, rest.Count);
        Assert.Equal(whole.Skip(3), rest, new Tol());
        // A different data position or RNG would show: consecutive steps differ from each other.
        Assert.NotEqual(whole[3], whole[4]);
    }

    sealed class Tol : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= 1e-6 * Math.Max(1, Math.Abs(a));
        public int GetHashCode(double x) => 0;
    }
}
