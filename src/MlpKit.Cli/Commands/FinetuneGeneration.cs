using System.CommandLine;
using MlpKit.Data;
using MlpKit.Generation;
using MlpKit.Training;

namespace MlpKit.Cli.Commands;

/// <summary>
/// `mlpkit finetune --task-type generation`: causal-LM fine-tuning on prompt → target pairs (GPT-2, Mixtral).
/// Adds its own options to the finetune command and reads the shared ones through the same typed
/// <see cref="FinetuneOptions"/>, so the command itself only dispatches here.
/// </summary>
internal sealed class FinetuneGeneration(FinetuneOptions shared)
{
    static readonly Option<string> PromptColumn = new("--prompt-column") { Description = "generation: column of the prompt", DefaultValueFactory = _ => "prompt" };
    static readonly Option<string> TargetColumn = new("--target-column") { Description = "generation: column of the target text", DefaultValueFactory = _ => "target" };
    static readonly Option<string> Decode = MakeDecode();
    static readonly Option<int> Beams = new("--beams") { Description = "generation: beam width for --decode beam", DefaultValueFactory = _ => 4 };
    static readonly Option<int> MaxNewTokens = new("--max-new-tokens") { Description = "generation: most tokens decoded per prompt", DefaultValueFactory = _ => 64 };
    static readonly Option<double> LengthPenalty = new("--length-penalty") { Description = "generation: beam search length penalty alpha (score = sum log p / length^alpha)", DefaultValueFactory = _ => 1.0 };
    static readonly Option<bool> EvalBefore = new("--eval-before") { Description = "generation: also score dev before training (dev_before in metrics.json)" };

    static Option<string> MakeDecode()
    {
        var o = new Option<string>("--decode") { Description = "generation: how dev/test prompts are decoded (beam with --beams 1 is greedy)", DefaultValueFactory = _ => "greedy" };
        o.AcceptOnlyFromAmong(GenerationDecoding.Modes);
        return o;
    }

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { PromptColumn, TargetColumn, Decode, Beams, MaxNewTokens, LengthPenalty, EvalBefore }) command.Options.Add(o);
    }

    /// <summary>Decoding every dev and test prompt of a large task takes hours on a CPU; generation scores a seeded sample unless asked.</summary>
    public const int DefaultEvalExamples = 100;

    int? EvalBudget(CliContext ctx) => ctx.GetOrNull(shared.MaxEval) switch
    {
        null => DefaultEvalExamples,
        0 => null,
        var n => n,
    };

    public int Run(CliContext ctx)
    {
        var o = shared;
        var decoding = new GenerationDecoding
        {
            Mode = ctx.Get(Decode), Beams = ctx.Get(Beams), MaxNewTokens = ctx.Get(MaxNewTokens), LengthPenalty = ctx.Get(LengthPenalty),
        };
        decoding.Validate();
        var options = o.Method(ctx);
        o.CheckDataSource(ctx);
        ctx.InitTorch();
        var run = ctx.Get(o.Out);
        var data = LoadTask(ctx.GetOrNull(o.Task), ctx.GetOrNull(o.Train), ctx.GetOrNull(o.Dev), ctx.GetOrNull(o.Test),
                ctx.Get(PromptColumn), ctx.Get(TargetColumn))
            .Subsample(ctx.GetOrNull(o.MaxTrain), EvalBudget(ctx), EvalBudget(ctx), (int)ctx.Seed);
        if (ctx.GetOrNull(o.MaxEval) is null)
            Console.Error.WriteLine($"mlpkit: dev and test are decoded on at most {DefaultEvalExamples} examples each (--max-eval N to change, 0 for all)");

        var method = ctx.Get(o.MethodName);
        var trainer = o.Trainer(ctx, $"{method} generation fine-tuning");
        var spec = new GenerationRunSpec(ctx.Get(o.Model), data, method, options, trainer, decoding, ctx.Get(o.MaxLength), ctx.Get(EvalBefore), o.Scale(ctx));
        var result = GenerationFineTuneRun.Run(spec, ctx.Cancel, log: Console.Error.WriteLine);
        if (result.Interrupted)
        {
            Console.Error.WriteLine($"mlpkit: interrupted at step {result.Train.Steps}/{result.Train.TotalSteps}; continue with the same command and --resume");
            return CliRun.Interrupted;
        }
        Console.Out.WriteLine(GenerationFineTuneRun.Summary(spec, result, run));
        return CliRun.Ok;
    }

    static TextGenerationTask LoadTask(string? task, string? train, string? dev, string? test, string promptColumn, string targetColumn)
    {
        if (task is not null)
            return GenerationTasks.IsBuiltIn(task)
                ? GenerationTasks.Load(task)
                : throw new MlpKitException($"--task {task} with --task-type generation: unknown generation task (known: {string.Join(", ", GenerationTasks.Names)}); for your own data give --train FILE --dev FILE [--test FILE]");
        if (train is null || dev is null) throw new MlpKitException("--task-type generation needs --task NAME or both --train FILE and --dev FILE");
        return GenerationTasks.LoadFiles(train, dev, test, promptColumn, targetColumn);
    }
}
