using System.Text.Json;
using MlpKit.FineTuning;
using MlpKit.Lm;
using MlpKit.Runtime;
using MlpKit.Tests.FfnVariantsTests;
using MlpKit.Tests.Support;
using MlpKit.Training;
using TorchSharp;
using static TorchSharp.torch;
using Xunit;

namespace MlpKit.Tests.LmTraining;

/// <summary>Transformer-XL training and evaluation of decoder LMs: lanes of consecutive segments, memory, resume.</summary>
[Collection(MlpKit.Tests.Training.TorchRngCollection.Name)]
public class XlTrainingTests
{
    static LmRunSpec XlSpec(string ffn = "dense", double expertDropout = 0.0) =>
        TinyLm.Spec(ffn, expertDropout) with { Attention = LmConfig.XlAttention };

    /// <summary>Passes an LM task through and records the example indices of every batch the trainer asks for.</summary>
    sealed class Spy(LmTrainingTask inner) : ITrainingTask, ISequentialTrainingTask
    {
        public readonly List<int[]> Batches = [];
        public int TrainCount => inner.TrainCount;
        public Tensor Loss(IReadOnlyList<int> indices) { Batches.Add(indices.ToArray()); return inner.Loss(indices); }
        public EvalResult Evaluate() => inner.Evaluate();
        public bool InOrder => inner.InOrder;
        public IReadOnlyDictionary<string, Tensor> SaveState() => inner.SaveState();
        public void LoadState(IReadOnlyDictionary<string, Tensor> state) => inner.LoadState(state);
    }

    [Fact]
    public void TrainerWalksEachLaneContiguouslySegmentAfterSegment()
    {
        TorchRuntime.EnsureInitialized();
        using var threads = new SingleThread();
        // Token i of the stream is i itself, so a window's tokens say which stream positions it holds.
        const int N = 403, lanes = 4, T = 16;
        var stream = new LmTokenStream(Enumerable.Range(0, N).ToArray(), N, N, "positions");
        var spec = XlSpec() with { Batch = lanes, Context = T };
        manual_seed(spec.Seed);
        using var model = new DecoderLm(spec.ModelConfig(N));
        var task = new LmTrainingTask(model, stream, stream, lanes: lanes);
        var laneLength = N / lanes;                 // 100; the 3 tail tokens are dropped
        var segments = (laneLength - 1) / T;        // 6 full segments; 3 tokens at each lane's end unused
        Assert.Equal(segments * lanes, task.TrainCount);
        var spy = new Spy(task);
        var steps = segments + 2;                   // into the second epoch
        var trainer = new Trainer(model, FineTuneMethods.Create("full"), spy,
            spec.TrainerOptions(null!, false, progress: false) with { OutDir = null, MaxSteps = steps, EvalEvery = 0 });
        trainer.Run();
        Assert.Equal(steps, spy.Batches.Count);

        var windows = spy.Batches.Select(b => task.Lanes!.Windows(stream.Tokens, b).data<long>().ToArray()).ToList();
        long At(int step, int lane, int j) => windows[step][lane * (T + 1) + j];
        for (int l = 0; l < lanes; l++)
        {
            Assert.Equal(l * laneLength, At(0, l, 0));
            for (int t = 0; t < steps; t++)
            {
                for (int j = 0; j <= T; j++) Assert.Equal(At(t, l, 0) + j, At(t, l, j));   // a window is a run of the stream
                if (t + 1 < segments)
                    Assert.Equal(At(t, l, T - 1) + 1, At(t + 1, l, 0));   // the next segment's inputs follow this one's
            }
            // The lane never runs into the next one, and the second epoch starts the lane again.
            Assert.True(At(segments - 1, l, T) < (l + 1) * laneLength);
            Assert.Equal(l * laneLength, At(segments, l, 0));
            Assert.Equal(At(1, l, 0), At(segments + 1, l, 0));
        }
    }

    [Fact]
    public void LaneBatchesMustBeWholeSegmentsInOrder()
    {
        var lanes = new LmLanes(1000, 4, 16);
        Assert.Equal(3, lanes.SegmentOf([12, 13, 14, 15]));
        Assert.Throws<MlpKitException>(() => lanes.SegmentOf([13, 12, 14, 15]));
        Assert.Throws<MlpKitException>(() => lanes.SegmentOf([0, 1, 2]));
        var e = Assert.Throws<MlpKitException>(() => LmLanes.For(TinyLm.Stream("short text"), 4, 16));
        Assert.Contains("tiny", e.Message);
    }

    static LmConfig XlConfig(long context) => (XlSpec() with { Context = context }).ModelConfig(256);

    /// <summary>Σ cross-entropy of tokens[from+1 .. to] given tokens[from .. to) in one plain forward pass (no memory).</summary>
    static double OnePass(DecoderLm model, int[] tokens, int from, int to)
    {
        using var scope = NewDisposeScope();
        var x = tensor(tokens[from..to].Select(t => (long)t).ToArray()).unsqueeze(0);
        var y = tensor(tokens[(from + 1)..(to + 1)].Select(t => (long)t).ToArray());
        var logits = model.forward(x)[0];
        return nn.functional.cross_entropy(logits, y, reduction: nn.Reduction.Sum).item<double>();
    }

    [Fact]
    public void EvaluationWithMemoryEqualsOnePassOverEachLane()
    {
        TorchRuntime.EnsureInitialized();
        using var threads = new SingleThread();
        using var scope = NewDisposeScope();
        manual_seed(11);
        // A model whose context (40) covers each whole lane: its memory then keeps every earlier position, so walking
        // a lane in short segments must give what one pass over the lane gives.
        using var model = new DecoderLm(XlConfig(40));
        model.to(ScalarType.Float64);
        model.eval();
        var stream = TinyLm.Stream("Four score and seven years ago our fa");   // 37 tokens, 36 predicted
        Assert.Equal(37, stream.Length);
        var tokens = stream.Tokens;

        var one = LmEvaluation.ScoreWithMemory(model, stream, lanes: 1, segment: 5);
        Assert.Equal(36, one.Tokens);
        Assert.Equal(OnePass(model, tokens, 0, 36), one.Nats, 9);
        Assert.Equal(one.Nats, LmEvaluation.ScoreWithMemory(model, stream, lanes: 1).Nats, 9);   // a single segment

        // 5 lanes of 7 predictions; the 36th extends the last lane, which finishes alone with its memory.
        var five = LmEvaluation.ScoreWithMemory(model, stream, lanes: 5, segment: 3);
        var expected = Enumerable.Range(0, 4).Sum(l => OnePass(model, tokens, 7 * l, 7 * l + 7)) + OnePass(model, tokens, 28, 36);
        Assert.Equal(36, five.Tokens);
        Assert.Equal(expected, five.Nats, 9);
        Assert.NotEqual(one.Nats, five.Nats, 6);   // cold starts at lane boundaries do cost something
        // Score dispatches xl models here; maxTokens keeps a prefix.
        Assert.Equal(five.Nats, LmEvaluation.Score(model, stream, batch: 5).Nats, 12);
        var prefix = LmEvaluation.Score(model, stream, batch: 2, maxTokens: 20);
        Assert.Equal(20, prefix.Tokens);
        Assert.Equal(OnePass(model, tokens, 0, 10) + OnePass(model, tokens, 10, 20), prefix.Nats, 9);
    }

    [Fact]
    public void EvaluationCarriesMemoryAcrossSegmentsBeyondTheContext()
    {
        TorchRuntime.EnsureInitialized();
        using var scope = NewDisposeScope();
        manual_seed(12);
        using var model = new DecoderLm(XlConfig(8));
        model.to(ScalarType.Float64);
        model.eval();
        var stream = TinyLm.Stream(TinyLm.Text(1));   // 45 tokens, 44 predicted in segments of 8
        var withMemory = LmEvaluation.ScoreWithMemory(model, stream, lanes: 1);
        // Independent segments (memory thrown away each time) score the same tokens differently.
        double cold = 0;
        for (int s = 0; s < 44; s += 8) cold += OnePass(model, stream.Tokens, s, Math.Min(s + 8, 44));
        Assert.Equal(44, withMemory.Tokens);
        Assert.True(Math.Abs(withMemory.Nats - cold) > 1e-6, "memory had no effect");
        // The first segment sees no memory in both.
        Assert.Equal(OnePass(model, stream.Tokens, 0, 8),
            LmEvaluation.ScoreWithMemory(model, stream, lanes: 1, maxTokens: 8).Nats, 9);
    }

    [Fact]
    public void TinyXlLmLossFallsOver50TrainerSteps()
    {
        TorchRuntime.EnsureInitialized();
        using var threads = new SingleThread();
        var spec = XlSpec("sigma-moe");
        var stream = TinyLm.Stream(TinyLm.Text());
        manual_seed(spec.Seed);
        using var model = new DecoderLm(spec.ModelConfig(256));
        var task = new LmTrainingTask(model, stream, stream, evalTokens: 64, lanes: spec.Batch);
        var losses = new List<double>();
        var trainer = new Trainer(model, FineTuneMethods.Create("full"), task, spec.TrainerOptions(null!, false, progress: false) with { OutDir = null })
        {
            OnStep = s => losses.Add(s.Loss),
        };
        var result = trainer.Run();
        Assert.Equal(50, result.Steps);
        Assert.InRange(losses[0], 4.5, 6.5);   // ≈ ln 256 at init
        var lastFive = losses.TakeLast(5).Average();
        Assert.True(lastFive < 0.5 * losses[0], $"xl: {losses[0]:F3} → {lastFive:F3}");
        Assert.True(result.BestMetric < Math.Exp(0.6 * losses[0]), $"xl: valid perplexity {result.BestMetric}");
    }

    sealed class Tol : IEqualityComparer<double>
    {
        public bool Equals(double a, double b) => Math.Abs(a - b) <= 1e-6 * Math.Max(1, Math.Abs(a));
        public int GetHashCode(double x) => 0;
    }

    [Fact]
    public void XlResumeGivesTheSameNextStepLossesAsAnUninterruptedRun()
    {
        TorchRuntime.EnsureInitialized();
        using var threads = new SingleThread();
        // Dropout makes the memory depend on the step's RNG too, so it cannot be recomputed from the saved weights.
        var spec = XlSpec("sigma-moe", expertDropout: 0.2) with { Steps = 6, CheckpointEvery = 0, Dropout = 0.1 };
        var stream = TinyLm.Stream(TinyLm.Text());

        List<double> Train(string dir, bool resume, long? stopAfter)
        {
            manual_seed(spec.Seed);
            using var model = new DecoderLm(spec.ModelConfig(256));
            var task = new LmTrainingTask(model, stream, stream, evalTokens: 32, lanes: spec.Batch);
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
        var saved = Path.Combine(dir, "checkpoint", TrainerCheckpoint.TaskStateFile);
        Assert.True(File.Exists(saved));
        var backup = saved + ".keep";
        File.Copy(saved, backup);
        var rest = Train(dir, resume: true, stopAfter: null);
        Assert.Equal(6, whole.Count);
        Assert.Equal(whole.Take(3), first, new Tol());
        Assert.Equal(3, rest.Count);
        Assert.Equal(whole.Skip(3), rest, new Tol());
        Assert.NotEqual(whole[3], whole[4]);

        // Without the saved memory the run cannot continue exactly, and says why instead of silently diverging.
        var again = TestPaths.TempDir();
        Train(again, resume: false, stopAfter: 3);
        File.Delete(Path.Combine(again, "checkpoint", TrainerCheckpoint.TaskStateFile));
        var e = Assert.Throws<MlpKitException>(() => Train(again, resume: true, stopAfter: null));
        Assert.Contains("memory", e.Message);
    }

    [Fact]
    public void CliTrainsWithXlAndEvalAndResumeReadItFromTheRun()
    {
        var corpus = Path.Combine(TestPaths.TempDir(), "tiny.txt");
        File.WriteAllText(corpus, TinyLm.Text(60));
        var run = Path.Combine(TestPaths.TempDir(), "run");
        string[] tiny = ["--ffn", "dense", "--layers", "1", "--d-model", "16", "--heads", "2", "--context", "16", "--batch", "4", "--warmup", "1", "--threads", "1"];
        var t = CliHarness.Run(["train-lm", "--data", corpus, "--attention", "xl", "--steps", "4", "--eval-every", "2", "--out", run, .. tiny]);
        Assert.True(t.ExitCode == 0, t.ToString());
        Assert.Equal("xl", LmRunSpec.Load(run).Attention);
        Assert.True(File.Exists(Path.Combine(run, "checkpoint", TrainerCheckpoint.TaskStateFile)), t.ToString());
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "report.json")));
        var e = CliHarness.Run("eval-lm", "--run", run, "--data", corpus, "--split", "valid", "--json", "--threads", "1");
        Assert.True(e.ExitCode == 0, e.ToString());
        using var ev = JsonDocument.Parse(e.Stdout);
        Assert.Equal(report.RootElement.GetProperty("valid_perplexity").GetDouble(), ev.RootElement.GetProperty("perplexity").GetDouble(), 4);

        var again = CliHarness.Run("train-lm", "--out", run, "--resume", "--threads", "1");
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("resumed at step 4", again.Stderr);
        CliHarness.AssertUserError(CliHarness.Run(["train-lm", "--data", corpus, "--attention", "alibi", "--steps", "2", "--out", TestPaths.TempDir(), .. tiny]), "--attention", "alibi");
    }
}
