using System.CommandLine;
using System.Diagnostics;
using MlpKit.Data;
using MlpKit.FineTuning;
using MlpKit.Experiments;

namespace MlpKit.Cli.Commands;

/// <summary>
/// `mlpkit finetune --model DIR --task spam|wordnet45|sotu-year | --train F --dev F [--test F] --method M --out RUN`:
/// sequence classification (or, with --task-type regression or a regression task, regression on numeric labels) with
/// one of the fine-tuning methods. The command parses options; <see cref="FineTuneRun"/> does the run and writes
/// RUN/metrics.json, metrics.jsonl, curves.png, checkpoints, and RUN/model (the merged encoder) + RUN/head.safetensors.
/// --task-type generation goes to <see cref="FinetuneGeneration"/>.
/// </summary>
public static class FinetuneCommand
{
    public static Command Create()
    {
        var o = new FinetuneOptions();
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
        var generation = new FinetuneGeneration(o);

        var command = new Command("finetune", "Fine-tune an encoder for sequence classification or regression, or a causal LM for generation, with full, lora, meprop, sparsegrad or fusion+sparsegrad")
        {
            textCol, pairCol, labelCol, taskType,
        };
        o.AddTo(command);
        generation.AddTo(command);
        CliRun.SetAction(command, ctx =>
        {
            if (ctx.Get(taskType) == "generation") return generation.Run(ctx);
            var clock = Stopwatch.StartNew();
            var methodOptions = o.Method(ctx);
            o.CheckDataSource(ctx);
            ctx.InitTorch();
            var kind = TaskKind(ctx.GetOrNull(o.Task), ctx.Get(taskType), ctx.Parse.GetResult(taskType) is { Implicit: false });
            var columns = new TaskFileColumns(ctx.Get(textCol), ctx.Get(pairCol), ctx.Get(labelCol));
            ITextTask data;
            using (new MlpKit.Runtime.SlowPhaseNotice($"loading {ctx.GetOrNull(o.Task) ?? ctx.GetOrNull(o.Train)}", !ctx.Get(o.NoProgress)))
                data = LoadTask(kind, ctx.GetOrNull(o.Task), ctx.GetOrNull(o.Train), ctx.GetOrNull(o.Dev), ctx.GetOrNull(o.Test), columns)
                    .Subsample(ctx.GetOrNull(o.MaxTrain), ctx.GetOrNull(o.MaxEval), ctx.GetOrNull(o.MaxEval), (int)ctx.Seed);
            var name = ctx.Get(o.MethodName);
            var run = ctx.Get(o.Out);
            var spec = new FineTuneRunSpec(ctx.Get(o.Model), data, name, methodOptions, o.Trainer(ctx), ctx.Get(o.MaxLength))
            {
                FusionScale = o.Scale(ctx),
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
            var fused = result.Compression is { } c ? $", MLP hidden {c.Report.HiddenBefore} -> {c.Report.HiddenAfter}" : "";
            var test = double.IsNaN(result.Test.Value) ? "test n/a (no --test)" : $"test {result.Test.Metric} {result.Test.Value:F4}";
            Console.Out.WriteLine($"{name} on {data.Name}: dev {result.Dev.Metric} {result.Dev.Value:F4}, {test}, " +
                                  $"{result.Footprint.TrainableParameters:N0} trainable, optimizer state {result.Footprint.OptimizerStateBytes / 1048576.0:F2} MiB{fused} -> {run}");
            return CliRun.Ok;
        });
        return command;
    }

    /// <summary>The task type: --task-type when given; else a built-in task's own type (sotu-year is regression); else classification.</summary>
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
