using MlpKit.Data;
using MlpKit.FineTuning;
using MlpKit.Training;

namespace MlpKit.Experiments;

/// <summary>Settings of the SparseGrad reproduction: which tasks, methods, seeds and training budget.</summary>
public sealed record SparseGradExperimentOptions
{
    public string Model { get; init; } = "use-lite";
    public IReadOnlyList<ITextTask> Tasks { get; init; } = [];
    public IReadOnlyList<string> Methods { get; init; } = ["full", "lora", "meprop", "sparsegrad"];
    public int Seeds { get; init; } = 3;
    public long BaseSeed { get; init; } = 42;
    public double Density { get; init; } = 0.01;
    public int? MaxTrain { get; init; }
    public int? MaxEval { get; init; }
    public long Steps { get; init; } = 100;
    public int BatchSize { get; init; } = 16;
    /// <summary>One learning rate for every method; null: each method's default (<see cref="FineTuneMethods.DefaultLearningRate"/>).</summary>
    public double? LearningRate { get; init; }
    /// <summary>Per-method learning rates (methods tolerate different step sizes: full fine-tuning a smaller one).</summary>
    public IReadOnlyDictionary<string, double> MethodLearningRates { get; init; } = new Dictionary<string, double>();
    public int CalibrationSteps { get; init; } = 10;
    /// <summary>Every method under the train-rest protocol (the SparseGrad paper's): everything but the MLP linears trains too.</summary>
    public bool TrainRest { get; init; }
    public int MaxLength { get; init; } = 128;
    public string OutDir { get; init; } = "sparsegrad-experiment";
    public bool Progress { get; init; }

    public double LearningRateFor(string method, IReadOnlyDictionary<string, string> options) =>
        MethodLearningRates.TryGetValue(method, out var lr) ? lr : LearningRate ?? FineTuneMethods.DefaultLearningRate(FineTuneMethods.Create(method, options));
}

/// <summary>
/// One run's measurements, flattened for the table and the JSON. <see cref="Metric"/> is the task's main metric
/// (accuracy, or pearson for regression) and <see cref="SecondMetric"/> the one beside it (macro_f1, or spearman).
/// </summary>
public sealed record ExperimentRun(string Task, string Method, long Seed, IReadOnlyDictionary<string, string> Options,
    string Metric, string SecondMetric, double DevScore, double TestScore, double TestSecond, double? FirstTrainLoss, double LastTrainLoss,
    long TrainableParameters, long OptimizerStateBytes, long MlpOptimizerStateBytes, long GradientBytes,
    long? PeakRssBytes, double TrainSeconds, double TotalSeconds, long Steps);

/// <summary>
/// The paper's protocol at our scale: every method fine-tunes the same model on each task at a matched
/// trainable-memory budget (<see cref="MemoryBudget"/>), over several seeds, in one process.
/// </summary>
public static class SparseGradExperiment
{
    public static (MemoryBudget Budget, IReadOnlyList<ExperimentRun> Runs) Run(SparseGradExperimentOptions o,
        Action<string>? log = null, CancellationToken cancel = default)
    {
        if (o.Tasks.Count == 0) throw new MlpKitException("experiment sparsegrad: no tasks given");
        if (o.Seeds < 1) throw new MlpKitException($"--seeds {o.Seeds}: must be at least 1");
        foreach (var m in o.Methods)
            if (!FineTuneMethods.Names.Contains(m))
                throw new MlpKitException($"--methods {m}: unknown fine-tuning method (expected {string.Join(", ", FineTuneMethods.Names)})");
        var budget = MemoryBudget.Match(FineTuneRun.MlpWeightShapes(o.Model), o.Density);
        log?.Invoke($"budget: sparsegrad density {o.Density} = {budget.SparseGradEntries:N0} MLP entries; lora rank {budget.LoraRank} = {budget.LoraEntries:N0}; meprop keep {budget.MePropKeep}");

        var runs = new List<ExperimentRun>();
        foreach (var full in o.Tasks)
            for (var s = 0; s < o.Seeds; s++)
            {
                var seed = o.BaseSeed + s;
                var data = full.Subsample(o.MaxTrain, o.MaxEval, o.MaxEval, (int)seed);
                foreach (var method in o.Methods)
                {
                    cancel.ThrowIfCancellationRequested();
                    var options = new Dictionary<string, string>(budget.OptionsFor(method), StringComparer.Ordinal);
                    if (method is "sparsegrad" or MlpKit.FineTuning.FusionSparseGrad.FusionSparseGradConfig.MethodName) options["calibration-steps"] = o.CalibrationSteps.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    if (o.TrainRest) options["train-rest"] = "true";
                    var runDir = Path.Combine(o.OutDir, "runs", Safe(data.Name), method, $"seed{seed}");
                    var trainer = new TrainerOptions
                    {
                        OutDir = runDir, MaxSteps = o.Steps, BatchSize = o.BatchSize, LearningRate = o.LearningRateFor(method, options),
                        WarmupRatio = FineTuneRun.DefaultWarmupRatio, Seed = seed, Progress = o.Progress,
                    };
                    var r = FineTuneRun.Run(new FineTuneRunSpec(o.Model, data, method, options, trainer, o.MaxLength), cancel);
                    var second = r.Spec.IsRegression ? "spearman" : "macro_f1";
                    var run = new ExperimentRun(data.Name, method, seed, options, r.Test.Metric, second, r.Dev.Value, r.Test.Value,
                        r.Test.Extra?.GetValueOrDefault(second) ?? double.NaN, FirstTrainLoss(runDir), r.Train.LastLoss,
                        r.Footprint.TrainableParameters, r.Footprint.OptimizerStateBytes, r.Footprint.MlpOptimizerStateBytes,
                        r.Footprint.GradientBytes, r.PeakRssBytes, r.Train.Seconds, r.TotalSeconds, r.Train.Steps);
                    runs.Add(run);
                    // The comparison needs the logs, not ~75 MB of weights per run.
                    foreach (var sub in new[] { "checkpoint", "best" })
                        if (Directory.Exists(Path.Combine(runDir, sub))) Directory.Delete(Path.Combine(runDir, sub), recursive: true);
                    log?.Invoke($"{data.Name} {method} seed {seed}: test {run.Metric} {run.TestScore:F4}, {run.SecondMetric} {run.TestSecond:F4}, " +
                                $"loss {run.FirstTrainLoss:F3} -> {run.LastTrainLoss:F3}, {run.TrainSeconds:F1}s");
                }
            }
        return (budget, runs);
    }

    internal static string Safe(string name) => string.Concat(name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '_'));

    /// <summary>The first logged training loss, so the table shows that the loss fell.</summary>
    internal static double? FirstTrainLoss(string runDir)
    {
        var path = Path.Combine(runDir, "metrics.jsonl");
        if (!File.Exists(path)) return null;
        var first = MlpKit.Reporting.MetricsLog.ReadAll(path).FirstOrDefault(r => (string?)r["kind"] == "train" && r["loss"] is System.Text.Json.Nodes.JsonValue);
        return first is null ? null : (double)first["loss"]!;
    }
}
