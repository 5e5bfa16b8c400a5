using System.CommandLine;
using System.Globalization;
using MlpKit.Data;
using MlpKit.Experiments;
using MlpKit.FineTuning;

namespace MlpKit.Cli.Commands;

/// <summary>
/// `mlpkit experiment defaults`: each method's default learning rate against a sweep around it, every other setting
/// at finetune's defaults, over seeds (<see cref="DefaultsExperiment"/>); writes the table as markdown and JSON.
/// </summary>
public static class DefaultsExperimentCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "use-lite, or an encoder model directory", DefaultValueFactory = _ => "use-lite" };
        var tasks = new Option<string>("--tasks", "--task") { Description = $"Comma-separated built-in tasks ({string.Join(", ", BuiltInTasks.Names)})", DefaultValueFactory = _ => "spam,wordnet45" };
        var methods = new Option<string>("--methods") { Description = $"Comma-separated methods ({string.Join(", ", FineTuneMethods.Names)})", DefaultValueFactory = _ => "full,lora,meprop,sparsegrad" };
        var seeds = new Option<int>("--seeds") { Description = "Seeds per cell (seed, seed+1, ...; --seed sets the first)", DefaultValueFactory = _ => 3 };
        var factors = new Option<string>("--factors") { Description = "Learning rates tried, as multiples of each method's default (must include 1)", DefaultValueFactory = _ => "0.25,1,4" };
        var steps = new Option<long>("--steps") { Description = "Optimizer steps per run", DefaultValueFactory = _ => 60 };
        var maxTrain = new Option<int?>("--max-train") { Description = "Training examples per run (seeded subsample)" };
        var maxEval = new Option<int?>("--max-eval") { Description = "Dev and test examples per run" };
        var maxLength = new Option<int>("--max-length") { DefaultValueFactory = _ => 128 };
        var trainRest = new Option<bool>("--train-rest") { Description = "Every method under the train-rest protocol (the SparseGrad paper's)" };
        var progress = new Option<bool>("--progress") { Description = "Live progress line for each run" };
        var output = new Option<string>("--out", "-o") { Description = "Output folder (results.jsonl, table, JSON); rerun the same command to continue a stopped sweep", DefaultValueFactory = _ => "defaults-experiment" }.OutputFolder();
        var command = new Command("defaults", "Check each method's default learning rate against a sweep around it (finetune's other defaults, several seeds)")
        {
            model, tasks, methods, seeds, factors, steps, maxTrain, maxEval, maxLength, trainRest, progress, output,
        };
        CliRun.SetAction(command, ctx =>
        {
            var factorList = new List<double>();
            foreach (var f in CliValues.List(ctx.Get(factors)))
                factorList.Add(double.TryParse(f, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0
                    ? v : throw new MlpKitException($"--factors {f}: expected a positive number"));
            var methodList = CliValues.List(ctx.Get(methods)).ToList();
            foreach (var m in methodList) FineTuneMethods.Get(m);
            if (ctx.Get(steps) < 1) throw new MlpKitException($"--steps {ctx.Get(steps)}: must be at least 1");
            var names = CliValues.List(ctx.Get(tasks));
            foreach (var name in names)
                if (!BuiltInTasks.IsBuiltIn(name))
                    throw new MlpKitException($"--tasks {name}: unknown built-in task (known: {string.Join(", ", BuiltInTasks.Names)})");
            ctx.InitTorch();
            var options = new DefaultsExperimentOptions
            {
                Model = ctx.Get(model), Tasks = names.Select(n => BuiltInTasks.LoadAny(n)).ToList(), Methods = methodList, Seeds = ctx.Get(seeds),
                BaseSeed = ctx.Seed, MaxTrain = ctx.GetOrNull(maxTrain), MaxEval = ctx.GetOrNull(maxEval), Steps = ctx.Get(steps),
                MaxLength = ctx.Get(maxLength), Factors = factorList, TrainRest = ctx.Get(trainRest), OutDir = ctx.Get(output), Progress = ctx.Get(progress),
            };
            var runs = DefaultsExperiment.Run(options, Console.Error.WriteLine, ctx.Cancel);
            var commandLine = "mlpkit " + string.Join(" ", Environment.GetCommandLineArgs().Skip(1));
            DefaultsExperiment.Write(options.OutDir, runs, commandLine);
            Console.Out.Write(DefaultsExperiment.Markdown(DefaultsExperiment.Summarise(runs), commandLine));
            Console.Out.WriteLine($"-> {Path.Combine(options.OutDir, DefaultsExperiment.MarkdownFile)}, {DefaultsExperiment.JsonFile}");
            return CliRun.Ok;
        });
        return command;
    }
}
