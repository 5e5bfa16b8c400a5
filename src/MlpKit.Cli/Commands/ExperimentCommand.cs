using System.CommandLine;
using MlpKit.Lm;
using MlpKit.Experiments;

namespace MlpKit.Cli.Commands;

/// <summary>
/// `mlpkit experiment sigma-moe|sparsegrad`: the papers' comparisons at our scale. `sigma-moe` trains the
/// parameter-equal LM family; `sparsegrad` lives in <see cref="SparseGradExperimentCommand"/>.
/// </summary>
public static class ExperimentCommand
{
    public static Command Create()
    {
        var command = new Command("experiment", "Reproduction experiments");
        command.Subcommands.Add(CreateSigmaMoe());
        command.Subcommands.Add(SparseGradExperimentCommand.Create());
        command.Subcommands.Add(DefaultsExperimentCommand.Create());
        return command;
    }

    static Command CreateSigmaMoe()
    {
        var minutes = new Option<double>("--minutes") { Description = "Time budget for the whole family (sets the steps per variant)", DefaultValueFactory = _ => 60 };
        var output = new Option<string>("--out") { Description = "Report folder", DefaultValueFactory = _ => "sigma-moe-report" }.OutputFolder();
        var steps = new Option<long>("--steps") { Description = "Steps per variant instead of the time budget" };
        var variants = new Option<string>("--variants") { Description = "Semicolon-separated variants; NAME or NAME:key=value,... (experts, expert-size, k, selection), e.g. sigma-moe:selection=softmax-after", DefaultValueFactory = _ => string.Join(";", SigmaMoeExperiment.DefaultVariants) };
        var attention = new Option<string>("--attention") { Description = "Attention of every variant: rope, or xl (Transformer-XL relative attention, consecutive segments with memory)", DefaultValueFactory = _ => "rope" };
        var resume = new Option<bool>("--resume") { Description = "Continue a stopped experiment in --out: finished variants are kept, an interrupted one continues from its checkpoint" };
        var command = new Command("sigma-moe", "Train dense, topk, pkm, sigma-moe and switch LMs at equal parameters, steps and seed on SOTU; write results.md/json and plots")
            { minutes, output, steps, variants, attention, resume };
        CliRun.SetAction(command, ctx =>
        {
            var list = ctx.Get(variants).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var spec = SigmaMoeExperiment.DefaultSpec(ctx.Seed) with { Attention = ctx.Get(attention) };
            foreach (var v in list) spec.WithVariant(v);   // bad names fail before any training
            ctx.InitTorch();
            var rows = SigmaMoeExperiment.Run(new SigmaMoeExperiment.Options(ctx.Get(minutes), ctx.Get(output), ctx.Get(steps), list, spec, ctx.Get(resume)),
                ctx.Seed, ctx.Cancel, Console.Error.WriteLine);
            Console.Out.Write(File.ReadAllText(Path.Combine(ctx.Get(output), "results.md")));
            return CliRun.Ok;
        });
        return command;
    }
}
