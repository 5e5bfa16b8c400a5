using static TorchSharp.torch;

namespace MlpKit.Training;

/// <summary>What the trainer needs from a task: a loss over chosen training examples and a dev evaluation.</summary>
public interface ITrainingTask
{
    int TrainCount { get; }

    /// <summary>Mean loss over the training examples with these indices, graph attached (the model is in train mode).</summary>
    Tensor Loss(IReadOnlyList<int> indices);

    /// <summary>Scores the dev split; called with the model in eval mode and gradients off.</summary>
    EvalResult Evaluate();
}

/// <summary>
/// Optional: a task that reports more than its loss per step (an LM's cross-entropy and regulariser apart). The
/// trainer adds these fields to every "train" line of metrics.jsonl; they describe the last micro-batch.
/// </summary>
public interface ITrainingTaskStepMetrics
{
    IEnumerable<KeyValuePair<string, object?>> StepMetrics();
}

/// <summary>
/// Optional: a task whose examples must be taken in order and which carries state from one batch to the next (a
/// recurrent memory over consecutive segments). The trainer then walks examples 0, 1, 2, … every epoch instead of a
/// shuffled order, so its checkpointed (epoch, batch) position is the task's position, and it saves
/// <see cref="SaveState"/> in every checkpoint and hands it back through <see cref="LoadState"/> on resume.
/// </summary>
public interface ISequentialTrainingTask
{
    /// <summary>False: the trainer shuffles as for any task (a pass-through wrapper may say so).</summary>
    bool InOrder { get; }

    /// <summary>The state to checkpoint after the last <see cref="ITrainingTask.Loss"/> (may be empty).</summary>
    IReadOnlyDictionary<string, Tensor> SaveState();

    /// <summary>Restores what <see cref="SaveState"/> returned (empty when the checkpoint holds none).</summary>
    void LoadState(IReadOnlyDictionary<string, Tensor> state);
}

/// <summary>A dev evaluation: the primary metric decides the best checkpoint and early stopping.</summary>
public sealed record EvalResult(string Metric, double Value, bool HigherIsBetter = true, double? Loss = null,
    IReadOnlyDictionary<string, double>? Extra = null)
{
    public bool IsBetterThan(double? best) => best is null || (HigherIsBetter ? Value > best : Value < best);
}

/// <summary>One optimizer step as reported to observers (progress, tests, profiles).</summary>
public sealed record StepInfo(long Step, long TotalSteps, int Epoch, double Loss, double LearningRate, double GradNorm,
    double ExamplesPerSecond, double ElapsedSeconds, StepPhases? Phases = null);

/// <summary>
/// Wall time of one step's phases in ms: forward and backward over the micro-batches, the global gradient norm (with
/// the step's one read of loss and norm), and the update (clipping, the dense optimizer, the method's sparse steps).
/// </summary>
public sealed record StepPhases(double ForwardBackwardMs, double NormMs, double UpdateMs);

public sealed record TrainResult(long Steps, long TotalSteps, bool Interrupted, bool StoppedEarly, double? BestMetric,
    long BestStep, double LastLoss, double Seconds, double ExamplesPerSecond, long Examples);
