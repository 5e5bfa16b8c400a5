using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.Json;
using System.Text;
using MlpKit.Checkpoints;
using MlpKit.Lm;
using MlpKit.Reporting;
using MlpKit.Training;
using ScottPlot;
using static TorchSharp.torch;

namespace MlpKit.Experiments;

/// <summary>One row of the experiment's results table.</summary>
public sealed record ExperimentRow(string Ffn, long Parameters, long FfnParameters, double FfnMacsPercent, double NominalComputePercent,
    double ValidLoss, double ValidPerplexity, double ValidBitsPerChar, double TokensPerSecond, long Steps, double MeanUsageEntropy);

/// <summary>
/// The paper's comparison at our scale: a parameter-equal family (dense, topk, pkm improved, σ-MoE, switch) trained
/// with the same steps, batch, schedule, data order and seed on SOTU byte-level, each into OUT/VARIANT, then
/// results.md / results.json / loss_curves.png / usage.png in OUT. The step count comes from a time budget: every
/// variant's step time is measured on a few warm steps and the steps are chosen so the whole family fits.
/// </summary>
public static class SigmaMoeExperiment
{
    public static readonly string[] DefaultVariants = ["dense", "topk", "pkm", "sigma-moe", "switch"];

    /// <summary>The family's common shape: small enough for ≈60 minutes on 2 idle cores with the default budget.</summary>
    public static LmRunSpec DefaultSpec(long seed) => new()
    {
        Data = "sotu", Tokenizer = "byte", Experts = 16, ExpertSize = 32, K = 4, ParamsEqual = true, PkmHeads = 4, PkmKnn = 32,
        Layers = 4, DModel = 128, Heads = 4, Context = 128, Batch = 16, Lr = 2e-3, Gamma = 1e-3, Seed = seed,
        EvalTokens = 16384, ReportTokens = 65536,
    };

    /// <summary>
    /// Budget (minutes, or steps when positive), report folder, variants and base spec. Resume continues a stopped
    /// experiment in OutDir: finished variants are reused, an interrupted one continues from its checkpoint, and the step
    /// count comes from the runs already there.
    /// </summary>
    public sealed record Options(double Minutes, string OutDir, long Steps = 0, IReadOnlyList<string>? Variants = null, LmRunSpec? Spec = null,
        bool Resume = false);

    public static IReadOnlyList<ExperimentRow> Run(Options o, long seed, CancellationToken cancel = default, Action<string>? log = null)
    {
        var variants = o.Variants ?? DefaultVariants;
        var baseSpec = o.Spec ?? DefaultSpec(seed);
        Directory.CreateDirectory(o.OutDir);
        var steps = o.Steps > 0 ? o.Steps : o.Resume ? StepsOfExistingRuns(o.OutDir, variants) : PlanSteps(baseSpec, variants, o.Minutes, log, cancel);
        var evals = 4;
        var spec = baseSpec with
        {
            Steps = steps, Warmup = Math.Max(1, steps / 10), EvalEvery = (steps + evals - 1) / evals, CheckpointEvery = (steps + evals - 1) / evals,   // the last periodic one is the final step
        };
        log?.Invoke($"experiment: {steps} steps × {spec.Batch}×{spec.Context} tokens per variant, variants {string.Join(", ", variants)}");

        var rows = new List<ExperimentRow>();
        var reports = new List<(string Ffn, LmRunReport Report)>();
        foreach (var v in variants)
        {
            cancel.ThrowIfCancellationRequested();
            var runDir = Path.Combine(o.OutDir, RunName(v));
            var sw = Stopwatch.StartNew();
            var report = TrainOrReuse(v, spec.WithVariant(v), runDir, o.Resume, cancel, log);
            if (report.Interrupted)
            {
                log?.Invoke($"{v}: stopped; checkpoint saved in {runDir}. Run the same command with --resume to continue.");
                throw new OperationCanceledException();
            }
            log?.Invoke($"{v}: valid ppl {report.ValidPerplexity:F3}, {report.ValidBitsPerChar:F3} bits/char, {report.TokensPerSecond:F0} tok/s ({sw.Elapsed.TotalMinutes:F1} min)");
            reports.Add((v, report));
            rows.Add(new ExperimentRow(v, report.Parameters, report.FfnParameters, report.FfnMacsPercent, report.NominalComputePercent,
                report.ValidLoss, report.ValidPerplexity, report.ValidBitsPerChar, report.TokensPerSecond, report.Steps,
                report.Usage.Count == 0 || report.Usage.All(u => u.Counts.Length == 0) ? double.NaN : report.Usage.Average(u => u.NormalizedEntropy)));
        }
        WriteResults(o.OutDir, spec, rows);
        WriteLossCurves(o.OutDir, variants);
        UsagePlot.Write(Path.Combine(o.OutDir, "usage.png"), "expert usage on the valid split (MoE variants, every layer)",
            reports.Where(r => r.Report.Ffn is "sigma-moe" or "switch" or "s-base").SelectMany(r => r.Report.Usage.Select(u => ($"{r.Ffn} L{u.Layer}", u))));
        return rows;
    }

    /// <summary>
    /// With resume, a variant whose report exists under the same config is not trained again and one with a checkpoint
    /// continues exactly from it; a different config in the folder is an error rather than a silent mix of two setups.
    /// </summary>
    static LmRunReport TrainOrReuse(string variant, LmRunSpec spec, string runDir, bool resume, CancellationToken cancel, Action<string>? log)
    {
        var configPath = Path.Combine(runDir, LmRunSpec.FileName);
        if (!resume || !File.Exists(configPath)) return LmRun.Train(spec, runDir, resume: false, cancel, progress: log is not null);
        if (LmRunSpec.Load(runDir) != spec)
            throw new MlpKitException($"{configPath}: this run was made with other settings than the experiment being resumed (steps, variant or seed); use a new --out");
        if (File.Exists(Path.Combine(runDir, LmRunReport.FileName)))
        {
            log?.Invoke($"{variant}: finished earlier, report reused from {runDir}");
            return LmRunReport.Load(runDir);
        }
        var canResume = TrainerCheckpoint.Resolve(Path.Combine(runDir, "checkpoint")) is not null;
        return LmRun.Train(spec, runDir, resume: canResume, cancel, progress: log is not null);
    }

    static long StepsOfExistingRuns(string outDir, IReadOnlyList<string> variants)
    {
        foreach (var v in variants)
        {
            var runDir = Path.Combine(outDir, RunName(v));
            if (File.Exists(Path.Combine(runDir, LmRunSpec.FileName))) return LmRunSpec.Load(runDir).Steps;
        }
        throw new MlpKitException($"{outDir}: no experiment runs to resume (no VARIANT/config.json); drop --resume");
    }

    /// <summary>
    /// Steps per variant so the family fits in the budget: each variant's step is timed (1 warm-up, 3 timed), an
    /// evaluation token is counted as a third of a training token, and 15% is kept for checkpoints and noise.
    /// </summary>
    public static long PlanSteps(LmRunSpec spec, IReadOnlyList<string> variants, double minutes, Action<string>? log, CancellationToken cancel = default)
    {
        if (!(minutes > 0)) throw new MlpKitException($"--minutes {minutes}: must be positive");
        var tokenizer = new ByteLmTokenizer();
        var stream = new LmTokenStream(Enumerable.Range(0, (int)(spec.Batch * (spec.Context + 1) * 4)).Select(i => (i * 7 + i / 13) % 256).ToArray(), 1, 256, "timing");
        double perStep = 0;
        foreach (var v in variants)
        {
            cancel.ThrowIfCancellationRequested();
            manual_seed(spec.Seed);
            using var model = new DecoderLm(spec.WithVariant(v).ModelConfig(tokenizer.VocabSize));
            var task = new LmTrainingTask(model, stream, stream, lanes: spec.Batch);
            var opt = optim.AdamW(model.parameters(), lr: 1e-4);
            double t = 0;
            for (int i = 0; i < 4; i++)
            {
                using var scope = NewDisposeScope();
                var sw = Stopwatch.StartNew();
                model.train();
                // Batch i is window i·batch.. for random windows, and segment i of every lane with xl (the stream holds 4).
                var loss = task.Loss(Enumerable.Range(i * spec.Batch, spec.Batch).ToArray());
                loss.backward();
                opt.step();
                opt.zero_grad();
                if (i > 0) t += sw.Elapsed.TotalSeconds;
            }
            t /= 3;
            log?.Invoke($"timing: {v} {t * 1000:F0} ms/step");
            perStep += t;
        }
        var tokensPerStep = (double)spec.Batch * spec.Context;
        var evalTokens = 4.0 * (spec.EvalTokens > 0 ? spec.EvalTokens : 1e6) + (spec.ReportTokens > 0 ? spec.ReportTokens : 1e6);
        var evalSeconds = perStep * evalTokens / tokensPerStep / 3;
        var budget = minutes * 60 * 0.85 - evalSeconds;
        var steps = (long)Math.Floor(budget / perStep);
        if (steps < 10) throw new MlpKitException($"--minutes {minutes}: too short for this family ({perStep:F2} s per step of all variants, {evalSeconds:F0} s of evaluation); give more minutes or --steps");
        return steps;
    }

    /// <summary>Folder name of a variant's run: "switch:experts=4,expert-size=128" → "switch-experts4-expert-size128".</summary>
    public static string RunName(string variant) =>
        variant.Replace(":", "-").Replace(",", "-").Replace("=", "");

    static void WriteResults(string outDir, LmRunSpec spec, IReadOnlyList<ExperimentRow> rows)
    {
        var ci = CultureInfo.InvariantCulture;
        var md = new StringBuilder();
        md.AppendLine($"Parameter-equal FFN family on {spec.Data} ({spec.Tokenizer}-level): {spec.Layers} layers, d_model {spec.DModel}, {spec.Heads} heads, {spec.Attention} attention, context {spec.Context}, " +
                      $"batch {spec.Batch}, {spec.Steps} steps, lr {spec.Lr.ToString(ci)} (cosine, {spec.Warmup} warm-up), seed {spec.Seed}; " +
                      $"MoE N_E={spec.Experts}, G={spec.ExpertSize}, K={spec.K}, γ={spec.Gamma.ToString(ci)}. Valid scores on the first {(spec.ReportTokens > 0 ? spec.ReportTokens.ToString(ci) : "all")} valid tokens.");
        md.AppendLine();
        md.AppendLine("| variant | params | FFN params | % FFN MACs (exact) | % FFN compute (K/N_E) | valid loss (nats/token) | valid ppl | bits/char | tokens/s | usage H/Hmax |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
            md.AppendLine(string.Create(ci, $"| {r.Ffn} | {r.Parameters:N0} | {r.FfnParameters:N0} | {r.FfnMacsPercent:F1} | {r.NominalComputePercent:F1} | {r.ValidLoss:F4} | {r.ValidPerplexity:F3} | {r.ValidBitsPerChar:F3} | {r.TokensPerSecond:F0} | {(double.IsNaN(r.MeanUsageEntropy) ? "-" : r.MeanUsageEntropy.ToString("F3", ci))} |"));
        AtomicFile.WriteAllText(Path.Combine(outDir, "results.md"), md.ToString());
        var json = new JsonObject
        {
            ["spec"] = JsonNode.Parse(JsonSerializer.Serialize(spec)),
            ["rows"] = JsonNode.Parse(JsonSerializer.Serialize(rows.Select(r => r with { MeanUsageEntropy = double.IsNaN(r.MeanUsageEntropy) ? -1 : r.MeanUsageEntropy }), LmRunReport.Json)),
        };
        AtomicFile.WriteAllText(Path.Combine(outDir, "results.json"), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>
    /// Train cross-entropy as a trailing mean over 10 logged points (single batches are too noisy to tell variants
    /// apart) and valid loss as markers; the y range leaves out the first 10% of steps, where every variant falls
    /// from ln(vocab), so the differences that matter are visible.
    /// </summary>
    static void WriteLossCurves(string outDir, IReadOnlyList<string> variants)
    {
        var plt = new Plot();
        plt.Title("train cross-entropy (mean of the last 10 logs) and valid loss (markers)");
        plt.XLabel("step");
        plt.YLabel("nats / token");
        var palette = new ScottPlot.Palettes.Category10();
        double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
        for (var i = 0; i < variants.Count; i++)
        {
            var path = Path.Combine(outDir, RunName(variants[i]), "metrics.jsonl");
            if (!File.Exists(path)) continue;
            var recs = MetricsLog.ReadAll(path);
            // A resumed run logs again the steps after its checkpoint: the last record of a step wins.
            List<(double Step, double Value)> Series(string kind, string field) => recs
                .Where(r => (string?)r["kind"] == kind && r[field] is JsonValue)
                .GroupBy(r => (long)r["step"]!).Select(g => ((double)g.Key, (double)g.Last()[field]!)).OrderBy(p => p.Item1).ToList();
            var train = Series("train", "ce");
            var eval = Series("eval", "loss");
            var smooth = train.Select((p, k) => (p.Step, Value: train.Skip(Math.Max(0, k - 9)).Take(Math.Min(10, k + 1)).Average(q => q.Value))).ToList();
            var color = palette.GetColor(i);
            var line = plt.Add.Scatter(smooth.Select(p => p.Step).ToArray(), smooth.Select(p => p.Value).ToArray());
            line.LegendText = $"{variants[i]} train";
            line.MarkerSize = 0;
            line.Color = color;
            var pts = plt.Add.Scatter(eval.Select(p => p.Step).ToArray(), eval.Select(p => p.Value).ToArray());
            pts.LegendText = $"{variants[i]} valid";
            pts.Color = color;
            pts.LineWidth = 0;
            pts.MarkerSize = 8;
            var last = smooth.Count > 0 ? smooth[^1].Step : 0;
            foreach (var (step, value) in smooth.Concat(eval).Where(p => p.Step >= 0.1 * last))
            {
                lo = Math.Min(lo, value);
                hi = Math.Max(hi, value);
            }
        }
        if (hi > lo) plt.Axes.SetLimitsY(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo));
        plt.ShowLegend(Edge.Right);
        AtomicFile.WriteAllBytes(Path.Combine(outDir, "loss_curves.png"), plt.GetImageBytes(1200, 600, ImageFormat.Png));
    }
}
