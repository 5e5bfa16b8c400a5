using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.Json;
using MlpKit.Checkpoints;
using MlpKit.Compression;
using MlpKit.Data;
using MlpKit.FineTuning.FusionSparseGrad;
using MlpKit.Models;
using MlpKit.Tokenizers;
using MlpKit.Training;
using static TorchSharp.torch;

namespace MlpKit.FineTuning;

/// <summary>
/// One fine-tuning run: which model, data (a <see cref="TextClassificationTask"/> or a <see cref="TextRegressionTask"/>),
/// method and trainer settings.
/// </summary>
public sealed record FineTuneRunSpec(
    string Model,
    ITextTask Data,
    string Method,
    IReadOnlyDictionary<string, string> MethodOptions,
    TrainerOptions Trainer,
    int MaxLength = 128)
{
    /// <summary>How fused blocks (a fused checkpoint folder, or <c>fusion+sparsegrad</c>'s own compression) train.</summary>
    public FusionScaleMode FusionScale { get; init; } = FusionScaleMode.Standalone;

    /// <summary>Write OutDir/model (the merged encoder, its tokenizer files and cluster sizes) and OutDir/head.safetensors.</summary>
    public bool Export { get; init; }

    public bool IsRegression => Data is TextRegressionTask;
}

/// <summary>What a run measured: dev and test scores, the method's footprint, peak RSS and time, and metrics.json's content.</summary>
public sealed record FineTuneRunResult(
    FineTuneRunSpec Spec,
    EvalResult Dev,
    EvalResult Test,
    TrainResult Train,
    MethodFootprint Footprint,
    long? PeakRssBytes,
    double TotalSeconds)
{
    /// <summary>The in-process compression of a compressing method (<c>fusion+sparsegrad</c>), else null.</summary>
    public CompressionOutcome? Compression { get; init; }

    /// <summary>What OutDir/metrics.json holds.</summary>
    public JsonObject Metrics { get; init; } = [];
}

/// <summary>A run stopped by its cancellation token; its checkpoint is saved and the same run with Resume continues it.</summary>
public sealed class FineTuneInterruptedException(string method, long step, long total)
    : OperationCanceledException($"{method} run interrupted at step {step}/{total}")
{
    public long Step { get; } = step;
    public long TotalSteps { get; } = total;
}

/// <summary>
/// Sequence classification or regression fine-tuning, start to end: the one code path of `mlpkit finetune` and of
/// `mlpkit experiment sparsegrad`, which runs many methods and seeds in one process. Loads the classifier (a fresh
/// head on the encoder), restores the standalone cluster sizes of a fused model (or fuses it here for a compressing
/// method), injects the method, trains, scores dev and test, measures the footprint and peak RSS, writes
/// OutDir/metrics.json and, when asked, exports the merged model.
/// </summary>
public static class FineTuneRun
{
    public const string MetricsFile = "metrics.json";

    /// <summary>finetune's warm-up: 6% of the steps, as in BERT's and RoBERTa's GLUE recipes.</summary>
    public const double DefaultWarmupRatio = 0.06;

    /// <summary>Runs <paramref name="spec"/>; a started <paramref name="clock"/> counts the caller's setup (data loading) in total_seconds.</summary>
    public static FineTuneRunResult Run(FineTuneRunSpec spec, CancellationToken cancel = default, Stopwatch? clock = null)
    {
        clock ??= Stopwatch.StartNew();
        var classes = spec.Data switch
        {
            TextClassificationTask c => c.NumClasses,
            TextRegressionTask => 1,   // one output: the predicted value
            _ => throw new ArgumentException($"task {spec.Data.Name}: not a classification or regression task", nameof(spec)),
        };
        // Runs share a process: the peak is reset so each one reports its own high-water mark.
        ProcessMemory.ResetPeak();
        var method = FineTuneMethods.Create(spec.Method, spec.MethodOptions);
        // The head is the only freshly initialised part: seeding first makes a resumed run rebuild it identically.
        ITextClassifier classifier;
        ITransformerModel encoder;
        string? tokenizerDir;
        using (new MlpKit.Runtime.SlowPhaseNotice($"loading {spec.Model}", spec.Trainer.Progress))
            (classifier, encoder, tokenizerDir) = LoadClassifier(spec.Model, classes, spec.MaxLength, spec.Trainer.Seed);
        using var module = classifier.Module;
        ITrainingTask task;
        Func<EvalResult> evaluateTest;
        // Scoring thousands of examples takes minutes on a CPU: it reports progress and stops on Ctrl+C.
        EvalWatch Watch(string split) => new(cancel, spec.Trainer.Progress
            ? (done, total) => Console.Error.WriteLine($"  evaluating {split}: {done}/{total} examples")
            : null);
        if (spec.Data is TextClassificationTask cls) { var c = new ClassificationTrainingTask(classifier, cls) { WatchFor = Watch }; task = c; evaluateTest = c.EvaluateTest; }
        else { var r = new RegressionTrainingTask(classifier, (TextRegressionTask)spec.Data) { WatchFor = Watch }; task = r; evaluateTest = r.EvaluateTest; }

        var modelDir = ModelSource.DirectoryOrNull(spec.Model);
        var counts = modelDir is not null ? FusionCounts.Load(modelDir) : new Dictionary<string, Tensor>();
        var countsSource = Path.Combine(modelDir ?? spec.Model, FusionCounts.FileName);
        CompressionOutcome? compression = null;
        long? compressionPeak = null;
        if (method is ICompressingMethod compressing)
        {
            if (counts.Count > 0)
                throw new MlpKitException($"--model {spec.Model}: already fused ({FusionCounts.FileName}); fine-tune it with --method sparsegrad, or give {spec.Method} the uncompressed model");
            // Deterministic under the seed, so a resumed run rebuilds the same blocks before its checkpoint is loaded.
            compression = compressing.Compress(CompressibleModel.Wrap(spec.Model, encoder),
                CalibrationBatch(classifier, spec.Data.Train, compressing.CalibrationSamples, spec.Trainer.Seed), spec.Trainer.Seed);
            counts = compression.Counts;
            countsSource = $"{spec.Method} compression";
            // Training is then measured on its own, comparable with a run on a fused checkpoint.
            compressionPeak = ProcessMemory.PeakRssBytes();
            ProcessMemory.ResetPeak();
        }
        // Attached before the method is injected, so the optimizer and any adapter see W̄2 as Down's weight.
        using var scales = counts.Count > 0 && spec.FusionScale == FusionScaleMode.Standalone
            ? StandaloneScales.Attach(encoder.Module, counts, countsSource)
            : null;

        var trainer = new Trainer(classifier.Module, method, task, spec.Trainer);
        var result = trainer.Run(cancel);
        if (result.Interrupted) throw new FineTuneInterruptedException(spec.Method, result.Steps, result.TotalSteps);
        using var adapter = trainer.Adapter!;
        var footprint = adapter.Footprint();
        classifier.Module.eval();
        EvalResult dev, test;
        using (no_grad())
        {
            dev = trainer.FinalDev ?? task.Evaluate();
            test = evaluateTest();
        }

        if (spec.Export) Export(spec, classifier, encoder, tokenizerDir, adapter, scales, counts);

        var peak = ProcessMemory.PeakRssBytes();
        var totalSeconds = clock.Elapsed.TotalSeconds;
        var metrics = Metrics(spec, dev, test, result, footprint, peak, totalSeconds, counts.Count > 0, compression, compressionPeak);
        if (spec.Trainer.OutDir is { } outDir)
        {
            Directory.CreateDirectory(outDir);
            AtomicFile.WriteAllText(Path.Combine(outDir, MetricsFile), metrics.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        }
        return new FineTuneRunResult(spec, dev, test, result, footprint, peak, totalSeconds)
        {
            Compression = compression,
            Metrics = metrics,
        };
    }

    /// <summary>
    /// Writes OutDir/model (the merged encoder with its tokenizer and cluster sizes) and OutDir/head.safetensors. The
    /// adapter's change lands on W̄2 first; folding n afterwards gives the plain checkpoint's Down = W̄2·diag(n).
    /// </summary>
    static void Export(FineTuneRunSpec spec, ITextClassifier classifier, ITransformerModel encoder, string? tokenizerDir,
        IFineTuneAdapter adapter, StandaloneScales? scales, IReadOnlyDictionary<string, Tensor> counts)
    {
        var run = spec.Trainer.OutDir ?? throw new ArgumentException("an exported run needs Trainer.OutDir", nameof(spec));
        adapter.Merge();
        scales?.Fold();
        var merged = Path.Combine(run, "model");
        ModelZoo.SaveWhole(encoder, merged, dir =>
        {
            // The merged model is still fused: keeping its cluster sizes lets a later finetune or ntk run use them.
            if (counts.Count > 0) FusionCounts.Save(dir, counts);
            // The merged model keeps the tokenizer it was trained with, so RUN/model is usable on its own.
            if (tokenizerDir is not null) TokenizerFiles.Copy(tokenizerDir, dir);
        });
        SafeTensors.Save(Path.Combine(run, "head.safetensors"), new Dictionary<string, Tensor>
        {
            ["weight"] = classifier.Head.weight!.detach(),
            ["bias"] = classifier.Head.bias!.detach(),
        }, spec.Data is TextClassificationTask labelled
            ? new Dictionary<string, string> { ["labels"] = string.Join("\n", labelled.LabelNames) }
            : new Dictionary<string, string> { ["task_type"] = "regression" });
    }

    /// <summary>What OutDir/metrics.json holds: task, method, dev/test scores, footprint, time, memory and any compression.</summary>
    static JsonObject Metrics(FineTuneRunSpec spec, EvalResult dev, EvalResult test, TrainResult result, MethodFootprint footprint,
        long? peak, double totalSeconds, bool fused, CompressionOutcome? compression, long? compressionPeak)
    {
        var metrics = new JsonObject
        {
            ["task"] = spec.Data.Name,
            ["task_type"] = spec.IsRegression ? "regression" : "classification",
            ["method"] = spec.Method,
            ["method_options"] = new JsonObject(spec.MethodOptions.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["classes"] = spec.Data is TextClassificationTask k ? k.NumClasses : null,
            ["train_examples"] = spec.Data.Train.Count,
            ["dev"] = RunMetrics.Score(dev),
            ["test"] = RunMetrics.Score(test),
        };
        RunMetrics.AddRunFigures(metrics, result, footprint, peak, totalSeconds, spec.Trainer);
        metrics["fusion_scale"] = fused ? StandaloneScales.ModeNames[(int)spec.FusionScale] : null;
        if (compression is not null)
        {
            var c = compression.ToJson();
            c["peak_rss_bytes"] = compressionPeak;
            metrics["compression"] = c;
        }
        return metrics;
    }

    /// <summary>A seeded sample of the training texts, tokenized as the classifier tokenizes them in training.</summary>
    static ModelBatch CalibrationBatch(ITextClassifier classifier, IReadOnlyList<TextExample> train, int count, long seed)
    {
        var sample = TextClassificationTask.Take(train, count, (int)(seed & 0x7FFFFFFF));
        if (sample.Count == 0) throw new MlpKitException("calibration: the training set is empty");
        return CompressibleModel.FromTokenIds(sample.Select(classifier.TokenIds));
    }

    /// <summary>
    /// An encoder (bert, roberta: a fresh head on its mask-averaged hidden states) or a sentence-embedding model
    /// (use-lite: a fresh head on its embedding), by name or directory, with the head seeded by <paramref name="seed"/>.
    /// The tokenizer folder is null for a sentence-embedding model, which saves its own vocabulary.
    /// </summary>
    public static (ITextClassifier Classifier, ITransformerModel Encoder, string? TokenizerDir) LoadClassifier(string spec, int classes, int maxLength, long seed)
    {
        var loaded = ModelSource.Load(spec);
        switch (loaded)
        {
            case ISentenceEmbeddingModel own:
                manual_seed(seed);
                return (new SentenceEmbeddingClassifier(own, classes), own, null);
            case IEncoderModel encoder:
                var dir = ModelSource.Directory(spec);
                var tokenizer = TokenizerFactory.Load(dir);
                manual_seed(seed);
                return (new SequenceClassifier(encoder, tokenizer, classes, maxLength), encoder, dir);
            default:
                loaded.Dispose();
                throw new MlpKitException($"--model {spec}: a {loaded.Architecture} model is not an encoder; fine-tuning classifies with use-lite, bert or roberta");
        }
    }

    /// <summary>Shapes [rows, cols] of the MLP weights a method would target in <paramref name="model"/>'s classifier.</summary>
    public static IReadOnlyList<(long Rows, long Cols)> MlpWeightShapes(string model)
    {
        var (classifier, _, _) = LoadClassifier(model, 2, 16, 0);
        using var module = classifier.Module;
        return MlpLinears.Find(module).Select(l => (l.Rows, l.Cols)).ToList();
    }
}

/// <summary>The process's resident-set high-water mark (Linux /proc), resettable between runs.</summary>
public static class ProcessMemory
{
    /// <summary>Writing 5 to clear_refs resets VmHWM to the current RSS; elsewhere this is a no-op.</summary>
    public static void ResetPeak()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    public static long? PeakRssBytes()
    {
        try
        {
            var line = File.ReadAllLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? null : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }
}
