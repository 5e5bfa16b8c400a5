using System.Diagnostics;
using MlpKit.FineTuning;
using MlpKit.Runtime;
using MlpKit.Training;
using static TorchSharp.torch;

namespace MlpKit.Lm;

/// <summary>Trains and evaluates LM runs in a run folder (config.json, checkpoint/, best/, metrics.jsonl, curves.png, report.json, usage.png).</summary>
public static class LmRun
{
    public const string UsagePng = "usage.png";

    /// <summary>
    /// Trains the run described by <paramref name="spec"/> into <paramref name="runDir"/>; with <paramref name="resume"/>
    /// the saved config is used and training continues exactly from RUN/checkpoint. Cancelling saves a
    /// checkpoint and returns a report marked interrupted (no final evaluation).
    /// </summary>
    public static LmRunReport Train(LmRunSpec spec, string runDir, bool resume, CancellationToken cancel = default,
        bool progress = true, Action<string>? log = null)
    {
        TorchRuntime.EnsureInitialized();
        if (resume)
        {
            spec = LmRunSpec.Load(runDir);
            TrainerCheckpoint.ResolveForResume(Path.Combine(runDir, "checkpoint"));
        }
        spec.Validate();
        var trainText = LmTokenStream.SplitText(spec.Data, "train");
        var tokenizer = LmTokenizers.Create(spec.Tokenizer, runDir, () => trainText, log);
        var train = LmTokenStream.FromText(trainText, tokenizer, $"{spec.Data} (train)");
        var valid = LmTokenStream.FromText(LmTokenStream.SplitText(spec.Data, "valid"), tokenizer, $"{spec.Data} (valid)");
        log?.Invoke($"{spec.Data}: {train.Length} train / {valid.Length} valid {spec.Tokenizer} tokens");

        Directory.CreateDirectory(runDir);
        if (!resume) spec.Save(runDir);
        manual_seed(spec.Seed);
        using var model = new DecoderLm(spec.ModelConfig(tokenizer.VocabSize));
        var task = new LmTrainingTask(model, train, valid, evalTokens: spec.EvalTokens, lanes: spec.Batch)
        {
            Watch = new EvalWatch(cancel, progress ? (done, total) => Console.Error.Write($"\r  evaluating valid: {done}/{total} windows   ") : null),
        };
        var before = resume ? TrainerCheckpoint.ReadState(TrainerCheckpoint.Resolve(Path.Combine(runDir, "checkpoint"))!).Step : 0;
        var evalSeconds = 0.0;
        var clock = Stopwatch.StartNew();
        var t = new Trainer(model, FineTuneMethods.Create("full"), new TimedTask(task, s => evalSeconds += s), spec.TrainerOptions(runDir, resume, progress));
        var result = t.Run(cancel);
        var trainSeconds = Math.Max(1e-9, clock.Elapsed.TotalSeconds - evalSeconds);
        var tokens = (result.Steps - before) * spec.Batch * spec.Context;

        var report = Report(spec, model, valid, task.Watch) with
        {
            Steps = result.Steps,
            TrainTokens = result.Steps * spec.Batch * spec.Context,
            TrainSeconds = result.Seconds,
            TokensPerSecond = tokens / trainSeconds,
            BestStep = result.BestStep,
            Interrupted = result.Interrupted,
        };
        if (result.Interrupted) return report;
        report.Save(runDir);
        UsagePlot.Write(Path.Combine(runDir, UsagePng), $"{spec.Ffn}: expert/unit usage on the valid split",
            report.Usage.Select(u => ($"layer {u.Layer}", u)));
        return report;
    }

    /// <summary>Loads the run's best weights (else its last checkpoint) and scores a split of a corpus.</summary>
    public static (LmRunSpec Spec, LmScore Score) Evaluate(string runDir, string? data, string split)
    {
        TorchRuntime.EnsureInitialized();
        var spec = LmRunSpec.Load(runDir);
        var dir = TrainerCheckpoint.Resolve(Path.Combine(runDir, "best")) ?? TrainerCheckpoint.Resolve(Path.Combine(runDir, "checkpoint"))
            ?? throw new MlpKitException($"{runDir}: no best/ or checkpoint/ weights (was the run trained?)");
        var tokenizer = LmTokenizers.Create(spec.Tokenizer, runDir, () => LmTokenStream.SplitText(spec.Data, "train"));
        var stream = LmTokenStream.FromText(LmTokenStream.SplitText(data ?? spec.Data, split), tokenizer, $"{data ?? spec.Data} ({split})");
        using var model = new DecoderLm(spec.ModelConfig(tokenizer.VocabSize));
        TrainerCheckpoint.LoadModel(dir, model);
        model.eval();
        return (spec, LmEvaluation.Score(model, stream));
    }

    /// <summary>A trained run's model (best weights, else the last checkpoint), its tokenizer and its context length, for generation.</summary>
    public static (DecoderLm Model, ILmTokenizer Tokenizer, long Context) LoadForGeneration(string runDir)
    {
        TorchRuntime.EnsureInitialized();
        var spec = LmRunSpec.Load(runDir);
        var dir = TrainerCheckpoint.Resolve(Path.Combine(runDir, "best")) ?? TrainerCheckpoint.Resolve(Path.Combine(runDir, "checkpoint"))
            ?? throw new MlpKitException($"{runDir}: no best/ or checkpoint/ weights (was the run trained?)");
        var tokenizer = LmTokenizers.Create(spec.Tokenizer, runDir, () => LmTokenStream.SplitText(spec.Data, "train"));
        var model = new DecoderLm(spec.ModelConfig(tokenizer.VocabSize));
        TrainerCheckpoint.LoadModel(dir, model);
        model.eval();
        return (model, tokenizer, spec.Context);
    }

    /// <summary>Sizes, compute and the full valid score with the usage it caused (counts reset first).</summary>
    static LmRunReport Report(LmRunSpec spec, DecoderLm model, LmTokenStream valid, EvalWatch? watch = null)
    {
        foreach (var f in model.Ffns) f.ResetUsage();
        model.eval();
        var score = LmEvaluation.Score(model, valid, maxTokens: spec.ReportTokens, watch: watch);
        var ffnMacs = (long)model.Ffns.Average(f => f.MacsPerToken);
        // A dense/topk run sized by --d-ff is measured against a dense block of its own size, everything else against
        // the dense block parameter-equal to the family's MoE (the paper's reference).
        var dense = spec.Ffn is "dense" or "topk" && !spec.ParamsEqual
            ? new Ffn.Variants.DenseConfig(spec.DModel, spec.DFf > 0 ? spec.DFf : 4 * spec.DModel).MacsPerToken
            : spec.DenseReferenceMacs();
        return new LmRunReport
        {
            Ffn = spec.Ffn, Tokenizer = spec.Tokenizer, Data = spec.Data,
            Parameters = model.parameters().Sum(p => p.numel()),
            FfnParameters = model.Ffns.Sum(f => f.ParameterCount),
            FfnMacsPerToken = ffnMacs,
            DenseReferenceMacsPerToken = dense,
            FfnMacsPercent = 100.0 * ffnMacs / dense,
            NominalComputePercent = 100.0 * model.Ffns.Average(f => f.NominalComputeFraction),
            ValidTokens = score.Tokens, ValidLoss = score.LossPerToken, ValidPerplexity = score.Perplexity, ValidBitsPerChar = score.BitsPerChar,
            Usage = model.Ffns.Select((f, i) => LayerUsage.From(i, f)).ToList(),
        };
    }

    /// <summary>Passes a task through, timing its evaluations so tokens/s counts training time only.</summary>
    sealed class TimedTask(LmTrainingTask inner, Action<double> evalTime) : ITrainingTask, ITrainingTaskStepMetrics, ISequentialTrainingTask
    {
        public bool InOrder => inner.InOrder;
        public IReadOnlyDictionary<string, Tensor> SaveState() => inner.SaveState();
        public void LoadState(IReadOnlyDictionary<string, Tensor> state) => inner.LoadState(state);
        public int TrainCount => inner.TrainCount;
        public Tensor Loss(IReadOnlyList<int> indices) => inner.Loss(indices);
        public EvalResult Evaluate()
        {
            var sw = Stopwatch.StartNew();
            var r = inner.Evaluate();
            evalTime(sw.Elapsed.TotalSeconds);
            return r;
        }
        public IEnumerable<KeyValuePair<string, object?>> StepMetrics() => inner.StepMetrics();
    }
}
