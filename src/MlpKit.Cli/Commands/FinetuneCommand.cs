using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MlpKit.Compression;
using MlpKit.Data;
using MlpKit.FineTuning;
using MlpKit.FineTuning.Experiments;
using MlpKit.FineTuning.FusionSparseGrad;
using MlpKit.Training;

namespace MlpKit.Cli.Commands;

/// <summary>
/// `mlpkit finetune --model DIR --task spam|wordnet45|sotu-year | --train F --dev F [--test F] --method M --out RUN`:
/// sequence classification (or, with --task-type regression or a regression task, regression on numeric labels) with
/// one of the fine-tuning methods. The command parses options; <see cref="FineTuneRun"/> does the run and writes
/// RUN/metrics.json, metrics.jsonl, curves.png, checkpoints, and RUN/model (the merged encoder) + RUN/head.safetensors.
/// </summary>
public static class FinetuneCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "use-lite, a USE-Lite checkpoint directory, or an encoder model directory (bert, roberta: config.json, weights, tokenizer files)", Required = true };
        var task = new Option<string?>("--task") { Description = $"Built-in task ({string.Join(", ", BuiltInTasks.Names)}; generation: {string.Join(", ", GenerationTasks.Names)}); or give --train/--dev" };
        var train = new Option<string?>("--train") { Description = "Training file (TSV, CSV or JSONL with named columns)" };
        var dev = new Option<string?>("--dev") { Description = "Dev file" };
        var test = new Option<string?>("--test") { Description = "Test file" };
        var textCol = new Option<string>("--text-column") { DefaultValueFactory = _ => "text" };
        var pairCol = new Option<string>("--text-pair-column") { DefaultValueFactory = _ => "text_pair" };
        var labelCol = new Option<string>("--label-column") { DefaultValueFactory = _ => "label" };
        var taskType = new Option<string>("--task-type")
        {
            Description = "classification (labels are classes), regression (numeric labels, one-output head, MSE loss; reports pearson, spearman, mse) " +
                          "or generation (prompt -> target with a causal LM: gpt2, mixtral; reports BLEU and ROUGE-L). A built-in task has its own type (sotu-year is regression)",
            DefaultValueFactory = _ => "classification",
        };
        taskType.AcceptOnlyFromAmong("classification", "regression", "generation");
        var method = new Option<string>("--method") { Description = $"Fine-tuning method: {string.Join(", ", FineTuneMethods.Names)}", DefaultValueFactory = _ => "sparsegrad" };
        var density = new Option<double?>("--density") { Description = "sparsegrad: fraction of MLP weight entries trained (default 0.01)" };
        var grid = new Option<double?>("--grid") { Description = "sparsegrad: limit the support to a leading sub-grid of about GRID x k cells (default 0: the paper's rule)" };
        var rank = new Option<int?>("--rank") { Description = "lora: rank (default 8)" };
        var keep = new Option<double?>("--keep") { Description = "meprop: fraction of each output-gradient row kept (default 0.1)" };
        var methodOpt = new Option<string[]>("--method-option") { Description = "Further method options as name=value (e.g. alpha=16, calibration-steps=10, fusion-ratio=0.5)", AllowMultipleArgumentsPerToken = true };
        var epochs = new Option<double>("--epochs") { DefaultValueFactory = _ => 3 };
        var maxSteps = new Option<long>("--max-steps") { Description = "Optimizer steps (overrides --epochs)", DefaultValueFactory = _ => 0 };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 16 };
        var accum = new Option<int>("--grad-accum") { DefaultValueFactory = _ => 1 };
        var lr = new Option<double>("--lr") { DefaultValueFactory = _ => 2e-4 };
        var wd = new Option<double>("--weight-decay") { DefaultValueFactory = _ => 0.01 };
        var warmup = new Option<double>("--warmup-ratio") { DefaultValueFactory = _ => 0.06 };
        var schedule = new Option<string>("--schedule") { DefaultValueFactory = _ => "linear" };
        schedule.AcceptOnlyFromAmong("linear", "cosine", "constant");
        var clip = new Option<double>("--clip") { DefaultValueFactory = _ => 1.0 };
        var evalEvery = new Option<long>("--eval-every") { Description = "Evaluate on dev every N steps (0: at the end)", DefaultValueFactory = _ => 0 };
        var patience = new Option<int>("--patience") { Description = "Early stop after N evaluations without improvement (0: never)", DefaultValueFactory = _ => 0 };
        var ckptEvery = new Option<long>("--checkpoint-every") { DefaultValueFactory = _ => 0 };
        var maxLength = new Option<int>("--max-length") { DefaultValueFactory = _ => 128 };
        var maxTrain = new Option<int?>("--max-train") { Description = "Use at most this many training examples (seeded subsample)" };
        var maxEval = new Option<int?>("--max-eval") { Description = "Use at most this many dev and test examples" };
        var resume = new Option<bool>("--resume") { Description = "Continue from RUN/checkpoint (after Ctrl+C or a crash)" };
        var fusionScale = new Option<string>("--fusion-scale")
        {
            Description = "Fused blocks (a model folder with " + FusionCounts.FileName + "): standalone trains the centroids with the cluster sizes n frozen " +
                          "(MLP Fusion's parametrization); folded trains Down with n folded in. n is folded back before the model is saved",
            DefaultValueFactory = _ => "standalone",
        };
        fusionScale.AcceptOnlyFromAmong([.. StandaloneScales.ModeNames]);
        var noProgress = new Option<bool>("--no-progress") { Description = "No live progress line on stderr" };
        var output = new Option<string>("--out", "-o") { Description = "Run directory", Required = true };

        var command = new Command("finetune", "Fine-tune an encoder for sequence classification or regression, or a causal LM for generation, with full, lora, meprop, sparsegrad or fusion+sparsegrad")
        {
            model, task, train, dev, test, textCol, pairCol, labelCol, taskType, method, density, grid, rank, keep, methodOpt, epochs, maxSteps,
            batch, accum, lr, wd, warmup, schedule, clip, evalEvery, patience, ckptEvery, maxLength, maxTrain, maxEval, fusionScale, resume, noProgress, output,
        };
        foreach (var o in FinetuneGeneration.Options) command.Options.Add(o);
        CliRun.SetAction(command, ctx =>
        {
            if (ctx.Get(taskType) == "generation") return FinetuneGeneration.Run(ctx);
            ctx.InitTorch();
            // One library path per task type; the options below are shared by the sequence tasks.
            var kind = TaskKind(ctx.GetOrNull(task), ctx.Get(taskType), ctx.Parse.GetResult(taskType) is { Implicit: false });
            return kind switch
            {
                _ => RunSequenceTask(ctx, kind),
            };
        });
        return command;

        int RunSequenceTask(CliContext ctx, string kind)
        {
            var clock = Stopwatch.StartNew();
            var columns = new TaskFileColumns(ctx.Get(textCol), ctx.Get(pairCol), ctx.Get(labelCol));
            var data = LoadTask(kind, ctx.GetOrNull(task), ctx.GetOrNull(train), ctx.GetOrNull(dev), ctx.GetOrNull(test), columns)
                .Subsample(ctx.GetOrNull(maxTrain), ctx.GetOrNull(maxEval), ctx.GetOrNull(maxEval), (int)ctx.Seed);

            var name = ctx.Get(method);
            var options = MethodOptions(ctx);
            var run = ctx.Get(output);
            var trainerOptions = TrainerOptionsOf(ctx, run);
            var spec = new FineTuneRunSpec(ctx.Get(model), data, name, options, trainerOptions, ctx.Get(maxLength))
            {
                FusionScale = StandaloneScales.ParseMode(ctx.Get(fusionScale)),
                Export = true,
            };
            FineTuneRunResult result;
            try
            {
                result = FineTuneRun.Run(spec, ctx.Cancel, clock);
            }
            catch (FineTuneInterruptedException e)
            {
                Console.Error.WriteLine($"mlpkit: interrupted at step {e.Step}/{e.TotalSteps}; continue with the same command and --resume");
                return CliRun.Interrupted;
            }
            var (devScore, testScore, footprint) = (result.Dev, result.Test, result.Footprint);
            var fused = result.Compression is { } c ? $", MLP hidden {c.Report.HiddenBefore} -> {c.Report.HiddenAfter}" : "";
            Console.Out.WriteLine($"{name} on {data.Name}: dev {devScore.Metric} {devScore.Value:F4}, test {testScore.Metric} {testScore.Value:F4}, " +
                                  $"{footprint.TrainableParameters:N0} trainable, optimizer state {footprint.OptimizerStateBytes / 1048576.0:F2} MiB{fused} -> {run}");
            return CliRun.Ok;
        }
    }

    /// <summary>The method's options from --density/--grid/--rank/--keep and --method-option name=value (read by name, shared by every task type).</summary>
    internal static Dictionary<string, string> MethodOptions(CliContext ctx)
    {
        T? Maybe<T>(string option) => ctx.Parse.GetValue<T>(option);
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        void Put(string key, object? value) { if (value is not null) options[key] = Convert.ToString(value, CultureInfo.InvariantCulture)!; }
        var name = Maybe<string>("--method");
        if (name is "sparsegrad" or FusionSparseGradConfig.MethodName) { Put("density", Maybe<double?>("--density")); Put("grid", Maybe<double?>("--grid")); }
        if (name == "lora") Put("rank", Maybe<int?>("--rank"));
        if (name == "meprop") Put("keep", Maybe<double?>("--keep"));
        foreach (var kv in Maybe<string[]>("--method-option") ?? [])
        {
            var eq = kv.IndexOf('=');
            if (eq <= 0) throw new MlpKitException($"--method-option {kv}: expected name=value");
            options[kv[..eq]] = kv[(eq + 1)..];
        }
        return options;
    }

    /// <summary>The trainer's settings from the shared finetune options (read by name, shared by every task type).</summary>
    internal static TrainerOptions TrainerOptionsOf(CliContext ctx, string outDir, string? plotTitle = null)
    {
        T Get<T>(string option) => ctx.Parse.GetValue<T>(option)!;
        return new TrainerOptions
        {
            OutDir = outDir, Epochs = Get<double>("--epochs"), MaxSteps = Get<long>("--max-steps"), BatchSize = Get<int>("--batch-size"),
            GradAccumulation = Get<int>("--grad-accum"), LearningRate = Get<double>("--lr"), WeightDecay = Get<double>("--weight-decay"),
            WarmupRatio = Get<double>("--warmup-ratio"),
            Decay = Get<string>("--schedule") switch { "cosine" => LrDecay.Cosine, "constant" => LrDecay.Constant, _ => LrDecay.Linear },
            ClipNorm = Get<double>("--clip"), EvalEvery = Get<long>("--eval-every"), Patience = Get<int>("--patience"),
            CheckpointEvery = Get<long>("--checkpoint-every"), Seed = ctx.Seed, Resume = Get<bool>("--resume"), Progress = !Get<bool>("--no-progress"),
            PlotTitle = plotTitle,
        };
    }

    /// <summary>
    /// The task type: --task-type when given; else a built-in task's own type (sotu-year is regression); else classification.
    /// </summary>
    static string TaskKind(string? task, string taskType, bool explicitType)
    {
        if (task is null || !BuiltInTasks.IsBuiltIn(task)) return taskType;
        var builtIn = BuiltInTasks.IsRegression(task) ? "regression" : "classification";
        if (explicitType && taskType != builtIn)
            throw new MlpKitException($"--task {task} is a {builtIn} task; --task-type {taskType} does not apply to it");
        return builtIn;
    }

    static ITextTask LoadTask(string kind, string? task, string? train, string? dev, string? test, TaskFileColumns columns)
    {
        if (task is not null && (train is not null || dev is not null))
            throw new MlpKitException("--task and --train/--dev: give one or the other");
        if (task is not null)
        {
            if (BuiltInTasks.IsBuiltIn(task)) return BuiltInTasks.LoadAny(task);
            throw new MlpKitException($"--task {task}: unknown built-in task (known: {string.Join(", ", BuiltInTasks.Names)}); for your own data give --train FILE --dev FILE [--test FILE]");
        }
        if (train is null || dev is null)
            throw new MlpKitException(kind == "regression" ? "--task-type regression needs --task NAME or both --train FILE and --dev FILE" : "give --task NAME or both --train FILE and --dev FILE");
        return kind == "regression" ? TaskFileReader.LoadRegressionTask(train, dev, test, columns) : TaskFileReader.LoadTask(train, dev, test, columns);
    }
}
