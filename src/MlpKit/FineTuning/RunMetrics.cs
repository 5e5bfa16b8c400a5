using System.Text.Json.Nodes;
using MlpKit.Training;

namespace MlpKit.FineTuning;

/// <summary>The parts of RUN/metrics.json every fine-tuning run writes alike (classification, regression, generation).</summary>
public static class RunMetrics
{
    /// <summary>One split's scores; a value JSON cannot hold (NaN, ±∞) is written as null.</summary>
    public static JsonObject Score(EvalResult r)
    {
        static JsonNode? Num(double? v) => v is { } x && double.IsFinite(x) ? x : null;
        var o = new JsonObject { [r.Metric] = Num(r.Value), ["loss"] = Num(r.Loss) };
        foreach (var (k, v) in r.Extra ?? new Dictionary<string, double>()) o[k] = Num(v);
        return o;
    }

    /// <summary>Steps, the method's memory footprint, peak RSS, times and seed, appended in this order.</summary>
    public static void AddRunFigures(JsonObject o, TrainResult train, MethodFootprint footprint, long? peakRssBytes, double totalSeconds, MlpKit.Training.TrainerOptions trainer)
    {
        o["steps"] = train.Steps;
        o["best_step"] = train.BestStep;
        o["stopped_early"] = train.StoppedEarly;
        o["trainable_parameters"] = footprint.TrainableParameters;
        o["optimizer_state_bytes"] = footprint.OptimizerStateBytes;
        o["gradient_bytes"] = footprint.GradientBytes;
        o["mlp_optimizer_state_bytes"] = footprint.MlpOptimizerStateBytes;
        o["method_extra_bytes"] = footprint.ExtraBytes;
        o["peak_rss_bytes"] = peakRssBytes;
        o["train_seconds"] = train.Seconds;
        o["total_seconds"] = totalSeconds;
        o["examples_per_second"] = train.ExamplesPerSecond;
        o["learning_rate"] = trainer.LearningRate;
        o["seed"] = trainer.Seed;
    }
}
