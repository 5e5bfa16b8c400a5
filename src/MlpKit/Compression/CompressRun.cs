using MlpKit.Checkpoints;
using MlpKit.Models;
using MlpKit.Ntk;
using MlpKit.Reporting;
using MlpKit.Tokenizers;

namespace MlpKit.Compression;

/// <summary>Everything `mlpkit compress` needs, parsed.</summary>
public sealed record CompressSpec
{
    public required string Model { get; init; }
    public string Method { get; init; } = CompressionMethods.Recommended;
    public double? Ratio { get; init; }
    public double? Budget { get; init; }
    public int? Hidden { get; init; }
    public IReadOnlySet<int>? Layers { get; init; }
    public ExampleSources Examples { get; init; } = new();
    public NtkKind NtkKind { get; init; } = NtkKind.Sign;
    public KMeansOptions KMeans { get; init; } = new();
    public ScaleMode ScaleMode { get; init; } = ScaleMode.Standalone;
    public long Seed { get; init; }
    public string? Out { get; init; }
    public string? Report { get; init; }
    /// <summary>Ratios to compare (no checkpoint written).</summary>
    public IReadOnlyList<double>? Sweep { get; init; }
    public IReadOnlyList<string> SweepMethods { get; init; } = ["fusion", "fusion-noscale", "prune", "drop", "sketch"];
    public string? Plot { get; init; }
    public RepairMode Repair { get; init; } = RepairMode.None;
    public bool Sequential { get; init; }
    public bool ResidualTarget { get; init; }
}

/// <summary>
/// `mlpkit compress`: loads the model, builds the calibration / NTK / held-out examples, compresses, and writes
/// the checkpoint folder as a whole (temp sibling + rename: config.json, weights, fusion counts, tokenizer and
/// sentence-pooling files together) and the report; or, with a sweep, compares methods over ratios.
/// </summary>
public static class CompressRun
{
    public static CompressionReport Run(CompressSpec s, Action<string> log)
    {
        var method = CompressionMethods.Get(s.Method);
        if ((s.Ratio is null ? 0 : 1) + (s.Hidden is null ? 0 : 1) + (s.Budget is null ? 0 : 1) != 1)
            throw new MlpKitException("--ratio, --hidden or --budget: exactly one is required");
        if (s.Budget is double bud) WidthBudget.Total(bud, [1]);
        if (s.Ratio is double r) TargetWidth.FromRatio(r, 1 << 20);
        var outDir = s.Out ?? throw new MlpKitException("--out: required (the folder for the compressed checkpoint)");
        if (File.Exists(outDir)) throw new MlpKitException($"{outDir}: exists and is a file; --out names a folder");
        s.Examples.Validate();
        using var model = CompressibleModel.Load(s.Model);
        var examples = CompressionExamples.Build(model, s.Examples);
        WarnIfFewTokens(model, examples, log);
        var result = ModelCompressor.Run(model, Options(s, model, method, s.Ratio, s.Hidden, examples, log) with
        {
            Budget = s.Budget,
            Header = $"compressing {s.Model} ({model.Kind}) with {method.Name}; examples: {examples.Description}",
        });
        var source = ModelSource.DirectoryOrNull(s.Model);
        AtomicDirectory.Write(outDir, dir =>
        {
            model.Save(dir);
            // Fused blocks keep their cluster sizes for finetune and ntk; a folder without them has none.
            if (result.Scales.Count > 0) FusionCounts.Save(dir, result.Scales);
            if (source is not null) TokenizerFiles.Copy(source, dir);
        });
        if (s.Report is { } reportPath) CompressionReport.WriteAll(reportPath, [result.Report]);
        return result.Report;
    }

    /// <summary>The least-squares fits (prune-obs, --repair lstsq) need more calibration tokens than a block has neurons to be well posed.</summary>
    static void WarnIfFewTokens(CompressibleModel model, CompressionExamples examples, Action<string> log)
    {
        long tokens = examples.Calibration.Mask.sum().item<long>();
        long widest = model.Blocks.Count == 0 ? 0 : model.Blocks.Max(b => b.HiddenDim);
        if (tokens <= widest)
            log($"warning: {tokens} calibration tokens for blocks of up to {widest} neurons: the least-squares fits are ridge-dominated; " +
                "give more calibration text (--calib, --calib-samples) for a better model");
    }

    public static IReadOnlyList<CompressionReport> Sweep(CompressSpec s, Action<string> log, Action<CompressionReport> each)
    {
        var ratios = s.Sweep ?? throw new ArgumentException("no sweep ratios", nameof(s));
        foreach (var r in ratios) TargetWidth.FromRatio(r, 1 << 20, "--sweep");
        var methods = s.SweepMethods.Select(CompressionMethods.Get).ToList();
        s.Examples.Validate();
        var all = new List<CompressionReport>();
        foreach (var method in methods)
        foreach (var r in ratios)
        {
            log($"{method.Name} at ratio {r}:");
            using var model = CompressibleModel.Load(s.Model);
            var examples = CompressionExamples.Build(model, s.Examples);
            var res = ModelCompressor.Run(model, Options(s, model, method, r, null, examples, log));
            all.Add(res.Report);
            each(res.Report);
        }
        if (s.Report is { } rp) CompressionReport.WriteAll(rp, all);
        if (s.Plot is { } pp) CompressionSweepPlot.Write(all, pp);
        return all;
    }

    static ModelCompressionOptions Options(CompressSpec s, CompressibleModel m, ICompressionMethod method, double? ratio, int? hidden,
        CompressionExamples ex, Action<string> log) => new()
    {
        Method = method, Ratio = ratio, Hidden = hidden, Layers = s.Layers, Seed = s.Seed, KMeans = s.KMeans, ScaleMode = s.ScaleMode,
        Calibration = ex.Calibration, NtkExamples = ex.Ntk, Heldout = ex.Heldout, NtkKind = s.NtkKind,
        Repair = s.Repair, Sequential = s.Sequential, ResidualTarget = s.ResidualTarget,
        Progress = msg => log($"  {msg}"),
    };
}
