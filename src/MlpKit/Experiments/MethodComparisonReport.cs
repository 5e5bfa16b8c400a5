using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.Json;
using System.Text;
using MlpKit.Checkpoints;
using ScottPlot;

namespace MlpKit.Experiments;

/// <summary>
/// Mean and sample standard deviation over seeds of one (task, method) cell: the task's main metric (accuracy, or
/// pearson for regression) and the one beside it (macro_f1, or spearman).
/// </summary>
public sealed record MethodSummary(string Task, string Method, int Runs, string Metric, string SecondMetric,
    double ScoreMean, double ScoreStd, double SecondMean, double SecondStd,
    double FirstLossMean, double LastLossMean, long TrainableParameters, long OptimizerStateBytes,
    long MlpOptimizerStateBytes, long? PeakRssBytes, double SecondsMean, IReadOnlyDictionary<string, string> Options);

/// <summary>Writes the fine-tuning comparison as markdown, JSON and a bar plot (PNG), each atomically.</summary>
public static class MethodComparisonReport
{
    public const string MarkdownFile = "sparsegrad-results.md";
    public const string JsonFile = "sparsegrad-results.json";
    public const string PlotFile = "sparsegrad-results.png";

    public static IReadOnlyList<MethodSummary> Summarise(IReadOnlyList<ExperimentRun> runs) =>
        runs.GroupBy(r => (r.Task, r.Method))
            .Select(g =>
            {
                var rs = g.ToList();
                var (am, asd) = MeanStd(rs.Select(r => r.TestScore));
                var (fm, fsd) = MeanStd(rs.Select(r => r.TestSecond));
                var first = rs.Where(r => r.FirstTrainLoss.HasValue).Select(r => r.FirstTrainLoss!.Value).ToList();
                var peaks = rs.Where(r => r.PeakRssBytes.HasValue).Select(r => r.PeakRssBytes!.Value).ToList();
                return new MethodSummary(g.Key.Task, g.Key.Method, rs.Count, rs[0].Metric, rs[0].SecondMetric, am, asd, fm, fsd,
                    first.Count > 0 ? first.Average() : double.NaN, rs.Average(r => r.LastTrainLoss),
                    rs.Max(r => r.TrainableParameters), rs.Max(r => r.OptimizerStateBytes), rs.Max(r => r.MlpOptimizerStateBytes),
                    peaks.Count > 0 ? peaks.Max() : null, rs.Average(r => r.TrainSeconds), rs[0].Options);
            })
            .ToList();

    /// <summary>Sample standard deviation (n - 1); 0 for a single run.</summary>
    public static (double Mean, double Std) MeanStd(IEnumerable<double> values)
    {
        var v = values.ToList();
        if (v.Count == 0) return (double.NaN, double.NaN);
        var mean = v.Average();
        var std = v.Count > 1 ? Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Count - 1)) : 0;
        return (mean, std);
    }

    public static void Write(string outDir, MemoryBudget budget, IReadOnlyList<ExperimentRun> runs, string command)
    {
        Directory.CreateDirectory(outDir);
        var summary = Summarise(runs);
        AtomicFile.WriteAllText(Path.Combine(outDir, MarkdownFile), Markdown(budget, summary, command));
        AtomicFile.WriteAllText(Path.Combine(outDir, JsonFile), Json(budget, summary, runs, command).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        AtomicFile.WriteAllBytes(Path.Combine(outDir, PlotFile), Plot(summary));
    }

    static string F(double v, string fmt = "F4") => double.IsFinite(v) ? v.ToString(fmt, CultureInfo.InvariantCulture) : "-";
    static string MiB(long? b) => b is { } x ? (x / 1048576.0).ToString("F2", CultureInfo.InvariantCulture) : "-";
    /// <summary>How a metric key reads in the table and the plot.</summary>
    public static string Display(string metric) => metric switch
    {
        "macro_f1" => "macro-F1",
        "pearson" => "Pearson",
        "spearman" => "Spearman",
        _ => metric,
    };

    static string Opts(IReadOnlyDictionary<string, string> o) => o.Count == 0 ? "-" : string.Join(", ", o.Select(kv => $"{kv.Key}={kv.Value}"));

    public static string Markdown(MemoryBudget budget, IReadOnlyList<MethodSummary> summary, string command)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# SparseGrad vs LoRA, MeProp and full fine-tuning at a matched memory budget").AppendLine();
        sb.AppendLine($"Command: `{command}`").AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Budget: SparseGrad density {budget.Density} trains {budget.SparseGradEntries:N0} MLP entries; " +
                      $"LoRA rank {budget.LoraRank} trains {budget.LoraEntries:N0} ({budget.LoraPerRank:N0} per rank); MeProp keep {budget.MePropKeep} of each output-gradient row.").AppendLine();
        // One metric pair for the whole table names the columns; a mix (classification and regression tasks) names
        // the metric in each cell.
        var oneKind = summary.Select(s => (s.Metric, s.SecondMetric)).Distinct().Count() <= 1;
        var (m1, m2) = oneKind && summary.Count > 0 ? (Display(summary[0].Metric), Display(summary[0].SecondMetric)) : ("metric", "second metric");
        string Cell(string metric, double mean, double std) => (oneKind ? "" : Display(metric) + " ") + $"{F(mean)} ± {F(std)}";
        sb.AppendLine($"| task | method | options | runs | test {m1} | test {m2} | train loss first → last | trainable params | optimizer state MiB (MLP part) | peak RSS MiB | train s |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var s in summary)
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {s.Task} | {s.Method} | {Opts(s.Options)} | {s.Runs} | {Cell(s.Metric, s.ScoreMean, s.ScoreStd)} | {Cell(s.SecondMetric, s.SecondMean, s.SecondStd)} | " +
                $"{F(s.FirstLossMean, "F3")} → {F(s.LastLossMean, "F3")} | {s.TrainableParameters:N0} | {MiB(s.OptimizerStateBytes)} ({MiB(s.MlpOptimizerStateBytes)}) | {MiB(s.PeakRssBytes)} | {F(s.SecondsMean, "F1")} |");
        return sb.ToString();
    }

    static JsonObject Json(MemoryBudget budget, IReadOnlyList<MethodSummary> summary, IReadOnlyList<ExperimentRun> runs, string command)
    {
        static JsonNode? N(double v) => double.IsFinite(v) ? v : null;
        static JsonObject O(IReadOnlyDictionary<string, string> o) => new(o.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value)));
        return new JsonObject
        {
            ["command"] = command,
            ["budget"] = new JsonObject
            {
                ["density"] = budget.Density, ["sparsegrad_entries"] = budget.SparseGradEntries,
                ["lora_rank"] = budget.LoraRank, ["lora_entries"] = budget.LoraEntries, ["meprop_keep"] = budget.MePropKeep,
            },
            ["summary"] = new JsonArray(summary.Select(s => (JsonNode)new JsonObject
            {
                ["task"] = s.Task, ["method"] = s.Method, ["options"] = O(s.Options), ["runs"] = s.Runs,
                ["metric"] = s.Metric, ["second_metric"] = s.SecondMetric,
                [$"test_{s.Metric}_mean"] = N(s.ScoreMean), [$"test_{s.Metric}_std"] = N(s.ScoreStd),
                [$"test_{s.SecondMetric}_mean"] = N(s.SecondMean), [$"test_{s.SecondMetric}_std"] = N(s.SecondStd),
                ["first_train_loss_mean"] = N(s.FirstLossMean), ["last_train_loss_mean"] = N(s.LastLossMean),
                ["trainable_parameters"] = s.TrainableParameters, ["optimizer_state_bytes"] = s.OptimizerStateBytes,
                ["mlp_optimizer_state_bytes"] = s.MlpOptimizerStateBytes, ["peak_rss_bytes"] = s.PeakRssBytes,
                ["train_seconds_mean"] = N(s.SecondsMean),
            }).ToArray()),
            ["runs"] = new JsonArray(runs.Select(r => (JsonNode)new JsonObject
            {
                ["task"] = r.Task, ["method"] = r.Method, ["seed"] = r.Seed, ["options"] = O(r.Options),
                [$"dev_{r.Metric}"] = N(r.DevScore), [$"test_{r.Metric}"] = N(r.TestScore), [$"test_{r.SecondMetric}"] = N(r.TestSecond),
                ["first_train_loss"] = r.FirstTrainLoss is { } f ? N(f) : null, ["last_train_loss"] = N(r.LastTrainLoss),
                ["trainable_parameters"] = r.TrainableParameters, ["optimizer_state_bytes"] = r.OptimizerStateBytes,
                ["mlp_optimizer_state_bytes"] = r.MlpOptimizerStateBytes, ["gradient_bytes"] = r.GradientBytes,
                ["peak_rss_bytes"] = r.PeakRssBytes, ["train_seconds"] = N(r.TrainSeconds), ["total_seconds"] = N(r.TotalSeconds), ["steps"] = r.Steps,
            }).ToArray()),
        };
    }

    /// <summary>Grouped bars: one group per task and metric (accuracy and macro-F1, or Pearson and Spearman), one bar per method, ± std as error bars.</summary>
    static byte[] Plot(IReadOnlyList<MethodSummary> summary)
    {
        var plt = new Plot();
        plt.Title("Fine-tuning at a matched memory budget (test, mean ± std over seeds)");
        var methods = summary.Select(s => s.Method).Distinct().ToList();
        var tasks = summary.Select(s => s.Task).Distinct().ToList();
        var palette = new ScottPlot.Palettes.Category10();
        var bars = new List<Bar>();
        var ticks = new List<Tick>();
        double x = 0;
        foreach (var task in tasks)
            foreach (var second in new[] { false, true })
            {
                var first = summary.First(v => v.Task == task);
                var metric = Display(second ? first.SecondMetric : first.Metric);
                var start = x;
                for (var i = 0; i < methods.Count; i++)
                {
                    var s = summary.FirstOrDefault(v => v.Task == task && v.Method == methods[i]);
                    if (s is not null)
                    {
                        var (mean, std) = second ? (s.SecondMean, s.SecondStd) : (s.ScoreMean, s.ScoreStd);
                        bars.Add(new Bar { Position = x, Value = double.IsFinite(mean) ? mean : 0, Error = double.IsFinite(std) ? std : 0, FillColor = palette.GetColor(i) });
                    }
                    x += 1;
                }
                ticks.Add(new Tick((start + x - 1) / 2, $"{task}\n{metric}"));
                x += 1;
            }
        plt.Add.Bars(bars);
        plt.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.ToArray());
        for (var i = 0; i < methods.Count; i++)
            plt.Legend.ManualItems.Add(new LegendItem { LabelText = methods[i], FillColor = palette.GetColor(i) });
        plt.ShowLegend(Edge.Right);   // outside the data area: bars of any height stay visible
        plt.YLabel("test score");
        // A correlation can be negative; accuracies and correlations both stay below 1.
        plt.Axes.SetLimitsY(Math.Min(0, bars.Count == 0 ? 0 : bars.Min(b => b.Value - b.Error) - 0.05), 1.05);
        return plt.GetImageBytes(900, 520, ImageFormat.Png);
    }
}
