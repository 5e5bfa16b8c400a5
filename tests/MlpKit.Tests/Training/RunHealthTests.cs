using MlpKit.Checkpoints;
using MlpKit.Experiments;
using MlpKit.FineTuning;
using MlpKit.Runtime;
using MlpKit.Tests.FineTuning;
using MlpKit.Tests.Support;
using MlpKit.Training;
using static TorchSharp.torch;
using Xunit;

namespace MlpKit.Tests.Training;

/// <summary>A task whose loss turns NaN from the given call on, as an overflow or a poisoned batch would.</summary>
sealed class PoisonedTask(ITrainingTask inner, int poisonFromCall) : ITrainingTask
{
    int _calls;
    public int TrainCount => inner.TrainCount;
    public Tensor Loss(IReadOnlyList<int> indices)
    {
        var loss = inner.Loss(indices);
        return ++_calls >= poisonFromCall ? loss * double.NaN : loss;
    }
    public EvalResult Evaluate() => inner.Evaluate();
}

/// <summary>Numerical faults, a loss that does not fall, and the per-method defaults.</summary>
[Collection(TorchRngCollection.Name)]
public class RunHealthTests
{
    static readonly SyntheticData Train = new(96, seed: 4);
    static readonly SyntheticData Dev = new(32, seed: 5);

    static TinyMlpClassifier Model()
    {
        TorchRuntime.EnsureInitialized();
        manual_seed(123);
        return new TinyMlpClassifier(Train.Vocab, 8, 24, 2, Train.Classes, dropout: 0);
    }

    [Fact]
    public void ANanLossStopsBeforeTheUpdateNamingTheStepTheTensorAndTheKeptCheckpoint()
    {
        using var scope = NewDisposeScope();
        var model = Model();
        var dir = TestPaths.TempDir();
        var options = new TrainerOptions
        {
            OutDir = dir, MaxSteps = 10, BatchSize = 8, LearningRate = 1e-3, CheckpointEvery = 3, Seed = 1, Progress = false, WritePlot = false,
        };
        var trainer = new Trainer(model, FineTuneMethods.Create("full"), new PoisonedTask(new SyntheticTask(model, Train, Dev), poisonFromCall: 5), options);
        var e = Assert.Throws<MlpKitException>(() => trainer.Run());
        Assert.Contains("step 5: the training loss is NaN", e.Message);
        Assert.Contains("is not finite", e.Message);                  // the first trainable tensor at fault is named
        Assert.Contains("(step 3) is kept for --resume", e.Message);
        // The weights were not updated with the NaN gradient, and the checkpoint holds step 3.
        Assert.All(model.parameters(), p => Assert.True(isfinite(p).all().item<bool>()));
        Assert.Equal(3, TrainerCheckpoint.ReadState(TrainerCheckpoint.ResolveForResume(Path.Combine(dir, "checkpoint"))).Step);
    }

    [Fact]
    public void TheLossWatchWarnsOnceAtAQuarterWhenTheLossHasNotFallen()
    {
        var flat = new LossWatch(0, 40);
        var warnings = Enumerable.Range(1, 40).Select(s => flat.Add(s, 1.0 + 0.01 * (s % 2))).Where(w => w is not null).ToList();
        Assert.Single(warnings);
        Assert.Contains("has not fallen in the first 10 of 40 steps", warnings[0]);

        var falling = new LossWatch(0, 40);
        Assert.All(Enumerable.Range(1, 40).Select(s => falling.Add(s, 2.0 / s)), w => Assert.Null(w));
        // Too short to judge, or resumed past the quarter: no verdict.
        Assert.All(Enumerable.Range(1, 10).Select(s => new LossWatch(0, 10).Add(s, 1.0)), w => Assert.Null(w));
        var resumed = new LossWatch(20, 40);
        Assert.All(Enumerable.Range(21, 20).Select(s => resumed.Add(s, 1.0)), w => Assert.Null(w));
    }

    [Fact]
    public void TrainRestTrainsEverythingButTheMlpLinearsBesideTheMethod()
    {
        using var scope = NewDisposeScope();
        foreach (var (method, options) in new[] { ("lora", new Dictionary<string, string>()), ("meprop", new()), ("full", new()) })
        {
            var strictModel = Model();
            using var strict = FineTuneMethods.Create(method, options).Inject(strictModel, new FineTuneContext());
            var restModel = Model();
            var rest = FineTuneMethods.Create(method, new Dictionary<string, string>(options) { ["train-rest"] = "true" });
            Assert.True(rest.TrainsRest);
            using var adapter = rest.Inject(restModel, new FineTuneContext());
            var mlp = MlpLinears.ParameterNames(restModel);
            foreach (var (name, p) in restModel.named_parameters())
            {
                if (!mlp.Contains(name)) Assert.True(p.requires_grad, $"{method} train-rest: {name} should train");
                else Assert.Equal(strictModel.named_parameters().Single(q => q.name == name).parameter.requires_grad, p.requires_grad);
            }
            if (method != "full")
                Assert.Contains(strictModel.named_parameters(), q => !mlp.Contains(q.name) && !q.parameter.requires_grad);
        }
    }

    [Fact]
    public void EachMethodHasItsOwnDefaultLearningRateAndTrainRestTakesFullFineTunings()
    {
        Assert.Equal(3.2e-2, FineTuneMethods.DefaultLearningRate(FineTuneMethods.Create("sparsegrad")));
        Assert.Equal(FineTuneMethods.Get("full").LearningRate,
            FineTuneMethods.DefaultLearningRate(FineTuneMethods.Create("sparsegrad", new Dictionary<string, string> { ["train-rest"] = "true" })));
        Assert.All(FineTuneMethods.All, m => Assert.InRange(m.LearningRate, 1e-6, 1e-1));
    }

    [Fact]
    public void FinetuneTakesTheMethodsDefaultLearningRateAndTrainRestAsASwitch()
    {
        var model = FinetuneCommandTests.TinyBertWithData(out var train, out var dev);
        foreach (var (extra, lr, rest) in new[] { (Array.Empty<string>(), 8e-3, false), (["--train-rest"], 4e-4, true), (["--train-rest", "false", "--lr", "3e-3"], 3e-3, false) })
        {
            var run = Path.Combine(TestPaths.TempDir(), "run");
            var r = CliHarness.Run(["finetune", "--model", model, "--train", train, "--dev", dev, "--method", "lora", "--max-steps", "2", "--no-progress", "--out", run, .. extra]);
            Assert.True(r.ExitCode == 0, r.ToString());
            var m = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")))!;
            Assert.Equal(lr, (double)m["learning_rate"]!);
            Assert.Equal(rest, (string?)m["method_options"]!["train-rest"] == "true");
        }
    }

    [Fact]
    public void TheDefaultsTablePassesADefaultWithin95PercentOfTheBestAndFailsOneBelow()
    {
        DefaultsRun Run(string method, double factor, double test, long seed) =>
            new("spam", method, false, factor, 1e-3 * factor, seed, "accuracy", test, test, 0.7, 0.3, 1);
        var rows = DefaultsExperiment.Summarise([
            Run("lora", 0.25, 0.80, 1), Run("lora", 1, 0.90, 1), Run("lora", 4, 0.93, 1),
            Run("lora", 0.25, 0.82, 2), Run("lora", 1, 0.92, 2), Run("lora", 4, 0.95, 2),
            Run("full", 0.25, 0.50, 1), Run("full", 1, 0.70, 1), Run("full", 4, 0.90, 1),
        ]);
        var lora = rows.Single(r => r.Method == "lora");
        Assert.Equal(0.91 / 0.94, lora.DefaultShare, 9);
        Assert.True(lora.Passes);
        Assert.Equal(4, lora.BestFactor);
        var full = rows.Single(r => r.Method == "full");
        Assert.False(full.Passes);
        Assert.Contains("**no**", DefaultsExperiment.Markdown(rows, "test"));
    }

    [Fact]
    public void AnAtomicWriteRemovesTheTemporaryOfAKilledWriterButNotOfALiveOne()
    {
        var dir = TestPaths.TempDir();
        var dead = Path.Combine(dir, ".x.json.2147483000-0123abcd.tmp");     // no such process
        var live = Path.Combine(dir, $".x.json.{Environment.ProcessId}-4567ef01.tmp");
        var other = Path.Combine(dir, ".x.json.index.json.2147483000-89ab.tmp");   // another file's
        foreach (var f in new[] { dead, live, other }) File.WriteAllText(f, "half");
        AtomicFile.WriteAllText(Path.Combine(dir, "x.json"), "{}");
        Assert.False(File.Exists(dead));
        Assert.True(File.Exists(live));
        Assert.True(File.Exists(other));
        Assert.Equal("{}", File.ReadAllText(Path.Combine(dir, "x.json")));
    }
}
