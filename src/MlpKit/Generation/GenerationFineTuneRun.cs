using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.Json;
using MlpKit.Checkpoints;
using MlpKit.Compression;
using MlpKit.Data;
using MlpKit.FineTuning;
using MlpKit.FineTuning.FusionSparseGrad;
using MlpKit.Models;
using MlpKit.Tokenizers;
using MlpKit.Training;
using static TorchSharp.torch;

namespace MlpKit.Generation;

/// <summary>
/// One generation fine-tuning run: model, data, method, trainer and decoding settings; with
/// <c>EvaluateBefore</c> dev is also scored with the untouched model first (reported as dev_before). A fused
/// checkpoint (a folder with cluster sizes) trains as `mlpkit finetune` trains it: <c>FusionScale</c>.
/// </summary>
public sealed record GenerationRunSpec(
    string Model,
    TextGenerationTask Data,
    string Method,
    IReadOnlyDictionary<string, string> MethodOptions,
    TrainerOptions Trainer,
    GenerationDecoding Decoding,
    int MaxLength = 128,
    bool EvaluateBefore = false,
    FusionScaleMode FusionScale = FusionScaleMode.Standalone);

/// <summary>What a generation run measured; null scores where the run was interrupted.</summary>
public sealed record GenerationRunResult(
    TrainResult Train,
    GenerationScore? DevBefore,
    GenerationScore? Dev,
    GenerationScore? Test,
    MethodFootprint? Footprint,
    long? PeakRssBytes,
    double TotalSeconds)
{
    public bool Interrupted => Train.Interrupted;
}

/// <summary>
/// Causal-LM fine-tuning for generation (`mlpkit finetune --task-type generation`): loads a GPT-2 or Mixtral
/// checkpoint directory with its tokenizer, injects the method, trains on the target tokens, decodes dev and
/// test, and with an output folder writes metrics.json, predictions-dev.jsonl / predictions-test.jsonl
/// (prompt, reference, hypothesis) and the merged model (RUN/model, with the tokenizer files).
/// </summary>
public static class GenerationFineTuneRun
{
    public static GenerationRunResult Run(GenerationRunSpec spec, CancellationToken cancel = default, Action<string>? log = null)
    {
        var loaded = ModelSource.Load(spec.Model);
        if (loaded is not ICausalLanguageModel lm)
        {
            loaded.Dispose();
            throw new MlpKitException($"--model {spec.Model}: a {loaded.Architecture} model is not a causal language model; generation fine-tunes gpt2 or mixtral checkpoints");
        }
        using var model = lm;
        var modelDir = ModelSource.Directory(spec.Model);
        var tokenizer = TokenizerFactory.Load(modelDir);
        if (tokenizer.VocabSize > lm.VocabSize)
            throw new MlpKitException($"--model {spec.Model}: the tokenizer has {tokenizer.VocabSize} ids, the model's embedding only {lm.VocabSize}");
        // Attached before the method is injected, so the optimizer and any adapter see W̄2 as Down's weight.
        var counts = FusionCounts.Load(modelDir);
        if (counts.Count > 0 && FineTuneMethods.Create(spec.Method, spec.MethodOptions) is ICompressingMethod)
            throw new MlpKitException($"--model {spec.Model}: already fused ({FusionCounts.FileName}); fine-tune it with --method sparsegrad, or give {spec.Method} the uncompressed model");
        using var scales = counts.Count > 0 && spec.FusionScale == FusionScaleMode.Standalone
            ? StandaloneScales.Attach(lm.Module, counts, Path.Combine(modelDir, FusionCounts.FileName))
            : null;
        // The adapter's change lands on W̄2 first; folding n afterwards gives the plain checkpoint's Down = W̄2·diag(n).
        var result = Run(lm, tokenizer, spec, cancel, log, exportFrom: modelDir, afterMerge: () => scales?.Fold());
        // The merged model is still fused: keeping its cluster sizes lets a later run use them.
        if (counts.Count > 0 && !result.Interrupted && spec.Trainer.OutDir is { } outDir)
            FusionCounts.Save(Path.Combine(outDir, "model"), counts);
        return result;
    }

    /// <summary>
    /// The run on a model already in memory (tests, experiments). With <paramref name="exportFrom"/> the merged
    /// model is saved to OUT/model beside the tokenizer files copied from that folder.
    /// </summary>
    public static GenerationRunResult Run(ICausalLanguageModel model, ITextTokenizer tokenizer, GenerationRunSpec spec,
        CancellationToken cancel = default, Action<string>? log = null, string? exportFrom = null, Action? afterMerge = null)
    {
        var clock = Stopwatch.StartNew();
        ProcessMemory.ResetPeak();
        var maxLength = (int)Math.Min(spec.MaxLength, model.MaxPositions);
        var encoder = new GenerationEncoder(tokenizer, maxLength);
        var task = new GenerationTrainingTask(model, encoder, spec.Data, spec.Decoding);
        var outDir = spec.Trainer.OutDir;

        GenerationScore? before = null;
        if (spec.EvaluateBefore)
        {
            log?.Invoke($"scoring dev ({spec.Data.Dev.Count} examples) before training");
            before = Scored(model, () => task.Score(spec.Data.Dev));
        }

        long lastEvalStep = -1;
        var method = FineTuneMethods.Create(spec.Method, spec.MethodOptions);
        // A compressing method (fusion+sparsegrad) shrinks the MLPs first, calibrated on training prompt + target ids;
        // deterministic under the seed, so a resumed run rebuilds the same blocks before its checkpoint loads.
        var compression = method is ICompressingMethod compressing
            ? compressing.Compress(CompressibleModel.Wrap(spec.Model, model), CalibrationBatch(task, spec, compressing.CalibrationSamples), spec.Trainer.Seed)
            : null;
        using var scales = compression is not null && spec.FusionScale == FusionScaleMode.Standalone
            ? StandaloneScales.Attach(model.Module, compression.Counts, $"{spec.Method} compression")
            : null;
        var trainer = new Trainer(model.Module, method, task, spec.Trainer) { OnEval = (step, _) => lastEvalStep = step };
        var result = trainer.Run(cancel);
        if (result.Interrupted)
        {
            trainer.Adapter?.Dispose();
            return new GenerationRunResult(result, before, null, null, null, ProcessMemory.PeakRssBytes(), clock.Elapsed.TotalSeconds);
        }
        using var adapter = trainer.Adapter!;
        var footprint = adapter.Footprint();
        // The trainer's final evaluation already decoded dev with these weights unless it restored an earlier best.
        var dev = lastEvalStep == result.Steps && result.BestStep == result.Steps && task.LastDev is { } last
            ? last
            : Scored(model, () => task.Score(spec.Data.Dev));
        var test = Scored(model, () => task.Score(spec.Data.Test));
        adapter.Merge();
        scales?.Fold();
        afterMerge?.Invoke();
        var peak = ProcessMemory.PeakRssBytes();
        var run = new GenerationRunResult(result, before, dev, test, footprint, peak, clock.Elapsed.TotalSeconds);
        if (outDir is not null)
        {
            WritePredictions(Path.Combine(outDir, "predictions-dev.jsonl"), dev.Predictions);
            if (spec.Data.Test.Count > 0) WritePredictions(Path.Combine(outDir, "predictions-test.jsonl"), test.Predictions);
            if (exportFrom is not null) ExportModel(model, exportFrom, Path.Combine(outDir, "model"));
            // The merged model is still fused: its cluster sizes let a later finetune or ntk run use them.
            if (exportFrom is not null && compression is not null) FusionCounts.Save(Path.Combine(outDir, "model"), compression.Counts);
            AtomicFile.WriteAllText(Path.Combine(outDir, "metrics.json"), Metrics(spec, run).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        }
        return run;
    }

    /// <summary>A seeded sample of training examples as the ids the model trains on (prompt and target).</summary>
    static ModelBatch CalibrationBatch(GenerationTrainingTask task, GenerationRunSpec spec, int count)
    {
        // The same seeded subsample as --max-train draws, as classification's calibration does.
        var sample = TextGenerationTask.Take(spec.Data.Train, count, (int)(spec.Trainer.Seed & 0x7FFFFFFF));
        if (sample.Count == 0) throw new MlpKitException("calibration: the training set is empty");
        return CompressibleModel.FromTokenIds(sample.Select(e => task.Encoded(e).Ids));
    }

    static GenerationScore Scored(ICausalLanguageModel model, Func<GenerationScore> score)
    {
        var wasTraining = model.Module.training;
        model.Module.eval();
        try
        {
            using var _ = no_grad();
            return score();
        }
        finally
        {
            if (wasTraining) model.Module.train();
        }
    }

    /// <summary>The merged model keeps its tokenizer files so it is usable on its own.</summary>
    static void ExportModel(ICausalLanguageModel model, string fromDir, string toDir)
    {
        ModelZoo.SaveWhole(model, toDir, dir => TokenizerFiles.Copy(fromDir, dir));
    }

    public static void WritePredictions(string path, IEnumerable<GenerationPrediction> predictions)
    {
        // Text stays readable (no \uXXXX for non-ASCII letters); JSON still escapes quotes, controls and newlines.
        var options = new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        var sb = new System.Text.StringBuilder();
        foreach (var p in predictions)
            sb.Append(new JsonObject { ["prompt"] = p.Prompt, ["reference"] = p.Reference, ["hypothesis"] = p.Hypothesis }.ToJsonString(options)).Append('\n');
        AtomicFile.WriteAllText(path, sb.ToString());
    }

    /// <summary>RUN/metrics.json: the classification run's fields, with the generation scores and decoding settings.</summary>
    public static JsonObject Metrics(GenerationRunSpec spec, GenerationRunResult r)
    {
        var o = new JsonObject
        {
            ["task"] = spec.Data.Name,
            ["task_type"] = "generation",
            ["method"] = spec.Method,
            ["method_options"] = new JsonObject(spec.MethodOptions.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["decode"] = new JsonObject
            {
                ["mode"] = spec.Decoding.IsBeam ? "beam" : "greedy",
                ["beams"] = spec.Decoding.IsBeam ? spec.Decoding.Beams : 1,
                ["max_new_tokens"] = spec.Decoding.MaxNewTokens,
                ["length_penalty"] = spec.Decoding.IsBeam ? spec.Decoding.LengthPenalty : null,
            },
            ["max_length"] = spec.MaxLength,
            ["train_examples"] = spec.Data.Train.Count,
            ["dev_examples"] = spec.Data.Dev.Count,
            ["test_examples"] = spec.Data.Test.Count,
        };
        if (r.DevBefore is { } b) o["dev_before"] = RunMetrics.Score(b.Result);
        o["dev"] = RunMetrics.Score(r.Dev!.Result);
        o["test"] = RunMetrics.Score(r.Test!.Result);
        RunMetrics.AddRunFigures(o, r.Train, r.Footprint!, r.PeakRssBytes, r.TotalSeconds, spec.Trainer);
        return o;
    }

    /// <summary>One summary line for the console.</summary>
    public static string Summary(GenerationRunSpec spec, GenerationRunResult r, string? outDir)
    {
        string S(GenerationScore? s) => s is null || double.IsNaN(s.Result.Value) ? "n/a"
            : $"BLEU {s.Result.Value:F4} ROUGE-L {s.Result.Extra!["rougeL"]:F4}";
        var before = r.DevBefore is null ? "" : $"dev before {S(r.DevBefore)}; ";
        return $"{spec.Method} on {spec.Data.Name}: {before}dev {S(r.Dev)}, test {S(r.Test)}, {r.Footprint!.TrainableParameters:N0} trainable, " +
               $"optimizer state {r.Footprint.OptimizerStateBytes / 1048576.0:F2} MiB" + (outDir is null ? "" : $" -> {outDir}");
    }
}
