using System.CommandLine;
using System.Globalization;
using MlpKit.Data;
using MlpKit.FineTuning;
using MlpKit.Experiments;
using MlpKit.Reporting;

namespace MlpKit.Cli.Commands;

/// <summary>
/// `mlpkit experiment sparsegrad`: the SparseGrad paper's comparison (full, lora, meprop, sparsegrad at a
/// matched trainable-memory budget, several seeds) run in-process; writes the results table as markdown and
/// JSON and a bar plot into --out.
/// </summary>
public static class SparseGradExperimentCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "use-lite, or an encoder model directory", DefaultValueFactory = _ => "use-lite" };
        var tasks = new Option<string>("--tasks", "--task") { Description = $"Comma-separated built-in tasks ({string.Join(", ", BuiltInTasks.Names)}; sotu-year is regression: Pearson and Spearman)", DefaultValueFactory = _ => "spam,wordnet45" };
        var train = new Option<string?>("--train") { Description = "A user task instead of --tasks: training file (TSV, CSV or JSONL with named columns)" };
        var dev = new Option<string?>("--dev") { Description = "User task dev file" };
        var test = new Option<string?>("--test") { Description = "User task test file (default: the dev file)" };
        var methods = new Option<string>("--methods") { Description = $"Comma-separated methods ({string.Join(", ", FineTuneMethods.Names)}; fusion+sparsegrad keeps --density on its fused MLPs)", DefaultValueFactory = _ => "full,lora,meprop,sparsegrad" };
        var seeds = new Option<int>("--seeds") { Description = "Seeds per task and method (seed, seed+1, ...; --seed sets the first)", DefaultValueFactory = _ => 3 };
        var density = new Option<double>("--density") { Description = "SparseGrad density; fixes the memory budget LoRA and MeProp are matched to", DefaultValueFactory = _ => 0.01 };
        var maxTrain = new Option<int?>("--max-train") { Description = "Training examples per run (seeded subsample)" };
        var maxEval = new Option<int?>("--max-eval") { Description = "Dev and test examples per run" };
        var steps = new Option<long>("--steps") { Description = "Optimizer steps per run", DefaultValueFactory = _ => 100 };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 16 };
        var lr = new Option<double?>("--lr") { Description = $"One learning rate for every method (default: each method's own, {FineTuneMethods.DescribeLearningRates()})" };
        var trainRest = new Option<bool>("--train-rest") { Description = "Every method also trains everything but the MLP linears (the SparseGrad paper's protocol)" };
        var methodLr = new Option<string[]>("--method-lr") { Description = "Per-method learning rate as method=value (e.g. full=2e-4)", AllowMultipleArgumentsPerToken = true };
        var calib = new Option<int>("--calibration-steps") { Description = "SparseGrad calibration batches", DefaultValueFactory = _ => 10 };
        var maxLength = new Option<int>("--max-length") { DefaultValueFactory = _ => 128 };
        var progress = new Option<bool>("--progress") { Description = "Live progress line for each run" };
        var output = new Option<string>("--out", "-o") { Description = "Output folder (table, JSON, plot, runs/)", DefaultValueFactory = _ => "sparsegrad-experiment" }.OutputFolder();

        var command = new Command("sparsegrad", "Fine-tune with full, lora, meprop and sparsegrad at a matched memory budget over seeds; write table + plot")
        {
            model, tasks, train, dev, test, methods, seeds, density, maxTrain, maxEval, steps, batch, lr, methodLr, trainRest, calib, maxLength, progress, output,
        };
        CliRun.SetAction(command, ctx =>
        {
            ctx.InitTorch();
            var taskList = new List<ITextTask>();
            var trainFile = ctx.GetOrNull(train);
            if (trainFile is not null || ctx.GetOrNull(dev) is not null)
            {
                var devFile = ctx.GetOrNull(dev) ?? throw new MlpKitException("--train needs --dev");
                if (trainFile is null) throw new MlpKitException("--dev needs --train");
                taskList.Add(TaskFileReader.LoadTask(trainFile, devFile, ctx.GetOrNull(test) ?? devFile, new TaskFileColumns("text", "text_pair", "label")));
            }
            else
            {
                foreach (var name in Split(ctx.Get(tasks)))
                {
                    if (!BuiltInTasks.IsBuiltIn(name))
                        throw new MlpKitException($"--tasks {name}: unknown built-in task (known: {string.Join(", ", BuiltInTasks.Names)}); for your own data give --train FILE --dev FILE");
                    taskList.Add(BuiltInTasks.LoadAny(name));
                }
            }
            var lrs = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var kv in ctx.GetOrNull(methodLr) ?? [])
            {
                var eq = kv.IndexOf('=');
                if (eq <= 0 || !double.TryParse(kv[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !(v > 0))
                    throw new MlpKitException($"--method-lr {kv}: expected method=positive number");
                lrs[kv[..eq]] = v;
            }
            var options = new SparseGradExperimentOptions
            {
                Model = ctx.Get(model), Tasks = taskList, Methods = Split(ctx.Get(methods)), Seeds = ctx.Get(seeds), BaseSeed = ctx.Seed,
                Density = ctx.Get(density), MaxTrain = ctx.GetOrNull(maxTrain), MaxEval = ctx.GetOrNull(maxEval), Steps = ctx.Get(steps),
                BatchSize = ctx.Get(batch), LearningRate = ctx.GetOrNull(lr), MethodLearningRates = lrs, TrainRest = ctx.Get(trainRest), CalibrationSteps = ctx.Get(calib),
                MaxLength = ctx.Get(maxLength), OutDir = ctx.Get(output), Progress = ctx.Get(progress),
            };
            if (options.Steps < 1) throw new MlpKitException($"--steps {options.Steps}: must be at least 1");
            var (budget, runs) = SparseGradExperiment.Run(options, line => Console.Error.WriteLine(line), ctx.Cancel);
            var commandLine = "mlpkit " + string.Join(" ", Environment.GetCommandLineArgs().Skip(1));
            MethodComparisonReport.Write(options.OutDir, budget, runs, commandLine);
            Console.Out.Write(MethodComparisonReport.Markdown(budget, MethodComparisonReport.Summarise(runs), commandLine));
            Console.Out.WriteLine($"-> {Path.Combine(options.OutDir, MethodComparisonReport.MarkdownFile)}, {MethodComparisonReport.JsonFile}, {MethodComparisonReport.PlotFile}");
            return CliRun.Ok;
        });
        return command;
    }

    static List<string> Split(string s) => s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
}
