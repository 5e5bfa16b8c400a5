using System.Text.Json.Nodes;
using MlpKit.FineTuning;
using MlpKit.Experiments;
using MlpKit.Reporting;
using MlpKit.Tests.Support;
using Xunit;

namespace MlpKit.Tests.FineTuning;

public class MemoryBudgetTests
{
    [Fact]
    public void BertBaseShapesGiveTheHandComputedRank()
    {
        // 12 layers of up 3072x768 and down 768x3072 at density 1%: ceil(0.01 * 3072 * 768) = ceil(23592.96) = 23593
        // entries per weight, 24 * 23593 = 566232; one LoRA rank costs 3072 + 768 = 3840 per weight, 24 * 3840 = 92160;
        // 566232 / 92160 = 6.144 -> rank 6.
        var shapes = Enumerable.Range(0, 12).SelectMany(_ => new (long, long)[] { (3072, 768), (768, 3072) });
        var b = MemoryBudget.Match(shapes, 0.01);
        Assert.Equal(566_232, b.SparseGradEntries);
        Assert.Equal(92_160, b.LoraPerRank);
        Assert.Equal(6, b.LoraRank);
        Assert.Equal(552_960, b.LoraEntries);
        Assert.Equal(0.01, b.MePropKeep);
        Assert.Equal("6", b.OptionsFor("lora")["rank"]);
        Assert.Equal("0.01", b.OptionsFor("meprop")["keep"]);
        Assert.Equal("0.01", b.OptionsFor("sparsegrad")["density"]);
        Assert.Empty(b.OptionsFor("full"));
    }

    [Fact]
    public void RankRoundsHalfUpAndNeverDropsBelowOne()
    {
        // 10x10 at density 0.5: 50 entries, 20 per rank -> 2.5 -> 3.
        Assert.Equal(3, MemoryBudget.Match([(10, 10)], 0.5).LoraRank);
        // 100x50 at 1%: 50 entries, 150 per rank -> 0.33 -> still one rank.
        var tiny = MemoryBudget.Match([(100, 50)], 0.01);
        Assert.Equal(50, tiny.SparseGradEntries);
        Assert.Equal(1, tiny.LoraRank);
    }

    [Fact]
    public void DensityOutsideTheUnitIntervalIsAUserError()
    {
        var e = Assert.Throws<MlpKitException>(() => MemoryBudget.Match([(4, 4)], 0));
        Assert.Contains("--density", e.Message);
        Assert.Throws<MlpKitException>(() => MemoryBudget.Match([(4, 4)], 1.5));
    }

    [Fact]
    public void SummaryUsesTheSampleStandardDeviation()
    {
        var (mean, std) = MethodComparisonReport.MeanStd([0.5, 0.7, 0.9]);
        Assert.Equal(0.7, mean, 12);
        Assert.Equal(0.2, std, 12);
        Assert.Equal(0, MethodComparisonReport.MeanStd([0.4]).Std);
    }
}

[Collection(MlpKit.Tests.Training.TorchRngCollection.Name)]
public class ExperimentCommandTests
{
    static string TinyBertWithData(out string train, out string dev) =>
        FinetuneCommandTests.TinyBertWithData(out train, out dev, seed: 3, trainRows: 24, devRows: 8);

    [Fact]
    public void TwoMethodsOneSeedWriteTheTableJsonAndPlot()
    {
        var model = TinyBertWithData(out var train, out var dev);
        var outDir = Path.Combine(TestPaths.TempDir(), "exp");
        var r = CliHarness.Run("experiment", "sparsegrad", "--model", model, "--train", train, "--dev", dev,
            "--methods", "lora,sparsegrad", "--seeds", "1", "--steps", "3", "--batch-size", "8", "--calibration-steps", "2",
            "--density", "0.05", "--out", outDir);
        Assert.True(r.ExitCode == 0, r.ToString());

        var md = File.ReadAllText(Path.Combine(outDir, MethodComparisonReport.MarkdownFile));
        Assert.Contains("| lora |", md);
        Assert.Contains("| sparsegrad |", md);
        var png = File.ReadAllBytes(Path.Combine(outDir, MethodComparisonReport.PlotFile));
        Assert.True(png.Length > 1000 && png[1] == (byte)'P' && png[2] == (byte)'N' && png[3] == (byte)'G');

        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, MethodComparisonReport.JsonFile)))!.AsObject();
        var summary = json["summary"]!.AsArray();
        Assert.Equal(["lora", "sparsegrad"], summary.Select(s => (string)s!["method"]!).ToArray());
        var rank = (int)json["budget"]!["lora_rank"]!;
        Assert.Equal(rank.ToString(), (string?)summary[0]!["options"]!["rank"]);
        foreach (var s in summary)
        {
            Assert.Equal(1, (int)s!["runs"]!);
            Assert.InRange((double)s["test_accuracy_mean"]!, 0, 1);
            Assert.InRange((double)s["test_macro_f1_mean"]!, 0, 1);
            Assert.True((long)s["trainable_parameters"]! > 0);
            Assert.True((long)s["optimizer_state_bytes"]! > 0);
        }
        Assert.Equal(2, json["runs"]!.AsArray().Count);
        Assert.All(json["runs"]!.AsArray(), run => Assert.Equal(3, (long)run!["steps"]!));
        // Only the logs of each run are kept.
        Assert.Equal(2, Directory.GetFiles(Path.Combine(outDir, "runs"), "metrics.jsonl", SearchOption.AllDirectories).Length);
        Assert.Empty(Directory.GetDirectories(Path.Combine(outDir, "runs"), "checkpoint", SearchOption.AllDirectories));
    }

    [Fact]
    public void UnknownTaskOrMethodIsAUserError()
    {
        var outDir = Path.Combine(TestPaths.TempDir(), "exp");
        CliHarness.AssertUserError(CliHarness.Run("experiment", "sparsegrad", "--tasks", "nosuchtask", "--out", outDir), "nosuchtask");
        var model = TinyBertWithData(out var train, out var dev);
        CliHarness.AssertUserError(CliHarness.Run("experiment", "sparsegrad", "--model", model, "--train", train, "--dev", dev,
            "--methods", "lora,adapterz", "--out", outDir), "adapterz");
    }
}

[Collection(MlpKit.Tests.Training.TorchRngCollection.Name)]
public class FineTuneRunTests
{
    [Theory]
    [InlineData(false, "lora")]
    [InlineData(true, "full")]   // a fused checkpoint: both must train centroids with frozen cluster sizes
    public void InProcessRunMatchesTheFinetuneCommand(bool fused, string method)
    {
        var root = TestPaths.TempDir();
        var model = Path.Combine(root, "tiny");
        var init = CliHarness.Run("init", "--arch", "bert", "--preset", "tiny", "--tokenizer", "none", "--vocab-size", "40", "--out", model);
        Assert.True(init.ExitCode == 0, init.ToString());
        File.WriteAllLines(Path.Combine(model, "vocab.txt"), ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "film", "the", "was"]);
        var train = Path.Combine(root, "train.tsv");
        File.WriteAllText(train, "text\tlabel\n" + string.Concat(Enumerable.Range(0, 16).Select(i => i % 2 == 0 ? "the film was good\tpos\n" : "the film was bad\tneg\n")));
        if (fused)
        {
            var compressed = Path.Combine(root, "fused");
            var c = CliHarness.Run("compress", "--model", model, "--method", "fusion", "--ratio", "0.5", "--ntk-samples", "0", "--out", compressed);
            Assert.True(c.ExitCode == 0, c.ToString());
            Assert.True(File.Exists(Path.Combine(compressed, MlpKit.Compression.FusionCounts.FileName)));
            model = compressed;
        }
        var options = method == "lora" ? new Dictionary<string, string> { ["rank"] = "2" } : new Dictionary<string, string>();

        var cliRun = Path.Combine(root, "cli");
        string[] methodFlags = method == "lora" ? ["--rank", "2"] : [];
        var r = CliHarness.Run(["--seed", "7", "finetune", "--model", model, "--train", train, "--dev", train, "--test", train, "--method", method,
            .. methodFlags, "--max-steps", "3", "--batch-size", "4", "--lr", "1e-3", "--no-progress", "--out", cliRun]);
        Assert.True(r.ExitCode == 0, r.ToString());
        var cli = JsonNode.Parse(File.ReadAllText(Path.Combine(cliRun, "metrics.json")))!.AsObject();

        var data = MlpKit.Data.TaskFileReader.LoadTask(train, train, train, new MlpKit.Data.TaskFileColumns("text", "text_pair", "label"));
        var result = FineTuneRun.Run(new FineTuneRunSpec(model, data, method, options,
            new MlpKit.Training.TrainerOptions
            {
                OutDir = Path.Combine(root, "lib"), MaxSteps = 3, BatchSize = 4, LearningRate = 1e-3, WarmupRatio = 0.06, Seed = 7, Progress = false,
            }));
        Assert.Equal((double)cli["dev"]!["loss"]!, result.Dev.Loss!.Value, 6);
        Assert.Equal((double)cli["test"]!["accuracy"]!, result.Test.Value, 12);
        Assert.Equal((long)cli["trainable_parameters"]!, result.Footprint.TrainableParameters);
    }
}
