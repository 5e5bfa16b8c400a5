using System.CommandLine;
using System.Globalization;
using MlpKit.Data;
using MlpKit.FineTuning.Generation;
using MlpKit.Training;

namespace MlpKit.Cli.Commands;

/// <summary>
/// `mlpkit finetune --task-type generation`: causal-LM fine-tuning on prompt → target pairs (GPT-2, Mixtral).
/// Adds its own options to the finetune command and reads the shared ones (method, trainer) by name, so the
/// command itself only dispatches here.
/// </summary>
internal static class FinetuneGeneration
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

    public static IEnumerable<Option> Options => [PromptColumn, TargetColumn, Decode, Beams, MaxNewTokens, LengthPenalty, EvalBefore];

    public static int Run(CliContext ctx)
    {
        T Get<T>(string name) => ctx.Parse.GetValue<T>(name)!;
        T? Maybe<T>(string name) => ctx.Parse.GetValue<T>(name);
        var decoding = new GenerationDecoding
        {
            Mode = ctx.Get(Decode), Beams = ctx.Get(Beams), MaxNewTokens = ctx.Get(MaxNewTokens), LengthPenalty = ctx.Get(LengthPenalty),
        };
        decoding.Validate();
        ctx.InitTorch();
        var run = Get<string>("--out");
        var data = LoadTask(Maybe<string>("--task"), Maybe<string>("--train"), Maybe<string>("--dev"), Maybe<string>("--test"),
                ctx.Get(PromptColumn), ctx.Get(TargetColumn))
            .Subsample(Maybe<int?>("--max-train"), Maybe<int?>("--max-eval"), Maybe<int?>("--max-eval"), (int)ctx.Seed);

        var method = Get<string>("--method");
        var options = FinetuneCommand.MethodOptions(ctx);
        var trainer = FinetuneCommand.TrainerOptionsOf(ctx, run, $"{method} generation fine-tuning");
        var spec = new GenerationRunSpec(Get<string>("--model"), data, method, options, trainer, decoding, Get<int>("--max-length"), ctx.Get(EvalBefore),
            MlpKit.Compression.StandaloneScales.ParseMode(Get<string>("--fusion-scale")));
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
        if (task is not null && (train is not null || dev is not null))
            throw new MlpKitException("--task and --train/--dev: give one or the other");
        if (task is not null)
            return GenerationTasks.IsBuiltIn(task)
                ? GenerationTasks.Load(task)
                : throw new MlpKitException($"--task {task} with --task-type generation: unknown generation task (known: {string.Join(", ", GenerationTasks.Names)}); for your own data give --train FILE --dev FILE [--test FILE]");
        if (train is null || dev is null) throw new MlpKitException("--task-type generation needs --task NAME or both --train FILE and --dev FILE");
        return GenerationTasks.LoadFiles(train, dev, test, promptColumn, targetColumn);
    }
}
