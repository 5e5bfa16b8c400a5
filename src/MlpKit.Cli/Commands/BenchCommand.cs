using System.CommandLine;
using System.Text.Json;
using MlpKit.Ffn.Variants;
using Spectre.Console;

namespace MlpKit.Cli.Commands;

/// <summary>`mlpkit bench moe --experts 8,16,32,64 [--json]`: σ-MoE vs parameter-equal dense FFN speed.</summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var command = new Command("bench", "Speed benchmarks");
        command.Subcommands.Add(CreateMoe());
        return command;
    }

    static Command CreateMoe()
    {
        var experts = new Option<string>("--experts") { Description = "Comma-separated expert counts N_E", DefaultValueFactory = _ => "8,16,32,64" };
        var dModel = new Option<long>("--d-model") { Description = "Width of the residual stream", DefaultValueFactory = _ => 512 };
        var expertSize = new Option<long>("--expert-size") { Description = "Hidden units per expert (G)", DefaultValueFactory = _ => 128 };
        var k = new Option<long>("--k") { Description = "Experts per token (K)", DefaultValueFactory = _ => 4 };
        var tokens = new Option<long>("--tokens") { Description = "Tokens per forward+backward step", DefaultValueFactory = _ => 4096 };
        var reps = new Option<int>("--reps") { Description = "Timed repetitions per size (after 2 warm-ups); medians and minima are reported", DefaultValueFactory = _ => 5 };
        var kernel = new Option<string>("--kernel") { Description = "Expert path: auto, sorted, paddedbmm or sortedonethread", DefaultValueFactory = _ => "auto" };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table" };
        var command = new Command("moe", "Forward+backward time and peak memory of σ-MoE vs the parameter-equal dense FFN (2 threads unless --threads)")
            { experts, dModel, expertSize, k, tokens, reps, kernel, json };
        CliRun.SetAction(command, ctx =>
        {
            ctx.InitTorch();
            // The targets are stated for 2 threads; libtorch's default would use every core.
            if (ctx.Threads == 0) Runtime.TorchRuntime.SetThreads(2);
            var ne = ParseExperts(ctx.Get(experts));
            if (!Enum.TryParse<MoeKernelMode>(ctx.Get(kernel), ignoreCase: true, out var mode))
                throw new MlpKitException($"--kernel {ctx.Get(kernel)}: expected auto, sorted, paddedbmm or sortedonethread");
            if (ctx.Get(reps) < 1) throw new MlpKitException($"--reps {ctx.Get(reps)}: must be at least 1");
            if (ctx.Get(tokens) < 1) throw new MlpKitException($"--tokens {ctx.Get(tokens)}: must be at least 1");
            var asJson = ctx.Get(json);
            var rows = MoeSpeedBenchmark.Run(ne, ctx.Get(dModel), ctx.Get(expertSize), ctx.Get(k), ctx.Get(tokens),
                reps: ctx.Get(reps), mode: mode, log: asJson || !ctx.Verbose ? null : Console.Error.WriteLine);
            if (asJson) Console.Out.WriteLine(JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true }));
            else Render(rows);
            return CliRun.Ok;
        });
        return command;
    }

    static long[] ParseExperts(string s)
    {
        var parts = s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var r = new long[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!long.TryParse(parts[i], out r[i]) || r[i] < 1)
                throw new MlpKitException($"--experts {s}: '{parts[i]}' is not a positive integer");
        if (r.Length == 0) throw new MlpKitException("--experts: give at least one expert count");
        return r;
    }

    static void Render(IReadOnlyList<MoeSpeedRow> rows)
    {
        var t = new Table()
            .AddColumn("N_E").AddColumn("dense d_ff").AddColumn("dense ms").AddColumn("σ-MoE ms").AddColumn("ratio_vs_dense")
            .AddColumn("ratio (min)").AddColumn("ratio (paired)").AddColumn("MAC ratio").AddColumn("peak MiB dense/moe").AddColumn("kernel");
        foreach (var r in rows)
            t.AddRow($"{r.NExperts}", $"{r.DenseDFf}", $"{r.DenseMs:F1}", $"{r.MoeMs:F1}", $"{r.RatioVsDense:F3}",
                $"{r.RatioVsDenseMin:F3}", $"{r.RatioPairedMedian:F3}", $"{r.MacRatio:F3}", $"{r.DensePeakMiB:F0}/{r.MoePeakMiB:F0}", $"{r.Kernel} ×{r.PaddingOverhead:F2}");
        AnsiConsole.Write(t);
        if (rows.Count > 0)
            AnsiConsole.WriteLine($"d_model {rows[0].DModel}, G {rows[0].ExpertSize}, K {rows[0].K}, {rows[0].Tokens} tokens, {rows[0].Threads} threads; times are medians of forward+backward, ratio (min) from the fastest repetitions, ratio (paired) the median of adjacent MoE/dense step ratios");
    }
}
