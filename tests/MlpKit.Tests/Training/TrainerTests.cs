using MlpKit.FineTuning;
using MlpKit.Reporting;
using MlpKit.Runtime;
using MlpKit.Tests.FineTuning;
using MlpKit.Tests.Support;
using MlpKit.Training;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace MlpKit.Tests.Training;

[Collection(MlpKit.Tests.Training.TorchRngCollection.Name)]
public class TrainerTests
{
    static readonly SyntheticData Train = new(96, seed: 4);
    static readonly SyntheticData Dev = new(32, seed: 5);

    static TinyMlpClassifier Model(ScalarType dtype = ScalarType.Float32, double dropout = 0.1)
    {
        TorchRuntime.EnsureInitialized();
        manual_seed(123);
        return new TinyMlpClassifier(Train.Vocab, 8, 24, 2, Train.Classes, dropout: dropout, dtype: dtype);
    }

    static Dictionary<string, string>? Options(string method) => method switch
    {
        "lora" => new() { ["rank"] = "2", ["dropout"] = "0.1" },
        "sparsegrad" => new() { ["density"] = "0.1", ["calibration-steps"] = "3" },
        "meprop" => new() { ["keep"] = "0.5" },
        _ => null,
    };

    static TrainerOptions Base(string outDir) => new()
    {
        OutDir = outDir, MaxSteps = 8, BatchSize = 8, GradAccumulation = 2, LearningRate = 5e-3, WarmupSteps = 2,
        ClipNorm = 0.5, EvalEvery = 4, CheckpointEvery = 3, Seed = 9, Progress = false, LogEvery = 1, WritePlot = false,
    };

    [Theory]
    [InlineData("full")]
    [InlineData("lora")]
    [InlineData("meprop")]
    [InlineData("sparsegrad")]
    public void ResumeAfterInterruptGivesTheSameNextStepsAsAnUninterruptedRun(string method)
    {
        using var scope = NewDisposeScope();
        var straight = new List<double>();
        var modelA = Model();
        new Trainer(modelA, FineTuneMethods.Create(method, Options(method)), new SyntheticTask(modelA, Train, Dev), Base(TestPaths.TempDir()) with { OutDir = null })
            { OnStep = s => straight.Add(s.Loss) }.Run();

        var dir = TestPaths.TempDir();
        var interruptedRun = new List<double>();
        using var cts = new CancellationTokenSource();
        var modelB = Model();
        var first = new Trainer(modelB, FineTuneMethods.Create(method, Options(method)), new SyntheticTask(modelB, Train, Dev), Base(dir))
            { OnStep = s => { interruptedRun.Add(s.Loss); if (s.Step == 5) cts.Cancel(); } }.Run(cts.Token);
        Assert.True(first.Interrupted);
        Assert.Equal(5, first.Steps);

        var resumed = new List<double>();
        var modelC = Model();
        var second = new Trainer(modelC, FineTuneMethods.Create(method, Options(method)), new SyntheticTask(modelC, Train, Dev), Base(dir) with { Resume = true, RestoreBest = false })
            { OnStep = s => resumed.Add(s.Loss) }.Run();
        Assert.Equal(8, second.Steps);
        Assert.True(straight.Take(5).SequenceEqual(interruptedRun), "two fresh runs with one seed must agree");
        Assert.True(straight.Skip(5).SequenceEqual(resumed), $"{method}: straight {string.Join(" ", straight)} resumed {string.Join(" ", resumed)}");   // exact, not approximate
        foreach (var ((n, a), (_, c)) in modelA.state_dict().Zip(modelC.state_dict()))
            Assert.True(a.eq(c).all().item<bool>(), $"{method}: {n} differs after resume");
        Assert.True(straight.Distinct().Count() > 4, "losses should change from step to step");
    }

    /// <summary>
    /// With no step interval a run still checkpoints by time, so a crash (here: the token is never cancelled, the run
    /// is simply abandoned after step 5's checkpoint is read) leaves a resumable state; --resume without one is refused.
    /// </summary>
    [Fact]
    public void CheckpointsByTimeWithoutAStepIntervalAndRefusesToResumeNothing()
    {
        using var scope = NewDisposeScope();
        var dir = TestPaths.TempDir();
        var model = Model();
        var seen = new List<long>();
        var opts = Base(dir) with { CheckpointEvery = 0, CheckpointMinutes = 1e-9 };
        new Trainer(model, FineTuneMethods.Create("full"), new SyntheticTask(model, Train, Dev), opts)
        {
            // Each step's time checkpoint is written before the next step starts: read what a crash would leave.
            OnStep = s => { if (s.Step > 1) seen.Add(TrainerCheckpoint.ReadState(TrainerCheckpoint.Resolve(Path.Combine(dir, "checkpoint"))!).Step); },
        }.Run();
        Assert.Equal(Enumerable.Range(1, 7).Select(i => (long)i), seen);

        var fresh = TestPaths.TempDir();
        var m2 = Model();
        var e = Assert.Throws<MlpKitException>(() =>
            new Trainer(m2, FineTuneMethods.Create("full"), new SyntheticTask(m2, Train, Dev), Base(fresh) with { Resume = true }).Run());
        Assert.Contains("nothing to resume", e.Message);
    }

    [Fact]
    public void GradientAccumulationEqualsOneLargerBatch()
    {
        using var scope = NewDisposeScope();
        var opts = new TrainerOptions { MaxSteps = 2, LearningRate = 1e-2, ClipNorm = 0, Progress = false, Seed = 3, WeightDecay = 0.1 };
        var a = Model(ScalarType.Float64, dropout: 0);
        new Trainer(a, FineTuneMethods.Create("full"), new SyntheticTask(a, Train, Dev), opts with { BatchSize = 16, GradAccumulation = 1 }).Run();
        var b = Model(ScalarType.Float64, dropout: 0);
        new Trainer(b, FineTuneMethods.Create("full"), new SyntheticTask(b, Train, Dev), opts with { BatchSize = 8, GradAccumulation = 2 }).Run();
        var c = Model(ScalarType.Float64, dropout: 0);
        foreach (var ((n, x), (_, y), (_, z)) in a.state_dict().Zip(b.state_dict(), c.state_dict()))
        {
            Assert.True((x - y).abs().max().item<double>() < 1e-10, n);
            if (n.EndsWith("weight") && !n.StartsWith("norms")) Assert.False(x.eq(z).all().item<bool>(), $"{n} did not train");
        }
    }

    [Fact]
    public void ClippingScalesTheGlobalNormDownToTheLimit()
    {
        using var scope = NewDisposeScope();
        var model = Model(ScalarType.Float64, dropout: 0);
        var adapter = FineTuneMethods.Create("full").Inject(model, new FineTuneContext());
        Train.Loss(model, Enumerable.Range(0, 16).ToList()).backward();
        var norm = Math.Sqrt(model.parameters().Sum(p => p.grad!.square().sum().item<double>()));
        Assert.Equal(norm, Trainer.ClipGradients(adapter, norm / 4), 10);
        var after = Math.Sqrt(model.parameters().Sum(p => p.grad!.square().sum().item<double>()));
        Assert.True(Math.Abs(norm / 4 - after) < 1e-5 * norm, $"{after} vs {norm / 4}");
        Assert.Equal(after, Trainer.ClipGradients(adapter, 0), 10);   // 0 = off: measures only
    }

    [Fact]
    public void EarlyStoppingMetricsLogBestCheckpointAndCurves()
    {
        using var scope = NewDisposeScope();
        var dir = TestPaths.TempDir();
        var model = Model();
        var evals = 0;
        // Dev score improves once, then never again: patience 2 stops at the third evaluation.
        var task = new SyntheticTask(model, Train, Dev, () => new EvalResult("accuracy", ++evals == 1 ? 0.9 : 0.5, Loss: 1.0 / evals));
        var r = new Trainer(model, FineTuneMethods.Create("lora", Options("lora")), task,
            Base(dir) with { MaxSteps = 50, EvalEvery = 2, Patience = 2, WritePlot = true }).Run();
        Assert.True(r.StoppedEarly);
        Assert.Equal(6, r.Steps);
        Assert.Equal(0.9, r.BestMetric);
        Assert.Equal(2, r.BestStep);

        var records = MetricsLog.ReadAll(Path.Combine(dir, "metrics.jsonl"));
        Assert.Equal(6, records.Count(x => (string?)x["kind"] == "train"));
        Assert.Equal(3, records.Count(x => (string?)x["kind"] == "eval"));
        Assert.NotNull(TrainerCheckpoint.Resolve(Path.Combine(dir, "best")));
        Assert.NotNull(TrainerCheckpoint.Resolve(Path.Combine(dir, "checkpoint")));
        var png = File.ReadAllBytes(Path.Combine(dir, "curves.png"));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
        Assert.True(png.Length > 5000);
    }

    [Fact]
    public void ResumingWithAnotherMethodIsRejectedWithTheFileNamed()
    {
        using var scope = NewDisposeScope();
        var dir = TestPaths.TempDir();
        var m = Model();
        new Trainer(m, FineTuneMethods.Create("full"), new SyntheticTask(m, Train, Dev), Base(dir) with { MaxSteps = 2 }).Run();
        var m2 = Model();
        var e = Assert.Throws<MlpKitException>(() =>
            new Trainer(m2, FineTuneMethods.Create("lora"), new SyntheticTask(m2, Train, Dev), Base(dir) with { Resume = true }).Run());
        Assert.Contains("trainer.json", e.Message);
        Assert.Contains("full", e.Message);
    }
}
