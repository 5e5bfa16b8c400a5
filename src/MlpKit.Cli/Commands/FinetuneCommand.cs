using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using MlpKit.Checkpoints;
using MlpKit.Compression;
using MlpKit.Data;
using MlpKit.FineTuning;
using MlpKit.FineTuning.Experiments;
using MlpKit.Models;
using MlpKit.Tokenizers;
using MlpKit.Training;
using static TorchSharp.torch;

namespace MlpKit.Cli.Commands;

/// <summary>
/// `mlpkit finetune --model DIR --task spam|wordnet45 | --train F --dev F [--test F] --method M --out RUN`:
/// sequence classification (or, with --task-type regression, regression on numeric labels) with one of the
/// fine-tuning methods; writes RUN/metrics.json, the run's
/// metrics.jsonl, curves.png, checkpoints, and RUN/model (the merged encoder) + RUN/head.safetensors.
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
                          "or generation (prompt -> target with a causal LM: gpt2, mixtral; reports BLEU and ROUGE-L)",
            DefaultValueFactory = _ => "classification",
        };
        taskType.AcceptOnlyFromAmong("classification", "regression", "generation");
        var method = new Option<string>("--method") { Description = $"Fine-tuning method: {string.Join(", ", FineTuneMethods.Names)}", DefaultValueFactory = _ => "sparsegrad" };
        var density = new Option<double?>("--density") { Description = "sparsegrad: fraction of MLP weight entries trained (default 0.01)" };
        var grid = new Option<double?>("--grid") { Description = "sparsegrad: limit the support to a leading sub-grid of about GRID x k cells (default 0: the paper's rule)" };
        var rank = new Option<int?>("--rank") { Description = "lora: rank (default 8)" };
        var keep = new Option<double?>("--keep") { Description = "meprop: fraction of each output-gradient row kept (default 0.1)" };
        var methodOpt = new Option<string[]>("--method-option") { Description = "Further method options as name=value (e.g. alpha=16, calibration-steps=10)", AllowMultipleArgumentsPerToken = true };
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

        var command = new Command("finetune", "Fine-tune an encoder for sequence classification or regression, or a causal LM for generation, with full, lora, meprop or sparsegrad")
        {
            model, task, train, dev, test, textCol, pairCol, labelCol, taskType, method, density, grid, rank, keep, methodOpt, epochs, maxSteps,
            batch, accum, lr, wd, warmup, schedule, clip, evalEvery, patience, ckptEvery, maxLength, maxTrain, maxEval, fusionScale, resume, noProgress, output,
        };
        foreach (var o in FinetuneGeneration.Options) command.Options.Add(o);
        CliRun.SetAction(command, ctx =>
        {
            if (ctx.Get(taskType) == "generation") return FinetuneGeneration.Run(ctx);
            ctx.InitTorch();
            var clock = Stopwatch.StartNew();
            var run = ctx.Get(output);
            var columns = new TaskFileColumns(ctx.Get(textCol), ctx.Get(pairCol), ctx.Get(labelCol));
            TextClassificationTask? data = null;
            TextRegressionTask? targets = null;
            if (ctx.Get(taskType) == "regression")
                targets = LoadRegressionTask(ctx.GetOrNull(task), ctx.GetOrNull(train), ctx.GetOrNull(dev), ctx.GetOrNull(test), columns)
                    .Subsample(ctx.GetOrNull(maxTrain), ctx.GetOrNull(maxEval), ctx.GetOrNull(maxEval), (int)ctx.Seed);
            else
                data = LoadTask(ctx.GetOrNull(task), ctx.GetOrNull(train), ctx.GetOrNull(dev), ctx.GetOrNull(test), columns)
                    .Subsample(ctx.GetOrNull(maxTrain), ctx.GetOrNull(maxEval), ctx.GetOrNull(maxEval), (int)ctx.Seed);

            var spec = ctx.Get(model);
            // The head is the only freshly initialised part: seeding first makes a resumed run rebuild it identically.
            // Regression uses the same encoders with a one-output head.
            var (classifier, encoder, tokenizerDir) = FineTuneRun.LoadClassifier(spec, data?.NumClasses ?? 1, ctx.Get(maxLength), ctx.Seed);
            ITrainingTask trainingTask;
            Func<EvalResult> evaluateTest;
            if (data is not null) { var c = new ClassificationTrainingTask(classifier, data); trainingTask = c; evaluateTest = c.EvaluateTest; }
            else { var r = new RegressionTrainingTask(classifier, targets!); trainingTask = r; evaluateTest = r.EvaluateTest; }
            // Attached before the method is injected, so the optimizer and any adapter see W̄2 as Down's weight.
            var counts = Directory.Exists(spec) ? FusionCounts.Load(spec) : new Dictionary<string, Tensor>();
            var scaleMode = StandaloneScales.ParseMode(ctx.Get(fusionScale));
            using var scales = counts.Count > 0 && scaleMode == FusionScaleMode.Standalone
                ? StandaloneScales.Attach(encoder.Module, counts, Path.Combine(spec, FusionCounts.FileName))
                : null;

            var options = new Dictionary<string, string>(StringComparer.Ordinal);
            void Put(string key, object? value) { if (value is not null) options[key] = Convert.ToString(value, CultureInfo.InvariantCulture)!; }
            var name = ctx.Get(method);
            if (name == "sparsegrad") { Put("density", ctx.GetOrNull(density)); Put("grid", ctx.GetOrNull(grid)); }
            if (name == "lora") Put("rank", ctx.GetOrNull(rank));
            if (name == "meprop") Put("keep", ctx.GetOrNull(keep));
            foreach (var kv in ctx.GetOrNull(methodOpt) ?? [])
            {
                var eq = kv.IndexOf('=');
                if (eq <= 0) throw new MlpKitException($"--method-option {kv}: expected name=value");
                options[kv[..eq]] = kv[(eq + 1)..];
            }
            var ft = FineTuneMethods.Create(name, options);
            var trainerOptions = new TrainerOptions
            {
                OutDir = run, Epochs = ctx.Get(epochs), MaxSteps = ctx.Get(maxSteps), BatchSize = ctx.Get(batch), GradAccumulation = ctx.Get(accum),
                LearningRate = ctx.Get(lr), WeightDecay = ctx.Get(wd), WarmupRatio = ctx.Get(warmup),
                Decay = ctx.Get(schedule) switch { "cosine" => LrDecay.Cosine, "constant" => LrDecay.Constant, _ => LrDecay.Linear },
                ClipNorm = ctx.Get(clip), EvalEvery = ctx.Get(evalEvery), Patience = ctx.Get(patience), CheckpointEvery = ctx.Get(ckptEvery),
                Seed = ctx.Seed, Resume = ctx.Get(resume), Progress = !ctx.Get(noProgress),
            };
            var trainer = new Trainer(classifier.Module, ft, trainingTask, trainerOptions);
            var result = trainer.Run(ctx.Cancel);
            if (result.Interrupted)
            {
                Console.Error.WriteLine($"mlpkit: interrupted at step {result.Steps}/{result.TotalSteps}; continue with the same command and --resume");
                return CliRun.Interrupted;
            }

            var footprint = trainer.Adapter!.Footprint();
            classifier.Module.eval();
            EvalResult devScore, testScore;
            using (no_grad())
            {
                devScore = trainingTask.Evaluate();
                testScore = evaluateTest();
            }
            // The adapter's change lands on W̄2 first; folding n afterwards gives the plain checkpoint's Down = W̄2·diag(n).
            trainer.Adapter.Merge();
            scales?.Fold();
            var merged = Path.Combine(run, "model");
            if (encoder is MlpKit.Models.UseLite.UseLiteModel use) use.Save(merged);
            else ModelZoo.Save(encoder, merged);
            // The merged model is still fused: keeping its cluster sizes lets a later finetune or ntk run use them.
            if (counts.Count > 0) FusionCounts.Save(merged, counts);
            // The merged model keeps the tokenizer it was trained with, so RUN/model is usable on its own.
            if (tokenizerDir is not null) CompressCommand.CopyTokenizerFiles(tokenizerDir, merged);
            SafeTensors.Save(Path.Combine(run, "head.safetensors"), new Dictionary<string, Tensor>
            {
                ["weight"] = classifier.Head.weight!.detach(),
                ["bias"] = classifier.Head.bias!.detach(),
            }, data is not null
                ? new Dictionary<string, string> { ["labels"] = string.Join("\n", data.LabelNames) }
                : new Dictionary<string, string> { ["task_type"] = "regression" });

            var metrics = new JsonObject
            {
                ["task"] = data?.Name ?? targets!.Name,
                ["task_type"] = data is not null ? "classification" : "regression",
                ["method"] = name,
                ["method_options"] = new JsonObject(options.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
                ["classes"] = data?.NumClasses,
                ["train_examples"] = data?.Train.Count ?? targets!.Train.Count,
                ["dev"] = Score(devScore),
                ["test"] = Score(testScore),
                ["steps"] = result.Steps,
                ["best_step"] = result.BestStep,
                ["stopped_early"] = result.StoppedEarly,
                ["trainable_parameters"] = footprint.TrainableParameters,
                ["optimizer_state_bytes"] = footprint.OptimizerStateBytes,
                ["gradient_bytes"] = footprint.GradientBytes,
                ["mlp_optimizer_state_bytes"] = footprint.MlpOptimizerStateBytes,
                ["method_extra_bytes"] = footprint.ExtraBytes,
                ["peak_rss_bytes"] = ProcessMemory.PeakRssBytes(),
                ["train_seconds"] = result.Seconds,
                ["total_seconds"] = clock.Elapsed.TotalSeconds,
                ["examples_per_second"] = result.ExamplesPerSecond,
                ["seed"] = ctx.Seed,
                ["fusion_scale"] = counts.Count > 0 ? ctx.Get(fusionScale) : null,
            };
            AtomicFile.WriteAllText(Path.Combine(run, "metrics.json"), metrics.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }) + "\n");
            Console.Out.WriteLine($"{name} on {data?.Name ?? targets!.Name}: dev {devScore.Metric} {devScore.Value:F4}, test {testScore.Metric} {testScore.Value:F4}, " +
                                  $"{footprint.TrainableParameters:N0} trainable, optimizer state {footprint.OptimizerStateBytes / 1048576.0:F2} MiB -> {run}");
            return CliRun.Ok;
        });
        return command;
    }

    static JsonObject Score(EvalResult r)
    {
        var o = new JsonObject { [r.Metric] = double.IsNaN(r.Value) ? null : r.Value, ["loss"] = r.Loss is { } l && double.IsFinite(l) ? l : null };
        foreach (var (k, v) in r.Extra ?? new Dictionary<string, double>()) o[k] = v;
        return o;
    }

    static TextRegressionTask LoadRegressionTask(string? task, string? train, string? dev, string? test, TaskFileColumns columns)
    {
        if (task is not null)
            throw new MlpKitException($"--task {task} with --task-type regression: the built-in tasks are classification tasks; for regression give --train FILE --dev FILE [--test FILE]");
        if (train is null || dev is null) throw new MlpKitException("--task-type regression needs both --train FILE and --dev FILE");
        return TaskFileReader.LoadRegressionTask(train, dev, test, columns);
    }

    static TextClassificationTask LoadTask(string? task, string? train, string? dev, string? test, TaskFileColumns columns)
    {
        if (task is not null && (train is not null || dev is not null))
            throw new MlpKitException("--task and --train/--dev: give one or the other");
        if (task is not null)
        {
            if (BuiltInTasks.IsBuiltIn(task)) return BuiltInTasks.Load(task);
            throw new MlpKitException($"--task {task}: unknown built-in task (known: {string.Join(", ", BuiltInTasks.Names)}); for your own data give --train FILE --dev FILE [--test FILE]");
        }
        if (train is null || dev is null) throw new MlpKitException("give --task NAME or both --train FILE and --dev FILE");
        return TaskFileReader.LoadTask(train, dev, test, columns);
    }
}
