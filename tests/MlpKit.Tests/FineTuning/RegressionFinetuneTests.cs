using System.Text.Json.Nodes;
using MlpKit.Data;
using MlpKit.Tests.Support;
using MlpKit.Training;
using static TorchSharp.torch;
using Xunit;

namespace MlpKit.Tests.FineTuning;

[Collection(MlpKit.Tests.Training.TorchRngCollection.Name)]
public class RegressionFinetuneTests
{
    static readonly string[] Positive = ["good", "great", "fun"];
    static readonly string[] Negative = ["bad", "awful", "boring"];

    /// <summary>Three sentiment words per row; the target is how many of them are positive (0 to 3).</summary>
    internal static string WriteRows(string path, int n, Random rng)
    {
        var lines = new List<string> { "text\tlabel" };
        for (var i = 0; i < n; i++)
        {
            var positives = 0;
            var words = Enumerable.Range(0, 3).Select(_ =>
            {
                var pos = rng.Next(2) == 1;
                if (pos) positives++;
                return pos ? Positive[rng.Next(3)] : Negative[rng.Next(3)];
            });
            lines.Add($"the film was {string.Join(' ', words)}\t{positives}");
        }
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void RegressionRunLearnsTheTargetAndWritesPearsonSpearmanMse()
    {
        using var scope = NewDisposeScope();
        var model = FinetuneCommandTests.TinyBertWithData(out var classTrain, out _);
        var root = Path.GetDirectoryName(classTrain)!;
        var rng = new Random(7);
        var train = WriteRows(Path.Combine(root, "reg-train.tsv"), 96, rng);
        var dev = WriteRows(Path.Combine(root, "reg-dev.tsv"), 24, rng);
        var test = WriteRows(Path.Combine(root, "reg-test.tsv"), 40, rng);
        var run = Path.Combine(TestPaths.TempDir(), "run");
        var r = CliHarness.Run("finetune", "--model", model, "--train", train, "--dev", dev, "--test", test, "--task-type", "regression",
            "--method", "full", "--lr", "1e-3", "--max-steps", "40", "--batch-size", "16", "--no-progress", "--out", run);
        Assert.True(r.ExitCode == 0, r.ToString());

        var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")))!.AsObject();
        Assert.Equal("regression", (string?)metrics["task_type"]);
        Assert.Equal(96, (long)metrics["train_examples"]!);
        foreach (var split in new[] { "dev", "test" })
        {
            var s = metrics[split]!.AsObject();
            Assert.InRange((double)s["pearson"]!, -1, 1);
            Assert.InRange((double)s["spearman"]!, -1, 1);
            Assert.True((double)s["mse"]! >= 0);
            Assert.Equal((double)s["mse"]!, (double)s["loss"]!, 10);
        }
        // An untouched random encoder can correlate by chance (measured -0.36 to 0.73 over seeds), so the bar is
        // high, and the error must fall far below the same model's before training (the targets' variance is 0.75).
        var testPearson = (double)metrics["test"]!["pearson"]!;
        var testMse = (double)metrics["test"]!["mse"]!;
        Assert.True(testPearson > 0.9, $"test Pearson {testPearson} after 40 steps");
        Assert.True(testMse < 0.25, $"test MSE {testMse} after 40 steps");
        var untrainedRun = Path.Combine(TestPaths.TempDir(), "untrained");
        var u = CliHarness.Run("finetune", "--model", model, "--train", train, "--dev", dev, "--test", test, "--task-type", "regression",
            "--method", "full", "--lr", "1e-12", "--max-steps", "1", "--batch-size", "16", "--no-progress", "--out", untrainedRun);
        Assert.True(u.ExitCode == 0, u.ToString());
        var untrainedMse = (double)JsonNode.Parse(File.ReadAllText(Path.Combine(untrainedRun, "metrics.json")))!["test"]!["mse"]!;
        Assert.True(testMse < untrainedMse / 10, $"test MSE {testMse} vs {untrainedMse} untrained");
        Assert.True(File.Exists(Path.Combine(run, "model", "vocab.txt")));
        var head = MlpKit.Checkpoints.SafeTensors.Load(Path.Combine(run, "head.safetensors"));
        Assert.Equal(1L, head["weight"].shape[0]);   // one output: the predicted value
        Assert.Equal(1L, head["bias"].shape[0]);
    }

    [AssetFact("use-lite")]
    public void UseLiteRegressionWithSparseGradLearnsTheTarget()
    {
        using var scope = NewDisposeScope();
        var root = TestPaths.TempDir();
        var rng = new Random(7);
        var train = WriteRows(Path.Combine(root, "train.tsv"), 96, rng);
        var dev = WriteRows(Path.Combine(root, "dev.tsv"), 24, rng);
        var test = WriteRows(Path.Combine(root, "test.tsv"), 40, rng);
        var run = Path.Combine(root, "run");
        var r = CliHarness.Run("finetune", "--model", "use-lite", "--train", train, "--dev", dev, "--test", test, "--task-type", "regression",
            "--method", "sparsegrad", "--method-option", "calibration-steps=2", "--lr", "1e-2", "--max-steps", "60", "--batch-size", "16",
            "--no-progress", "--out", run);
        Assert.True(r.ExitCode == 0, r.ToString());
        var t = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")))!["test"]!;
        Assert.True((double)t["pearson"]! > 0.9, $"test Pearson {(double)t["pearson"]!}");
        Assert.True((double)t["mse"]! < 0.25, $"test MSE {(double)t["mse"]!}");
        Assert.True(File.Exists(Path.Combine(run, "model", "model.safetensors")));
    }

    [Fact]
    public void NonNumericRegressionLabelNamesFileAndLine()
    {
        var root = TestPaths.TempDir();
        var train = Path.Combine(root, "train.tsv");
        var dev = Path.Combine(root, "dev.tsv");
        File.WriteAllLines(train, ["text\tlabel", "good film\t2.5", "bad film\tlow", "fun\t1"]);
        File.WriteAllLines(dev, ["text\tlabel", "great\t3"]);
        var e = Assert.Throws<MlpKitException>(() => TaskFileReader.LoadRegressionTask(train, dev));
        Assert.Contains("train.tsv", e.Message);
        Assert.Contains("line 3", e.Message);
        Assert.Contains("'low'", e.Message);

        File.WriteAllLines(train, ["text\tlabel", "good film\t2.5", "bad film\t-1e0", "fun\t1"]);
        var task = TaskFileReader.LoadRegressionTask(train, dev);
        Assert.Equal([2.5, -1.0, 1.0], task.Train.Select(x => x.Target));
        Assert.Equal(3.0, task.Dev[0].Target);

        var model = FinetuneCommandTests.TinyBertWithData(out _, out _);
        File.AppendAllText(dev, "awful\tn/a\n");
        CliHarness.AssertUserError(CliHarness.Run("finetune", "--model", model, "--train", train, "--dev", dev, "--task-type", "regression",
            "--out", Path.Combine(root, "run")), "dev.tsv", "line 3", "n/a");
    }
}
