using MlpKit.Compression;
using MlpKit.Data;
using MlpKit.FineTuning;
using MlpKit.Experiments;
using MlpKit.FineTuning.FusionSparseGrad;
using MlpKit.Models;
using MlpKit.Reporting;
using MlpKit.Tests.Support;
using MlpKit.Training;
using static TorchSharp.torch;
using Xunit;

namespace MlpKit.Tests.FineTuning;

[Collection(MlpKit.Tests.Training.TorchRngCollection.Name)]
public class FusionSparseGradTests(Xunit.Abstractions.ITestOutputHelper output)
{
    const long Seed = 7;

    /// <summary>The optimizer state depends on the support, not on the steps: the plain run needs only two.</summary>
    static FineTuneRunSpec Spec(string model, ITextTask data, string method, Dictionary<string, string> options, string outDir, long steps = 20, double lr = 1e-2) =>
        new(model, data, method, options, new TrainerOptions
        {
            OutDir = outDir, MaxSteps = steps, BatchSize = 8, LearningRate = lr, WarmupRatio = 0.06, Seed = Seed, Progress = false, LogEvery = 1,
        });

    static double[] TrainLosses(string runDir) =>
        MetricsLog.ReadAll(Path.Combine(runDir, "metrics.jsonl")).Where(r => (string?)r["kind"] == "train").Select(r => (double)r["loss"]!).ToArray();

    [Fact]
    public void OptionsSplitBetweenFusionAndSparseGradAndTheMethodNeedsItsCompression()
    {
        var c = FusionSparseGradConfig.From(new Dictionary<string, string> { ["fusion-ratio"] = "0.25", ["density"] = "0.02", ["fusion-restarts"] = "1" });
        Assert.Equal(0.25, c.Ratio);
        Assert.Equal(1, c.Restarts);
        Assert.Equal(0.02, c.SparseGrad.Density);
        Assert.Contains("fusion-ratio", Assert.Throws<MlpKitException>(() => FusionSparseGradConfig.From(new Dictionary<string, string> { ["fusion-ratio"] = "1.5" })).Message);
        Assert.Contains("fusion-ratoi", Assert.Throws<MlpKitException>(() => FusionSparseGradConfig.From(new Dictionary<string, string> { ["fusion-ratoi"] = "0.5" })).Message);
        Assert.Contains("densty", Assert.Throws<MlpKitException>(() => FusionSparseGradConfig.From(new Dictionary<string, string> { ["densty"] = "0.5" })).Message);
        using var scope = NewDisposeScope();
        using var module = new MlpKit.Ffn.DenseFeedForward("mlp", 4, 8, 4, MlpKit.Ffn.FfnActivation.Relu);
        var e = Assert.Throws<MlpKitException>(() => FineTuneMethods.Create("fusion+sparsegrad").Inject(module, new FineTuneContext()));
        Assert.Contains("not been compressed", e.Message);
    }

    [Fact]
    public void FusedRunKeepsLessMlpOptimizerStateThanPlainSparseGradTrainsAndExportsAFusedCheckpoint()
    {
        using var scope = NewDisposeScope();
        var model = FinetuneCommandTests.TinyBertWithData(out var train, out var dev, seed: 5, trainRows: 48, devRows: 16);
        var data = TaskFileReader.LoadTask(train, dev, dev, new TaskFileColumns());
        var root = TestPaths.TempDir();
        var plain = FineTuneRun.Run(Spec(model, data, "sparsegrad", new() { ["density"] = "0.05", ["calibration-steps"] = "2" }, Path.Combine(root, "plain"), steps: 2));
        var fusedDir = Path.Combine(root, "fused");
        var fusedOptions = new Dictionary<string, string> { ["density"] = "0.05", ["calibration-steps"] = "2", ["fusion-ratio"] = "0.5", ["fusion-restarts"] = "1" };
        var fused = FineTuneRun.Run(Spec(model, data, "fusion+sparsegrad", fusedOptions, fusedDir, steps: 40) with { Export = true });

        // Half the neurons: SparseGrad keeps the same density of smaller weights.
        var c = fused.Compression!;
        Assert.Equal(c.Report.HiddenBefore, 2 * c.Report.HiddenAfter);
        Assert.True(c.ParametersAfter < c.ParametersBefore);
        Assert.Equal(c.ParametersBefore - c.ParametersAfter, c.MlpParametersBefore - c.MlpParametersAfter);
        Assert.True(fused.Footprint.MlpOptimizerStateBytes > 0);
        Assert.True(fused.Footprint.MlpOptimizerStateBytes < 0.7 * plain.Footprint.MlpOptimizerStateBytes,
            $"fused {fused.Footprint.MlpOptimizerStateBytes} vs plain {plain.Footprint.MlpOptimizerStateBytes} bytes");
        var metrics = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(fusedDir, FineTuneRun.MetricsFile)))!;
        Assert.Equal("standalone", (string?)metrics["fusion_scale"]);
        Assert.Equal(c.Report.HiddenAfter, (long)metrics["compression"]!["hidden_after"]!);
        Assert.Equal(c.ParametersAfter, (long)metrics["compression"]!["parameters_after"]!);
        Assert.Equal(fused.Footprint.MlpOptimizerStateBytes, (long)metrics["mlp_optimizer_state_bytes"]!);

        // It trains: the loss of the last steps is well below that of the first.
        var losses = TrainLosses(fusedDir);
        output.WriteLine("fused losses: " + string.Join(" ", losses.Select(l => l.ToString("F3"))));
        Assert.Equal(40, losses.Length);
        Assert.True(losses.TakeLast(5).Average() < 0.6 * losses.Take(5).Average(), string.Join(" ", losses.Select(l => l.ToString("F3"))));

        // Before any real update (lr 1e-12), the export is exactly the checkpoint `mlpkit compress` writes with the same
        // seed: the in-process compression is the command's, and the cluster sizes were folded back into Down (left
        // unfolded, Down would be off by a factor n).
        var compressed = Path.Combine(root, "compressed");
        var r = CliHarness.Run("--seed", Seed.ToString(), "compress", "--model", model, "--method", "fusion", "--ratio", "0.5", "--restarts", "1",
            "--ntk-samples", "0", "--out", compressed);
        Assert.True(r.ExitCode == 0, r.ToString());
        var stillDir = Path.Combine(root, "still");
        FineTuneRun.Run(Spec(model, data, "fusion+sparsegrad", fusedOptions, stillDir, steps: 1, lr: 1e-12) with { Export = true });
        var counts = FusionCounts.Load(compressed);
        using var reference = ModelZoo.Load(compressed);
        using var still = ModelZoo.Load(Path.Combine(stillDir, "model"));
        using var trained = ModelZoo.Load(Path.Combine(fusedDir, "model"));
        Assert.Equal(counts.Keys.Order(), FusionCounts.Load(Path.Combine(stillDir, "model")).Keys.Order());
        foreach (var (f, (s0, t)) in reference.FeedForwards.Zip(still.FeedForwards.Zip(trained.FeedForwards)))
        {
            Assert.True(counts[f.Name].max().item<float>() > 1 || f.HiddenDim == 1, "some neurons should share a cluster");
            Assert.True(allclose(FusionCounts.Load(Path.Combine(fusedDir, "model"))[f.Name], counts[f.Name]));
            var (wf, ws, wt) = (f.GetWeights(), s0.GetWeights(), t.GetWeights());
            Assert.True(allclose(ws.Down, wf.Down, rtol: 1e-5, atol: 1e-7), $"{f.Name}: Down differs from the compress checkpoint");
            Assert.True(allclose(ws.Up, wf.Up, rtol: 1e-5, atol: 1e-7), $"{f.Name}: Up differs from the compress checkpoint");
            Assert.Equal(wf.Down.shape, wt.Down.shape);
            Assert.True((wt.Down - wf.Down).abs().max().item<float>() > 1e-4, $"{f.Name}: training should move Down");
        }
        var (sb, sa) = (reference.Module.state_dict(), trained.Module.state_dict());
        foreach (var key in sb.Keys.Where(k => k.Contains("attention")))
            Assert.True(sb[key].eq(sa[key]).all().item<bool>(), $"{key} should stay frozen");

        // A checkpoint that is already fused is not fused twice.
        var e = Assert.Throws<MlpKitException>(() => FineTuneRun.Run(Spec(compressed, data, "fusion+sparsegrad", new(), Path.Combine(root, "twice"))));
        Assert.Contains("already fused", e.Message);
    }

    [Fact]
    public void AnInterruptedFusedRunResumesToTheSameResultAsAnUninterruptedOne()
    {
        using var scope = NewDisposeScope();
        var model = FinetuneCommandTests.TinyBertWithData(out var train, out var dev, seed: 6, trainRows: 24, devRows: 8);
        var data = TaskFileReader.LoadTask(train, dev, dev, new TaskFileColumns());
        var root = TestPaths.TempDir();
        var options = new Dictionary<string, string> { ["density"] = "0.05", ["calibration-steps"] = "2", ["fusion-restarts"] = "1" };
        var whole = FineTuneRun.Run(Spec(model, data, "fusion+sparsegrad", options, Path.Combine(root, "whole"), steps: 6));

        // Stopped before its first step (after compression and calibration): the checkpoint holds the fused model, and the
        // resumed run must rebuild the same blocks before loading it.
        var cut = Path.Combine(root, "cut");
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        var spec = Spec(model, data, "fusion+sparsegrad", options, cut, steps: 6);
        var stop = Assert.Throws<FineTuneInterruptedException>(() => FineTuneRun.Run(spec, cancelled.Token));
        Assert.Equal((0, 6), (stop.Step, stop.TotalSteps));
        var resumed = FineTuneRun.Run(spec with { Trainer = spec.Trainer with { Resume = true } });
        Assert.Equal(6, resumed.Train.Steps);
        Assert.Equal(whole.Dev.Loss!.Value, resumed.Dev.Loss!.Value, 6);
        Assert.Equal(whole.Footprint, resumed.Footprint);
    }
}

[Collection(MlpKit.Tests.Training.TorchRngCollection.Name)]
public class RegressionRunTests
{
    [Fact]
    public void RegressionThroughTheExperimentReachesPositivePearsonAndReportsPearsonSpearman()
    {
        using var scope = NewDisposeScope();
        var model = FinetuneCommandTests.TinyBertWithData(out var classTrain, out _);
        var root = Path.GetDirectoryName(classTrain)!;
        var rng = new Random(11);
        var train = RegressionFinetuneTests.WriteRows(Path.Combine(root, "reg-train.tsv"), 96, rng);
        var dev = RegressionFinetuneTests.WriteRows(Path.Combine(root, "reg-dev.tsv"), 24, rng);
        var test = RegressionFinetuneTests.WriteRows(Path.Combine(root, "reg-test.tsv"), 40, rng);
        var task = TaskFileReader.LoadRegressionTask(train, dev, test, new TaskFileColumns());
        var outDir = Path.Combine(root, "exp");
        var (budget, runs) = SparseGradExperiment.Run(new SparseGradExperimentOptions
        {
            Model = model, Tasks = [task], Methods = ["sparsegrad"], Seeds = 1, BaseSeed = 5, Density = 0.05, Steps = 40,
            BatchSize = 16, LearningRate = 1e-2, CalibrationSteps = 2, OutDir = outDir,
        });
        var run = Assert.Single(runs);
        Assert.Equal(("pearson", "spearman"), (run.Metric, run.SecondMetric));
        var metrics = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, "runs", task.Name, "sparsegrad", "seed5", FineTuneRun.MetricsFile)))!;
        Assert.Equal("regression", (string?)metrics["task_type"]);
        foreach (var split in new[] { "dev", "test" })
            foreach (var key in new[] { "pearson", "spearman", "mse" })
                Assert.NotNull(metrics[split]![key]);
        Assert.Equal(run.TestScore, (double)metrics["test"]!["pearson"]!, 12);
        // A random encoder can correlate by chance, so the bar is well above what an untrained one reached (≤ 0.73).
        Assert.True(run.TestScore > 0.8, $"test Pearson {run.TestScore}");
        Assert.True(run.LastTrainLoss < run.FirstTrainLoss!.Value, $"loss {run.FirstTrainLoss} -> {run.LastTrainLoss}");

        MethodComparisonReport.Write(outDir, budget, runs, "test");
        Assert.Contains("test Pearson | test Spearman", File.ReadAllText(Path.Combine(outDir, MethodComparisonReport.MarkdownFile)));
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, MethodComparisonReport.JsonFile)))!;
        Assert.Equal(run.TestScore, (double)json["summary"]![0]!["test_pearson_mean"]!, 12);
    }

    [Fact]
    public void BuiltInRegressionTaskRefusesAnotherTaskType()
    {
        var r = CliHarness.Run("finetune", "--model", "use-lite", "--task", "sotu-year", "--task-type", "classification", "--out", Path.Combine(TestPaths.TempDir(), "run"));
        CliHarness.AssertUserError(r, "sotu-year", "regression");
    }
}
