using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MlpKit.Checkpoints;
using MlpKit.Data;
using MlpKit.FineTuning;
using MlpKit.Training;

namespace MlpKit.Experiments;

/// <summary>Settings of the default-learning-rate check: tasks, methods, seeds, the step budget and the sweep's factors.</summary>
public sealed record DefaultsExperimentOptions
{
    public string Model { get; init; } = "use-lite";
    public IReadOnlyList<ITextTask> Tasks { get; init; } = [];
    public IReadOnlyList<string> Methods { get; init; } = ["full", "lora", "meprop", "sparsegrad"];
    public int Seeds { get; init; } = 3;
    public long BaseSeed { get; init; } = 42;
    public int? MaxTrain { get; init; }
    public int? MaxEval { get; init; }
    public long Steps { get; init; } = 60;
    public int MaxLength { get; init; } = 128;
    /// <summary>Learning rates tried, as multiples of each method's default (1 must be among them).</summary>
    public IReadOnlyList<double> Factors { get; init; } = [0.25, 1, 4];
    /// <summary>Every method under the train-rest protocol (the SparseGrad paper's) instead of the strict one.</summary>
    public bool TrainRest { get; init; }
    public string OutDir { get; init; } = "defaults-experiment";
    public bool Progress { get; init; }
}

/// <summary>One finished run of the sweep, as results.jsonl keeps it.</summary>
public sealed record DefaultsRun(string Task, string Method, bool TrainRest, double Factor, double LearningRate, long Seed,
    string Metric, double Test, double Dev, double? FirstLoss, double LastLoss, double Seconds);

/// <summary>
/// Checks each method's defaults as `finetune` applies them: every method option at its default, the trainer at
/// finetune's defaults, a fixed step budget, and the learning rate at the method's default times each factor, over
/// seeds. The default passes when its mean test score is at least 95% of the best factor's. Finished runs are appended
/// to OutDir/results.jsonl, so rerunning the same command after a stop continues with the runs still missing.
/// </summary>
public static class DefaultsExperiment
{
    public const string ResultsFile = "results.jsonl";
    public const string MarkdownFile = "defaults-results.md";
    public const string JsonFile = "defaults-results.json";
    public const double PassRatio = 0.95;

    public static IReadOnlyList<DefaultsRun> Run(DefaultsExperimentOptions o, Action<string>? log = null, CancellationToken cancel = default)
    {
        if (o.Tasks.Count == 0) throw new MlpKitException("experiment defaults: no tasks given");
        if (o.Seeds < 1) throw new MlpKitException($"--seeds {o.Seeds}: must be at least 1");
        if (!o.Factors.Contains(1.0)) throw new MlpKitException($"--factors {string.Join(",", o.Factors)}: must include 1 (the default itself)");
        if (o.Factors.Any(f => !(f > 0))) throw new MlpKitException($"--factors {string.Join(",", o.Factors)}: must be positive");
        foreach (var m in o.Methods) FineTuneMethods.Get(m);
        Directory.CreateDirectory(o.OutDir);
        var resultsPath = Path.Combine(o.OutDir, ResultsFile);
        var done = ReadResults(resultsPath);
        if (done.Count > 0) log?.Invoke($"{resultsPath}: {done.Count} finished runs kept");

        var total = o.Tasks.Count * o.Seeds * o.Methods.Count * o.Factors.Count;
        var index = 0;
        foreach (var full in o.Tasks)
            for (var s = 0; s < o.Seeds; s++)
            {
                var seed = o.BaseSeed + s;
                var data = full.Subsample(o.MaxTrain, o.MaxEval, o.MaxEval, (int)seed);
                foreach (var method in o.Methods)
                    foreach (var factor in o.Factors)
                    {
                        index++;
                        cancel.ThrowIfCancellationRequested();
                        var lr = DefaultFor(method, o.TrainRest) * factor;
                        // Runs are matched by learning rate, not factor, so a changed default reuses the runs it shares.
                        if (done.Any(r => r.Task == data.Name && r.Method == method && r.TrainRest == o.TrainRest && SameLr(r.LearningRate, lr) && r.Seed == seed))
                            continue;
                        var options = new Dictionary<string, string>(StringComparer.Ordinal);
                        if (o.TrainRest) options["train-rest"] = "true";
                        var runDir = Path.Combine(o.OutDir, "runs", SparseGradExperiment.Safe(data.Name), o.TrainRest ? "train-rest" : "strict", method,
                            $"lr{lr.ToString("0.###e0", CultureInfo.InvariantCulture)}", $"seed{seed}");
                        if (Directory.Exists(runDir)) Directory.Delete(runDir, recursive: true);   // a run stopped midway starts over
                        var trainer = new TrainerOptions
                        {
                            OutDir = runDir, MaxSteps = o.Steps, LearningRate = lr, WarmupRatio = FineTuneRun.DefaultWarmupRatio,
                            Seed = seed, Progress = o.Progress, CheckpointMinutes = 0,
                        };
                        var r = FineTuneRun.Run(new FineTuneRunSpec(o.Model, data, method, options, trainer, o.MaxLength), cancel);
                        var run = new DefaultsRun(data.Name, method, o.TrainRest, factor, lr, seed, r.Test.Metric, r.Test.Value, r.Dev.Value,
                            SparseGradExperiment.FirstTrainLoss(runDir), r.Train.LastLoss, r.Train.Seconds);
                        foreach (var sub in new[] { "checkpoint", "best" })
                            if (Directory.Exists(Path.Combine(runDir, sub))) Directory.Delete(Path.Combine(runDir, sub), recursive: true);
                        AppendResult(resultsPath, run);
                        done.Add(run);
                        log?.Invoke($"[{index}/{total}] {data.Name} {method} lr {lr:G3} seed {seed}: test {run.Metric} {run.Test:F4}, " +
                                    $"loss {run.FirstLoss:F3} -> {run.LastLoss:F3}, {run.Seconds:F1}s");
                    }
            }
        var tasks = o.Tasks.Select(t => t.Name).ToHashSet();
        return done.Where(r => r.TrainRest == o.TrainRest && o.Methods.Contains(r.Method))
            .Select(r => r with { Factor = o.Factors.FirstOrDefault(f => SameLr(r.LearningRate, DefaultFor(r.Method, r.TrainRest) * f)) })
            .Where(r => r.Factor > 0 && o.Seeds > r.Seed - o.BaseSeed && r.Seed >= o.BaseSeed)
            .Where(r => tasks.Contains(r.Task))
            .ToList();
    }

    static double DefaultFor(string method, bool trainRest) => FineTuneMethods.DefaultLearningRate(
        FineTuneMethods.Create(method, trainRest ? new Dictionary<string, string> { ["train-rest"] = "true" } : null));

    static bool SameLr(double a, double b) => Math.Abs(a - b) <= 1e-9 * Math.Max(Math.Abs(a), Math.Abs(b));

    static List<DefaultsRun> ReadResults(string path)
    {
        var list = new List<DefaultsRun>();
        if (!File.Exists(path)) return list;
        var lines = File.ReadAllLines(path);
        for (var lineNo = 1; lineNo <= lines.Length; lineNo++)
        {
            var line = lines[lineNo - 1];
            if (line.Length == 0) continue;
            try { list.Add(JsonSerializer.Deserialize<DefaultsRun>(line) ?? throw new JsonException("null")); }
            catch (JsonException) when (lineNo == lines.Length)
            {
                // A crash while the last line was appended leaves it cut short: that run is simply run again.
            }
            catch (JsonException e) { throw new MlpKitException($"{path}: line {lineNo}: not a result record ({e.Message})"); }
        }
        return list;
    }

    static void AppendResult(string path, DefaultsRun run)
    {
        using var f = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        var bytes = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(run) + "\n");
        f.Write(bytes);
        f.Flush(flushToDisk: true);
    }

    /// <summary>One (task, method) row: mean ± sd per factor, the default's share of the best mean, pass or not.</summary>
    public sealed record Row(string Task, string Method, bool TrainRest, string Metric, double DefaultLr,
        IReadOnlyList<(double Factor, double Lr, double Mean, double Std, int Runs)> Cells, double DefaultShare, double BestFactor)
    {
        public bool Passes => DefaultShare >= PassRatio;
    }

    public static IReadOnlyList<Row> Summarise(IReadOnlyList<DefaultsRun> runs) =>
        runs.GroupBy(r => (r.Task, r.Method, r.TrainRest)).Select(g =>
        {
            var cells = g.GroupBy(r => r.Factor).OrderBy(c => c.Key).Select(c =>
            {
                var (mean, std) = MethodComparisonReport.MeanStd(c.Select(r => r.Test));
                return (Factor: c.Key, Lr: c.First().LearningRate, Mean: mean, Std: std, Runs: c.Count());
            }).ToList();
            var best = cells.MaxBy(c => c.Mean);
            var def = cells.FirstOrDefault(c => c.Factor == 1.0);
            var share = def.Runs > 0 && best.Mean > 0 ? def.Mean / best.Mean : double.NaN;
            return new Row(g.Key.Task, g.Key.Method, g.Key.TrainRest, g.First().Metric, def.Lr, cells, share, best.Factor);
        }).ToList();

    public static string Markdown(IReadOnlyList<Row> rows, string command)
    {
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine("# Default learning rates: each method's default against a sweep around it").AppendLine();
        sb.AppendLine($"Command: `{command}`").AppendLine();
        sb.AppendLine("Test metric, mean ± sd over seeds, at the default learning rate times each factor; the default passes when its mean is " +
                      $"at least {PassRatio:P0} of the best factor's.").AppendLine();
        var factors = rows.SelectMany(r => r.Cells.Select(c => c.Factor)).Distinct().Order().ToList();
        sb.AppendLine($"| task | method | protocol | default lr | {string.Join(" | ", factors.Select(f => $"× {f.ToString("G", ci)}"))} | default / best | passes |");
        sb.AppendLine($"|---|---|---|---|{string.Concat(factors.Select(_ => "---|"))}---|---|");
        foreach (var r in rows)
        {
            var cells = factors.Select(f => r.Cells.FirstOrDefault(c => c.Factor == f) is { Runs: > 0 } c
                ? $"{c.Mean.ToString("F4", ci)} ± {c.Std.ToString("F4", ci)}{(f == r.BestFactor ? " (best)" : "")}" : "-");
            sb.AppendLine(ci, $"| {r.Task} | {r.Method} | {(r.TrainRest ? "train-rest" : "strict")} | {r.DefaultLr.ToString("0.##e0", ci)} | " +
                              $"{string.Join(" | ", cells)} | {r.DefaultShare.ToString("F3", ci)} | {(r.Passes ? "yes" : "**no**")} |");
        }
        return sb.ToString();
    }

    public static void Write(string outDir, IReadOnlyList<DefaultsRun> runs, string command)
    {
        var rows = Summarise(runs);
        AtomicFile.WriteAllText(Path.Combine(outDir, MarkdownFile), Markdown(rows, command));
        var json = new JsonObject
        {
            ["command"] = command,
            ["rows"] = new JsonArray(rows.Select(r => (JsonNode)new JsonObject
            {
                ["task"] = r.Task, ["method"] = r.Method, ["protocol"] = r.TrainRest ? "train-rest" : "strict", ["metric"] = r.Metric,
                ["default_lr"] = r.DefaultLr, ["default_share_of_best"] = double.IsFinite(r.DefaultShare) ? r.DefaultShare : null,
                ["passes"] = r.Passes, ["best_factor"] = r.BestFactor,
                ["cells"] = new JsonArray(r.Cells.Select(c => (JsonNode)new JsonObject
                {
                    ["factor"] = c.Factor, ["lr"] = c.Lr, ["mean"] = c.Mean, ["std"] = c.Std, ["runs"] = c.Runs,
                }).ToArray()),
            }).ToArray()),
        };
        AtomicFile.WriteAllText(Path.Combine(outDir, JsonFile), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}
