using System.CommandLine;
using System.Globalization;
using MlpKit.Compression;
using MlpKit.Ntk;

namespace MlpKit.Cli.Commands;

/// <summary>
/// `mlpkit compress --model DIR|NAME --method fusion --ratio 0.25 --out DIR [--report FILE.json]`: shrinks the
/// feed-forward blocks, writes a normal checkpoint and a report of output and NTK errors; `--sweep` compares methods
/// over several ratios (report and PNG plot, no checkpoint). The work is <see cref="CompressRun"/>'s.
/// </summary>
public static class CompressCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "Model directory (zoo or USE-Lite checkpoint) or a named model (minilm, arctic-xs, use-lite)", Required = true };
        var method = new Option<string>("--method") { Description = $"Compression method: {string.Join(", ", CompressionMethods.Names)} (default {CompressionMethods.Recommended}: the best measured on real models, see docs/fusion-results.md)", DefaultValueFactory = _ => CompressionMethods.Recommended };
        var ratio = new Option<double?>("--ratio") { Description = "Fraction of each block's hidden neurons kept, in (0, 1]" };
        var hidden = new Option<int?>("--hidden") { Description = "Hidden width of every compressed block (instead of --ratio)" };
        var budget = new Option<double?>("--budget") { Description = "Fraction of all feed-forward neurons kept, in (0, 1], with per-layer widths chosen by measured sensitivity (instead of --ratio)" };
        var layers = new Option<string>("--layers") { Description = "Layers to compress: all, or indices such as 0,1", DefaultValueFactory = _ => "all" };
        var examples = ExampleOptions.Create("Calibration examples, one per line");
        var ntkKind = new Option<string>("--ntk-kind") { Description = "sign (Adam kernel, the paper's) or sgd", DefaultValueFactory = _ => "sign" };
        ntkKind.AcceptOnlyFromAmong("sign", "sgd");
        var restarts = new Option<int?>("--restarts") { Description = "k-means restarts (default 3; the reference code uses 30)" };
        var fold = new Option<bool>("--fold-scale") { Description = "Fusion: fold the cluster sizes into W2 instead of keeping them as a frozen scale" };
        var output = new Option<string?>("--out", "-o") { Description = "Directory for the compressed checkpoint" }.OutputFolder();
        var report = new Option<string?>("--report") { Description = "Write the JSON report here" }.OutputFile();
        var sweep = new Option<string?>("--sweep") { Description = "Comma-separated ratios: compare methods at each (no checkpoint written)" };
        var methods = new Option<string>("--methods") { Description = "Methods compared by --sweep", DefaultValueFactory = _ => "fusion,fusion-noscale,prune,drop,sketch" };
        var repair = new Option<string>("--repair") { Description = "After compressing a block, re-fit its output weights on the calibration tokens: none, bias (FLAP-style) or lstsq (ridge least squares)", DefaultValueFactory = _ => "none" };
        repair.AcceptOnlyFromAmong("none", "bias", "lstsq");
        var repairTarget = new Option<string>("--repair-target") { Description = "block: match each block's own output; residual: also absorb the drift of its input (post-LN encoders)", DefaultValueFactory = _ => "block" };
        repairTarget.AcceptOnlyFromAmong("block", "residual");
        var sequential = new Option<bool>("--repair-sequential") { Description = "Repair each block on the activations of the already-compressed model before it (default: the original model's)" };
        var plot = new Option<string?>("--plot") { Description = "PNG plot of NTK and output error vs ratio (with --sweep)" }.OutputFile();
        var command = new Command("compress", "Compress feed-forward blocks (MLP Fusion and baselines) and report output/NTK errors")
        {
            model, method, ratio, hidden, budget, layers, ntkKind, restarts, fold, output, report, sweep, methods, plot, repair, repairTarget, sequential,
        };
        examples.AddTo(command);
        CliRun.SetAction(command, ctx =>
        {
            ctx.InitTorch();
            var km = new KMeansOptions { Restarts = ctx.GetOrNull(restarts) ?? new KMeansOptions().Restarts };
            if (km.Restarts < 1) throw new MlpKitException($"--restarts {km.Restarts}: must be at least 1");
            var spec = new CompressSpec
            {
                Model = ctx.Get(model), Method = ctx.Get(method), Ratio = ctx.GetOrNull(ratio), Hidden = ctx.GetOrNull(hidden), Budget = ctx.GetOrNull(budget),
                Layers = CliValues.Layers(ctx.Get(layers)), Examples = examples.Read(ctx), NtkKind = ctx.Get(ntkKind) == "sgd" ? NtkKind.Sgd : NtkKind.Sign,
                KMeans = km, ScaleMode = ctx.Get(fold) ? ScaleMode.FoldIntoDown : ScaleMode.Standalone, Seed = ctx.Seed,
                Out = ctx.GetOrNull(output), Report = ctx.GetOrNull(report), Plot = ctx.GetOrNull(plot),
                Sweep = ctx.GetOrNull(sweep) is { } s ? CliValues.Numbers("--sweep", s) : null, SweepMethods = CliValues.List(ctx.Get(methods)),
                Repair = Repair.Parse(ctx.Get(repair)), Sequential = ctx.Get(sequential), ResidualTarget = ctx.Get(repairTarget) == "residual",
            };
            if (spec.Sweep is not null)
            {
                CompressRun.Sweep(spec, msg => Console.Error.WriteLine(msg), r => Console.Out.WriteLine(
                    $"{r.Method,-15} ratio {r.Ratio,-5} output error {CliValues.Format(r.HeldoutError ?? r.OutputError)}  cosine {CliValues.Format(r.HeldoutCosine)}  ntk error {CliValues.Format(r.NtkError)}  ({r.Seconds:F1} s)"));
                return CliRun.Ok;
            }
            var rep = CompressRun.Run(spec, msg => Console.Error.WriteLine(msg));
            Console.Out.WriteLine($"{rep.Method}: hidden {rep.HiddenBefore} -> {rep.HiddenAfter}, output error {CliValues.Format(rep.OutputError)} (calibration)" +
                                  (rep.HeldoutError is null ? "" : $", {CliValues.Format(rep.HeldoutError)} held-out, {rep.Output} cosine {CliValues.Format(rep.HeldoutCosine)}") +
                                  $", ntk error {CliValues.Format(rep.NtkError)}, {rep.Seconds:F1} s; wrote {spec.Out}");
            return CliRun.Ok;
        });
        return command;
    }
}
