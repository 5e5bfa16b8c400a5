namespace MlpKit.Training;

/// <summary>Everything that controls a training run; the trainer writes it into every checkpoint it makes.</summary>
public sealed record TrainerOptions
{
    /// <summary>Run folder for checkpoints, metrics.jsonl and curves.png; null trains in memory only.</summary>
    public string? OutDir { get; init; }
    /// <summary>Optimizer steps; 0 means derive from <see cref="Epochs"/>.</summary>
    public long MaxSteps { get; init; }
    public double Epochs { get; init; } = 1;
    public int BatchSize { get; init; } = 16;
    public int GradAccumulation { get; init; } = 1;
    public double LearningRate { get; init; } = 1e-3;
    public double WeightDecay { get; init; } = 0.01;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Eps { get; init; } = 1e-8;
    /// <summary>Warm-up steps; when 0, <see cref="WarmupRatio"/> of the total is used.</summary>
    public long WarmupSteps { get; init; }
    public double WarmupRatio { get; init; }
    public LrDecay Decay { get; init; } = LrDecay.Linear;
    public double MinLrRatio { get; init; }
    /// <summary>Global gradient-norm clip; 0 turns clipping off.</summary>
    public double ClipNorm { get; init; } = 1.0;
    /// <summary>Evaluate every N optimizer steps (and at the end); 0 evaluates only at the end.</summary>
    public long EvalEvery { get; init; }
    /// <summary>Stop after this many evaluations without improvement; 0 never stops early.</summary>
    public int Patience { get; init; }
    /// <summary>Checkpoint every N steps (and whenever the run stops); 0 checkpoints only when it stops.</summary>
    public long CheckpointEvery { get; init; }
    /// <summary>
    /// Also checkpoint when this many minutes have passed since the last checkpoint (0: off), so a crash loses at most
    /// that much work even when <see cref="CheckpointEvery"/> is 0. A checkpoint is always written at the end and on Ctrl+C.
    /// </summary>
    public double CheckpointMinutes { get; init; } = 5;
    public long Seed { get; init; } = 42;
    public int LogEvery { get; init; } = 10;
    public bool Progress { get; init; } = true;
    /// <summary>Continue from OutDir/checkpoint when one exists.</summary>
    public bool Resume { get; init; }
    /// <summary>Put the best evaluated weights back into the model when the run ends.</summary>
    public bool RestoreBest { get; init; } = true;
    public bool WritePlot { get; init; } = true;
    /// <summary>Title of curves.png; null uses "METHOD fine-tuning".</summary>
    public string? PlotTitle { get; init; }

    public void Validate()
    {
        if (BatchSize < 1) throw new MlpKitException($"--batch-size {BatchSize}: must be at least 1");
        if (!(CheckpointMinutes >= 0)) throw new MlpKitException($"--checkpoint-minutes {CheckpointMinutes}: must be 0 (off) or positive");
        if (GradAccumulation < 1) throw new MlpKitException($"--grad-accum {GradAccumulation}: must be at least 1");
        if (MaxSteps < 0) throw new MlpKitException($"--max-steps {MaxSteps}: must be positive");
        if (MaxSteps == 0 && !(Epochs > 0)) throw new MlpKitException($"--epochs {Epochs}: must be positive (or give --max-steps)");
        if (!(LearningRate > 0)) throw new MlpKitException($"--lr {LearningRate}: must be positive");
        if (WeightDecay < 0) throw new MlpKitException($"--weight-decay {WeightDecay}: must not be negative");
        if (ClipNorm < 0) throw new MlpKitException($"--clip {ClipNorm}: must not be negative");
        if (WarmupRatio is < 0 or > 1) throw new MlpKitException($"--warmup-ratio {WarmupRatio}: must be in [0, 1]");
    }
}
