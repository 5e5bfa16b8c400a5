using System.CommandLine;
using MlpKit.Compression;
using MlpKit.Data;
using MlpKit.FineTuning;
using MlpKit.Training;

namespace MlpKit.Cli;

/// <summary>
/// The options `finetune` declares for every task type: data, method, trainer and run folder. Each method's own
/// options become flags (--rank, --density, ...) built from the methods' declarations (<see cref="FineTuneMethods"/>),
/// so they are declared once; <see cref="Method"/> reads and checks them before any data is loaded.
/// </summary>
public sealed class FinetuneOptions
{
    public readonly Option<string> Model = new("--model", "-m") { Description = "use-lite, minilm, arctic-xs, or a model directory (bert, roberta, use-lite; gpt2, mixtral for --task-type generation)", Required = true };
    public readonly Option<string?> Task = new("--task") { Description = $"Built-in task ({string.Join(", ", BuiltInTasks.Names)}; generation: {string.Join(", ", GenerationTasks.Names)}); or give --train/--dev" };
    public readonly Option<string?> Train = new("--train") { Description = "Training file (TSV, CSV or JSONL with named columns)" };
    public readonly Option<string?> Dev = new("--dev") { Description = "Dev file" };
    public readonly Option<string?> Test = new("--test") { Description = "Test file" };
    public readonly Option<int?> MaxTrain = new("--max-train") { Description = "Use at most this many training examples (seeded subsample)" };
    public readonly Option<int?> MaxEval = new("--max-eval") { Description = "Use at most this many dev and test examples (generation decodes 100 unless given; 0: all)" };
    public readonly Option<int> MaxLength = new("--max-length") { DefaultValueFactory = _ => 128 };
    public readonly Option<string> MethodName = new("--method") { Description = $"Fine-tuning method: {string.Join(", ", FineTuneMethods.Names)}", DefaultValueFactory = _ => "sparsegrad" };
    public readonly Option<string[]> MethodOption = new("--method-option") { Description = "Method options as name=value (the same options as the method flags above)", AllowMultipleArgumentsPerToken = true };
    readonly List<(string Name, Option Flag)> _methodFlags = [];
    public readonly Option<double> Epochs = new("--epochs") { DefaultValueFactory = _ => 3 };
    public readonly Option<long> MaxSteps = new("--max-steps") { Description = "Optimizer steps (overrides --epochs)", DefaultValueFactory = _ => 0 };
    public readonly Option<int> Batch = new("--batch-size") { DefaultValueFactory = _ => 16 };
    public readonly Option<int> Accum = new("--grad-accum") { DefaultValueFactory = _ => 1 };
    public readonly Option<double?> Lr = new("--lr")
    {
        Description = $"Peak learning rate (default: the method's own, {FineTuneMethods.DescribeLearningRates()}; with --train-rest, full's for every method)",
    };
    public readonly Option<double> Wd = new("--weight-decay") { DefaultValueFactory = _ => 0.01 };
    public readonly Option<double> Warmup = new("--warmup-ratio") { DefaultValueFactory = _ => FineTuneRun.DefaultWarmupRatio };
    public readonly Option<string> Schedule = new("--schedule") { DefaultValueFactory = _ => "linear" };
    public readonly Option<double> Clip = new("--clip") { DefaultValueFactory = _ => 1.0 };
    public readonly Option<long> EvalEvery = new("--eval-every") { Description = "Evaluate on dev every N steps (0: at the end)", DefaultValueFactory = _ => 0 };
    public readonly Option<int> Patience = new("--patience") { Description = "Early stop after N evaluations without improvement (0: never)", DefaultValueFactory = _ => 0 };
    public readonly Option<long> CheckpointEvery = new("--checkpoint-every") { Description = "Also checkpoint every N steps (0: only by time, at the end and on Ctrl+C)", DefaultValueFactory = _ => 0 };
    public readonly Option<double> CheckpointMinutes = new("--checkpoint-minutes") { Description = "Checkpoint when this many minutes have passed since the last one, so a crash loses at most that much (0: off)", DefaultValueFactory = _ => 5 };
    public readonly Option<bool> Resume = new("--resume") { Description = "Continue from RUN/checkpoint (after Ctrl+C or a crash)" };
    public readonly Option<string> FusionScale = new("--fusion-scale")
    {
        Description = "Fused blocks (a model folder with " + FusionCounts.FileName + "): standalone trains the centroids with the cluster sizes n frozen " +
                      "(MLP Fusion's parametrization); folded trains Down with n folded in. n is folded back before the model is saved",
        DefaultValueFactory = _ => "standalone",
    };
    public readonly Option<bool> NoProgress = new("--no-progress") { Description = "No live progress line on stderr" };
    public readonly Option<string> Out = new Option<string>("--out", "-o") { Description = "Run directory", Required = true }.OutputFolder();

    public FinetuneOptions()
    {
        Schedule.AcceptOnlyFromAmong("linear", "cosine", "constant");
        FusionScale.AcceptOnlyFromAmong([.. StandaloneScales.ModeNames]);
        // A true/false option is a switch (--train-rest), which also takes an explicit value (--train-rest false).
        foreach (var (name, declarations) in FineTuneMethods.OptionNames())
            _methodFlags.Add((name, declarations.All(d => d.Kind == MethodOptionKind.Bool)
                ? new Option<bool>("--" + name) { Description = Describe(declarations) }
                : new Option<string?>("--" + name) { Description = Describe(declarations) }));
    }

    /// <summary>"lora: rank r of the adapters (integer in [1, 65536], default 8)"; one entry per distinct declaration.</summary>
    static string Describe(IReadOnlyList<MethodOptionInfo> declarations) => string.Join("; ",
        declarations.GroupBy(d => d.Describe()).Select(g => $"{string.Join(", ", g.Select(d => d.Method))}: {g.Key}"));

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Model, Task, Train, Dev, Test, MaxTrain, MaxEval, MaxLength, MethodName })
            command.Options.Add(o);
        foreach (var (_, flag) in _methodFlags) command.Options.Add(flag);
        foreach (var o in new Option[] { MethodOption, Epochs, MaxSteps, Batch, Accum, Lr, Wd, Warmup, Schedule, Clip, EvalEvery, Patience,
                     CheckpointEvery, CheckpointMinutes, Resume, FusionScale, NoProgress, Out })
            command.Options.Add(o);
    }

    /// <summary>
    /// The method's options from its flags and --method-option, checked by the method's own declaration now, before
    /// any data loads: a flag of another method, an unknown name or a bad value is one line.
    /// </summary>
    public IReadOnlyDictionary<string, string> Method(CliContext ctx)
    {
        var method = FineTuneMethods.Get(ctx.Get(MethodName));
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, flag) in _methodFlags)
        {
            if (FlagValue(ctx, flag) is not { } value) continue;
            if (method.Options.All(o => o.Name != name))
                throw new MlpKitException($"--{name}: not an option of --method {method.Name} (its options: {string.Join(", ", method.Options.Select(o => "--" + o.Name))})");
            options[name] = value;
        }
        foreach (var kv in ctx.GetOrNull(MethodOption) ?? [])
        {
            var eq = kv.IndexOf('=');
            if (eq <= 0) throw new MlpKitException($"--method-option {kv}: expected name=value");
            options[kv[..eq]] = kv[(eq + 1)..];
        }
        method.Create(options);
        return options;
    }

    static string? FlagValue(CliContext ctx, Option flag) => flag switch
    {
        Option<bool> b => ctx.Parse.GetResult(b) is null or { Implicit: true } ? null : ctx.Get(b) ? "true" : "false",
        Option<string?> s => ctx.GetOrNull(s),
        _ => throw new InvalidOperationException(flag.Name),
    };

    /// <summary>--lr, or the method's default learning rate (<see cref="FineTuneMethods.DefaultLearningRate"/>).</summary>
    public double LearningRate(CliContext ctx) =>
        ctx.GetOrNull(Lr) ?? FineTuneMethods.DefaultLearningRate(FineTuneMethods.Create(ctx.Get(MethodName), Method(ctx)));

    public TrainerOptions Trainer(CliContext ctx, string? plotTitle = null) => new()
    {
        OutDir = ctx.Get(Out), Epochs = ctx.Get(Epochs), MaxSteps = ctx.Get(MaxSteps), BatchSize = ctx.Get(Batch),
        GradAccumulation = ctx.Get(Accum), LearningRate = LearningRate(ctx), WeightDecay = ctx.Get(Wd), WarmupRatio = ctx.Get(Warmup),
        Decay = ctx.Get(Schedule) switch { "cosine" => LrDecay.Cosine, "constant" => LrDecay.Constant, _ => LrDecay.Linear },
        ClipNorm = ctx.Get(Clip), EvalEvery = ctx.Get(EvalEvery), Patience = ctx.Get(Patience),
        CheckpointEvery = ctx.Get(CheckpointEvery), CheckpointMinutes = ctx.Get(CheckpointMinutes), Seed = ctx.Seed, Resume = ctx.Get(Resume), Progress = !ctx.Get(NoProgress),
        PlotTitle = plotTitle,
    };

    public FusionScaleMode Scale(CliContext ctx) => StandaloneScales.ParseMode(ctx.Get(FusionScale));

    /// <summary>
    /// What can be checked before any data or model loads: --task, or --train and --dev, but not both; --out is not a
    /// file; --resume has a checkpoint to resume from.
    /// </summary>
    public void CheckDataSource(CliContext ctx)
    {
        var run = ctx.Get(Out);
        if (File.Exists(run)) throw new MlpKitException($"--out {run}: exists and is a file; --out names the run folder");
        if (ctx.Get(Resume)) MlpKit.Training.TrainerCheckpoint.ResolveForResume(Path.Combine(run, "checkpoint"));
        if (ctx.GetOrNull(Task) is not null && (ctx.GetOrNull(Train) is not null || ctx.GetOrNull(Dev) is not null))
            throw new MlpKitException("--task and --train/--dev: give one or the other");
    }
}
