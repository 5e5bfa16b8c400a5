using System.Text.Json.Nodes;
using MlpKit.Checkpoints;
using MlpKit.Models;
using MlpKit.Tests.Support;
using static TorchSharp.torch;
using Xunit;

namespace MlpKit.Tests.FineTuning;

[Collection(MlpKit.Tests.Training.TorchRngCollection.Name)]
public class FinetuneCommandTests
{
    internal static string TinyBertWithData(out string train, out string dev, int seed = 1, int trainRows = 32, int devRows = 10)
    {
        var root = TestPaths.TempDir();
        var model = Path.Combine(root, "tiny");
        var init = CliHarness.Run("init", "--arch", "bert", "--preset", "tiny", "--tokenizer", "none", "--vocab-size", "40", "--out", model);
        Assert.True(init.ExitCode == 0, init.ToString());
        File.WriteAllLines(Path.Combine(model, "vocab.txt"),
            ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "film", "plot", "great", "awful", "the", "was", "fun", "boring"]);
        var rng = new Random(seed);
        string Rows(int n) => "text\tlabel\n" + string.Concat(Enumerable.Range(0, n).Select(_ =>
        {
            var y = rng.Next(2);
            var w = y == 1 ? new[] { "good", "great", "fun" }[rng.Next(3)] : new[] { "bad", "awful", "boring" }[rng.Next(3)];
            return $"the film was {w}\t{(y == 1 ? "pos" : "neg")}\n";
        }));
        train = Path.Combine(root, "train.tsv");
        dev = Path.Combine(root, "dev.tsv");
        File.WriteAllText(train, Rows(trainRows));
        File.WriteAllText(dev, Rows(devRows));
        return model;
    }

    [Fact]
    public void SparseGradRunWritesMetricsAndAMergedModel()
    {
        using var scope = NewDisposeScope();
        var model = TinyBertWithData(out var train, out var dev);
        var run = Path.Combine(TestPaths.TempDir(), "run");
        var r = CliHarness.Run("finetune", "--model", model, "--train", train, "--dev", dev, "--test", dev, "--method", "sparsegrad",
            "--density", "0.05", "--method-option", "calibration-steps=2", "--max-steps", "4", "--batch-size", "8", "--no-progress", "--out", run);
        Assert.True(r.ExitCode == 0, r.ToString());

        var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")))!.AsObject();
        Assert.Equal("sparsegrad", (string?)metrics["method"]);
        Assert.InRange((double)metrics["dev"]!["accuracy"]!, 0, 1);
        Assert.InRange((double)metrics["test"]!["macro_f1"]!, 0, 1);
        Assert.Equal(4, (long)metrics["steps"]!);
        Assert.True((long)metrics["trainable_parameters"]! > 0);
        Assert.True((long)metrics["optimizer_state_bytes"]! > 0);
        Assert.True((long)metrics["peak_rss_bytes"]! > 0);
        Assert.True(File.Exists(Path.Combine(run, "metrics.jsonl")));
        Assert.True(File.Exists(Path.Combine(run, "curves.png")));
        Assert.True(File.Exists(Path.Combine(run, "model", "vocab.txt")));
        Assert.Equal(2, SafeTensors.Load(Path.Combine(run, "head.safetensors")).Count);

        // The merged model is a plain checkpoint whose MLP weights moved and whose attention did not.
        using var before = ModelZoo.Load(model);
        using var after = ModelZoo.Load(Path.Combine(run, "model"));
        var moved = before.FeedForwards.Zip(after.FeedForwards).Max(p => (p.First.GetWeights().Up - p.Second.GetWeights().Up).abs().max().item<float>());
        Assert.True(moved > 0, "MLP weights should change");
        var a = before.Module.state_dict(); var b = after.Module.state_dict();
        foreach (var key in a.Keys.Where(k => k.Contains("attn") || k.Contains("attention") || k.Contains("word")))
            Assert.True(a[key].eq(b[key]).all().item<bool>(), $"{key} should stay frozen");
    }

    [Fact]
    public void BadArgumentsGiveOneLineErrors()
    {
        var model = TinyBertWithData(out var train, out var dev);
        var run = Path.Combine(TestPaths.TempDir(), "run");
        CliHarness.AssertUserError(CliHarness.Run("finetune", "--model", model, "--task", "nosuchtask", "--out", run), "nosuchtask");
        CliHarness.AssertUserError(CliHarness.Run("finetune", "--model", model, "--train", train, "--dev", dev, "--method", "adapterz", "--out", run), "adapterz");
        CliHarness.AssertUserError(CliHarness.Run("finetune", "--model", model, "--train", train, "--dev", dev, "--method", "lora",
            "--method-option", "rnak=4", "--out", run), "rnak");
        // A flag of another method is refused by the chosen method's declaration, before any data loads.
        CliHarness.AssertUserError(CliHarness.Run("finetune", "--model", model, "--task", "nosuchtask", "--method", "sparsegrad", "--rank", "4", "--out", run), "--rank", "sparsegrad");
        CliHarness.AssertUserError(CliHarness.Run("finetune", "--model", model, "--task", "nosuchtask", "--method", "lora", "--rank", "0", "--out", run), "rank", "[1, 65536]");
        File.AppendAllText(dev, "the plot was fun\tneutral\n");
        CliHarness.AssertUserError(CliHarness.Run("finetune", "--model", model, "--train", train, "--dev", dev, "--out", run), "dev.tsv", "neutral");
    }
}

/// <summary>Each method's options are declared once: the declaration parses, checks and lists them, and the CLI's flags come from it.</summary>
public class MethodOptionDeclarationTests
{
    [Fact]
    public void EveryDeclaredOptionParsesItsDefaultAndIsAFinetuneFlag()
    {
        var help = CliHarness.Run("finetune", "--help").Stdout;
        foreach (var method in MlpKit.FineTuning.FineTuneMethods.All)
        {
            Assert.Contains(method.Options, o => o.Name == "train-also");
            foreach (var o in method.Options)
            {
                Assert.Contains("--" + o.Name + " ", help);
                // The default shown in --help is a value the method accepts.
                method.Create(new Dictionary<string, string> { [o.Name] = o.Default });
            }
            var ex = Assert.Throws<MlpKitException>(() => method.Create(new Dictionary<string, string> { ["no-such-option"] = "1" }));
            Assert.Contains("no-such-option", ex.Message);
        }
    }

    [Fact]
    public void ParsedValuesLandInTheConfig()
    {
        var lora = MlpKit.FineTuning.Lora.LoraConfig.From(new Dictionary<string, string> { ["rank"] = "4", ["alpha"] = "8" });
        Assert.Equal(4, lora.Rank);
        Assert.Equal(2.0, lora.Scaling);
        var fused = MlpKit.FineTuning.FusionSparseGrad.FusionSparseGradConfig.From(new Dictionary<string, string> { ["fusion-hidden"] = "12", ["density"] = "0.05" });
        Assert.Equal(12, fused.Hidden);
        Assert.Equal(0.05, fused.SparseGrad.Density);
        Assert.Null(MlpKit.FineTuning.FusionSparseGrad.FusionSparseGradConfig.From(null).Hidden);
    }
}
