using System.CommandLine;
using System.Globalization;
using MlpKit.Compression;
using MlpKit.Ntk;
using ScottPlot;

namespace MlpKit.Cli.Commands;

/// <summary>
/// `mlpkit compress --model DIR|use-lite --method fusion --ratio 0.25 --out DIR [--report FILE.json]`: shrinks the
/// feed-forward blocks, writes a normal checkpoint and a report of output and NTK errors; `--sweep` compares methods
/// over several ratios (report and PNG plot, no checkpoint).
/// </summary>
public static class CompressCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "Model directory (zoo or USE-Lite checkpoint) or 'use-lite' (the asset)", Required = true };
        var method = new Option<string>("--method") { Description = $"Compression method: {string.Join(", ", CompressionMethods.Names)}", DefaultValueFactory = _ => "fusion" };
        var ratio = new Option<double?>("--ratio") { Description = "Fraction of each block's hidden neurons kept, in (0, 1]" };
        var hidden = new Option<int?>("--hidden") { Description = "Hidden width of every compressed block (instead of --ratio)" };
        var layers = new Option<string>("--layers") { Description = "Layers to compress: all, or indices such as 0,1", DefaultValueFactory = _ => "all" };
        var calib = new Option<string?>("--calib") { Description = "Calibration examples, one per line (USE-Lite: text; zoo models: token ids). Zoo default: random ids" };
        var calibSamples = new Option<int>("--calib-samples") { Description = "Calibration examples used", DefaultValueFactory = _ => 64 };
        var ntkSamples = new Option<int>("--ntk-samples") { Description = "Examples for the NTK error (0 skips it)", DefaultValueFactory = _ => 32 };
        var ntkKind = new Option<string>("--ntk-kind") { Description = "sign (Adam kernel, the paper's) or sgd", DefaultValueFactory = _ => "sign" };
        ntkKind.AcceptOnlyFromAmong("sign", "sgd");
        var restarts = new Option<int?>("--restarts") { Description = "k-means restarts (default 3; the reference code uses 30)" };
        var fold = new Option<bool>("--fold-scale") { Description = "Fusion: fold the cluster sizes into W2 instead of keeping them as a frozen scale" };
        var output = new Option<string?>("--out", "-o") { Description = "Directory for the compressed checkpoint" };
        var report = new Option<string?>("--report") { Description = "Write the JSON report here" };
        var sweep = new Option<string?>("--sweep") { Description = "Comma-separated ratios: compare methods at each (no checkpoint written)" };
        var methods = new Option<string>("--methods") { Description = "Methods compared by --sweep", DefaultValueFactory = _ => "fusion,fusion-noscale,prune,drop,sketch" };
        var plot = new Option<string?>("--plot") { Description = "PNG plot of NTK and output error vs ratio (with --sweep)" };
        var command = new Command("compress", "Compress feed-forward blocks (MLP Fusion and baselines) and report output/NTK errors")
        {
            model, method, ratio, hidden, layers, calib, calibSamples, ntkSamples, ntkKind, restarts, fold, output, report, sweep, methods, plot,
        };
        CliRun.SetAction(command, ctx =>
        {
            ctx.InitTorch();
            var spec = ctx.Get(model);
            var layerSet = ParseLayers(ctx.Get(layers));
            var kind = ctx.Get(ntkKind) == "sgd" ? NtkKind.Sgd : NtkKind.Sign;
            var km = new KMeansOptions { Restarts = ctx.GetOrNull(restarts) ?? new KMeansOptions().Restarts };
            if (km.Restarts < 1) throw new MlpKitException($"--restarts {km.Restarts}: must be at least 1");
            var scaleMode = ctx.Get(fold) ? ScaleMode.FoldIntoDown : ScaleMode.Standalone;
            if (ctx.Get(calibSamples) < 1) throw new MlpKitException($"--calib-samples {ctx.Get(calibSamples)}: must be at least 1");
            if (ctx.Get(ntkSamples) < 0) throw new MlpKitException($"--ntk-samples {ctx.Get(ntkSamples)}: must be 0 or more");

            ModelCompressionOptions Options(CompressibleModel m, ICompressionMethod meth, double? r, int? h)
            {
                var lines = ReadLines(ctx.GetOrNull(calib), Math.Max(ctx.Get(calibSamples), ctx.Get(ntkSamples)));
                ModelBatch cal, ntk;
                if (lines is null)
                {
                    if (m.TakesText) throw new MlpKitException("--calib: required for USE-Lite (a text file, one sentence per line)");
                    cal = m.RandomBatch(ctx.Get(calibSamples), 32, ctx.Seed);
                    ntk = m.RandomBatch(Math.Max(1, ctx.Get(ntkSamples)), 32, ctx.Seed + 1);
                }
                else
                {
                    cal = m.MakeBatch(lines.Take(ctx.Get(calibSamples)).ToList(), ctx.GetOrNull(calib)!);
                    ntk = m.MakeBatch(lines.Take(Math.Max(1, ctx.Get(ntkSamples))).ToList(), ctx.GetOrNull(calib)!);
                }
                return new ModelCompressionOptions
                {
                    Method = meth, Ratio = r, Hidden = h, Layers = layerSet, Seed = ctx.Seed, KMeans = km, ScaleMode = scaleMode,
                    Calibration = cal, NtkExamples = ctx.Get(ntkSamples) > 0 ? ntk : null, NtkKind = kind,
                    Progress = msg => Console.Error.WriteLine($"  {msg}"),
                };
            }

            if (ctx.GetOrNull(sweep) is { } sweepSpec)
            {
                var ratios = sweepSpec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v
                        : throw new MlpKitException($"--sweep {sweepSpec}: '{s}' is not a number")).ToList();
                foreach (var rr in ratios) TargetWidth.FromRatio(rr, 1 << 20, "--sweep");
                var meths = ctx.Get(methods).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(CompressionMethods.Get).ToList();
                var all = new List<CompressionReport>();
                foreach (var meth in meths)
                foreach (var rr in ratios)
                {
                    Console.Error.WriteLine($"{meth.Name} at ratio {rr}:");
                    using var m = CompressibleModel.Load(spec);
                    var res = ModelCompressor.Run(m, Options(m, meth, rr, null));
                    all.Add(res.Report);
                    Console.Out.WriteLine($"{meth.Name,-15} ratio {rr,-5} output error {res.Report.OutputError:G4}  ntk error {Fmt(res.Report.NtkError)}  ({res.Report.Seconds:F1} s)");
                }
                if (ctx.GetOrNull(report) is { } rp) CompressionReport.WriteAll(rp, all);
                if (ctx.GetOrNull(plot) is { } pp) Plot(all, pp);
                return CliRun.Ok;
            }

            var outDir = ctx.GetOrNull(output) ?? throw new MlpKitException("--out: required (the directory for the compressed checkpoint)");
            if (ctx.GetOrNull(ratio) is null && ctx.GetOrNull(hidden) is null) throw new MlpKitException("--ratio or --hidden: one is required");
            if (ctx.GetOrNull(ratio) is double rv) TargetWidth.FromRatio(rv, 1 << 20);
            var mth = CompressionMethods.Get(ctx.Get(method));
            using var mdl = CompressibleModel.Load(spec);
            Console.Out.WriteLine($"compressing {spec} ({mdl.Kind}) with {mth.Name}:");
            var result = ModelCompressor.Run(mdl, Options(mdl, mth, ctx.GetOrNull(ratio), ctx.GetOrNull(hidden)));
            Directory.CreateDirectory(outDir);
            mdl.Save(outDir);
            // A stale counts file from an earlier fusion run into the same folder would make finetune and ntk
            // rescale blocks that are no longer fused.
            if (result.Scales.Count > 0) FusionCounts.Save(outDir, result.Scales);
            else File.Delete(Path.Combine(outDir, FusionCounts.FileName));
            if (Directory.Exists(spec)) MlpKit.Tokenizers.TokenizerFiles.Copy(spec, outDir);
            if (ctx.GetOrNull(report) is { } reportPath) CompressionReport.WriteAll(reportPath, new[] { result.Report });
            var rep = result.Report;
            Console.Out.WriteLine($"{mth.Name}: hidden {rep.HiddenBefore} -> {rep.HiddenAfter}, output error {rep.OutputError:G4}, ntk error {Fmt(rep.NtkError)}, {rep.Seconds:F1} s; wrote {outDir}");
            return CliRun.Ok;
        });
        return command;
    }

    static string Fmt(double? v) => v is double d ? d.ToString("G4", CultureInfo.InvariantCulture) : "-";

    public static IReadOnlySet<int>? ParseLayers(string spec)
    {
        if (spec.Trim().Equals("all", StringComparison.OrdinalIgnoreCase)) return null;
        var set = new HashSet<int>();
        foreach (var part in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            set.Add(int.TryParse(part, out var i) && i >= 0 ? i : throw new MlpKitException($"--layers {spec}: '{part}' is not a layer index (use all or e.g. 0,1)"));
        if (set.Count == 0) throw new MlpKitException($"--layers {spec}: no layer given");
        return set;
    }

    /// <summary>Non-empty lines of a text file (the first <paramref name="max"/>), or null when no file was given.</summary>
    public static List<string>? ReadLines(string? path, int max)
    {
        if (path is null) return null;
        if (!File.Exists(path)) throw new MlpKitException($"{path}: file not found");
        var lines = File.ReadLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).Take(max).ToList();
        if (lines.Count == 0) throw new MlpKitException($"{path}: no non-empty lines");
        return lines;
    }

    static void Plot(IReadOnlyList<CompressionReport> reports, string path)
    {
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int i = 0;
        foreach (var g in reports.GroupBy(r => r.Method))
        {
            var color = palette.GetColor(i++);
            var xs = g.Select(r => r.Ratio ?? 0).ToArray();
            var o = plt.Add.Scatter(xs, g.Select(r => r.OutputError).ToArray(), color);
            o.LegendText = $"{g.Key} output";
            o.LinePattern = LinePattern.Dashed;
            if (g.All(r => r.NtkError is not null))
            {
                var n = plt.Add.Scatter(xs, g.Select(r => r.NtkError!.Value).ToArray(), color);
                n.LegendText = $"{g.Key} NTK";
            }
        }
        plt.Title($"{reports[0].Model}: relative error vs kept ratio");
        plt.XLabel("ratio of hidden neurons kept");
        plt.YLabel("relative error (solid: NTK, dashed: output)");
        plt.ShowLegend();
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        var tmp = path + ".tmp.png";
        plt.SavePng(tmp, 900, 600);
        File.Move(tmp, path, overwrite: true);
    }
}
