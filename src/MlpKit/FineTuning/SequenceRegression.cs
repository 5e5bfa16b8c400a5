using MlpKit.Data;
using MlpKit.Training;
using static TorchSharp.torch;

namespace MlpKit.FineTuning;

/// <summary>
/// A <see cref="TextRegressionTask"/> for the trainer on a one-output head (an <see cref="ITextClassifier"/> built with
/// one class): mean-squared-error loss; dev/test report Pearson as the main metric with Spearman and MSE beside it,
/// as GLUE reports STS-B.
/// </summary>
public sealed class RegressionTrainingTask(ITextClassifier model, TextRegressionTask task, int evalBatch = 64) : ITrainingTask
{
    public int TrainCount => task.Train.Count;

    public Tensor Loss(IReadOnlyList<int> indices)
    {
        var batch = indices.Select(i => task.Train[i]).ToList();
        var predicted = Predict(batch);
        return nn.functional.mse_loss(predicted, tensor(batch.Select(e => e.Target).ToArray()).to(predicted.dtype));
    }

    /// <summary>Progress and Ctrl+C for a split's scoring ("dev", "test"), checked between batches; null: neither.</summary>
    public Func<string, EvalWatch?>? WatchFor { get; set; }

    public EvalResult Evaluate() => Score(task.Dev, WatchFor?.Invoke("dev"));

    public EvalResult EvaluateTest() => Score(task.Test, WatchFor?.Invoke("test"));

    Tensor Predict(IReadOnlyList<TextExample> batch)
    {
        var output = model.Logits(batch);
        if (output.shape.Length != 2 || output.shape[1] != 1)
            throw new InvalidOperationException($"a regression head has one output; this model gives shape [{string.Join(", ", output.shape)}]");
        return output.squeeze(1);
    }

    EvalResult Score(IReadOnlyList<TextExample> examples, EvalWatch? watch)
    {
        if (examples.Count == 0) return new EvalResult("pearson", double.NaN);
        var predicted = new List<double>(examples.Count);
        for (var s = 0; s < examples.Count; s += evalBatch)
        {
            watch?.Step(s, examples.Count);
            using var scope = NewDisposeScope();
            var batch = examples.Skip(s).Take(evalBatch).ToList();
            predicted.AddRange(Predict(batch).to(ScalarType.Float64).data<double>().ToArray());
        }
        var gold = examples.Select(e => e.Target).ToArray();
        var mse = gold.Zip(predicted).Average(p => (p.First - p.Second) * (p.First - p.Second));
        var pearson = TaskMetrics.Pearson(gold, predicted);
        // Undefined when predictions (or targets) are constant; 0 (no measurable relation) keeps the trainer's
        // best-checkpoint comparisons ordered, where a NaN best would never be beaten.
        return new EvalResult("pearson", double.IsNaN(pearson) ? 0 : pearson, Loss: mse,
            Extra: new Dictionary<string, double>
            {
                ["spearman"] = TaskMetrics.Spearman(gold, predicted),
                ["mse"] = mse,
            });
    }
}
