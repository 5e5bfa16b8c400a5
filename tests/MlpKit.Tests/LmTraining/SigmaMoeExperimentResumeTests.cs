using MlpKit.Tests.Support;
using MlpKit.Lm;
using MlpKit.Experiments;
using Xunit;

namespace MlpKit.Tests.LmTraining;

[Collection(MlpKit.Tests.Training.TorchRngCollection.Name)]
public class SigmaMoeExperimentResumeTests
{
    [Fact]
    public void ResumeReusesFinishedVariantsAndContinuesTheRestFromTheirCheckpoints()
    {
        var corpus = Path.Combine(TestPaths.TempDir(), "tiny.txt");
        File.WriteAllText(corpus, TinyLm.Text(60));
        var spec = TinyLm.Spec("dense") with { Data = corpus, Layers = 1, Batch = 4, EvalTokens = 256, ReportTokens = 256 };
        var outDir = TestPaths.TempDir();
        string[] variants = ["dense", "sigma-moe"];
        var first = SigmaMoeExperiment.Run(new SigmaMoeExperiment.Options(0, outDir, Steps: 4, variants, spec), spec.Seed);

        // A finished variant must not be trained again: its (edited) report comes back as it is on disk.
        var denseDir = Path.Combine(outDir, SigmaMoeExperiment.RunName("dense"));
        (LmRunReport.Load(denseDir) with { ValidPerplexity = 123.0 }).Save(denseDir);
        // A variant without a report continues from its checkpoint (here the final one) and scores the same weights.
        File.Delete(Path.Combine(outDir, SigmaMoeExperiment.RunName("sigma-moe"), LmRunReport.FileName));

        var resumed = SigmaMoeExperiment.Run(new SigmaMoeExperiment.Options(0, outDir, Steps: 0, variants, spec, Resume: true), spec.Seed);
        Assert.Equal(123.0, resumed[0].ValidPerplexity);
        Assert.Equal(4, resumed[1].Steps);
        Assert.Equal(first[1].ValidLoss, resumed[1].ValidLoss, 9);
        Assert.Contains("| 123.000 |", File.ReadAllText(Path.Combine(outDir, "results.md")));

        var otherSeed = spec with { Seed = spec.Seed + 1 };
        var e = Assert.Throws<MlpKitException>(() =>
            SigmaMoeExperiment.Run(new SigmaMoeExperiment.Options(0, outDir, Steps: 0, variants, otherSeed, Resume: true), otherSeed.Seed));
        Assert.Contains("config.json", e.Message);
    }
}
