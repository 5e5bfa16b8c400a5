using System.Diagnostics;
using MlpKit.FineTuning;
using MlpKit.Reporting;
using MlpKit.Runtime;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.Training;

/// <summary>
/// The training loop every MlpKit method uses: a fine-tuning method injected into the model, AdamW with
/// decoupled weight decay (LeanAdamW for dense parameters, the method's own for sparse ones), warm-up +
/// decay, global-norm clipping, gradient accumulation, periodic evaluation keeping the best weights, early
/// stopping, and checkpoints from which a stopped run continues exactly (model, optimizer, schedule, RNG,
/// data position). Cancelling the token saves a checkpoint and returns.
/// </summary>
public sealed class Trainer
{
    readonly nn.Module _model;
    readonly IFineTuneMethod _method;
    readonly ITrainingTask _task;
    readonly TrainerOptions _o;

    /// <summary>Called after every optimizer step (tests and callers observe or cancel through it).</summary>
    public Action<StepInfo>? OnStep { get; init; }
    /// <summary>Called after every evaluation.</summary>
    public Action<long, EvalResult>? OnEval { get; init; }

    public IFineTuneAdapter? Adapter { get; private set; }
    public string? CheckpointDir => _o.OutDir is null ? null : Path.Combine(_o.OutDir, "checkpoint");
    public string? BestDir => _o.OutDir is null ? null : Path.Combine(_o.OutDir, "best");

    public Trainer(nn.Module model, IFineTuneMethod method, ITrainingTask task, TrainerOptions options)
    {
        options.Validate();
        if (task.TrainCount < 1) throw new MlpKitException("training set is empty");
        _model = model; _method = method; _task = task; _o = options;
    }

    /// <summary>Where the model lives (its first parameter's device); the step's loss is summed there.</summary>
    Device _device = CPU;

    long MicroBatchesPerEpoch => (_task.TrainCount + _o.BatchSize - 1) / _o.BatchSize;

    public long TotalSteps => _o.MaxSteps > 0
        ? _o.MaxSteps
        : Math.Max(1, (long)Math.Ceiling(_o.Epochs * MicroBatchesPerEpoch / _o.GradAccumulation));

    long WarmupSteps => _o.WarmupSteps > 0 ? _o.WarmupSteps : (long)Math.Round(_o.WarmupRatio * TotalSteps);

    public TrainResult Run(CancellationToken cancel = default)
    {
        TorchRuntime.EnsureInitialized();
        _device = _model.parameters().FirstOrDefault()?.device ?? CPU;
        var progress = new ProgressLine(_o.Progress, _o.LogEvery);
        var (state, resumeDir, optimizer) = Begin(progress);
        var adapter = Adapter!;
        if (_o.OutDir is not null) Directory.CreateDirectory(_o.OutDir);
        using var log = new MetricsLog(_o.OutDir is null ? null : Path.Combine(_o.OutDir, "metrics.jsonl"), resumeDir is null ? -1 : state.Step);
        if (resumeDir is not null) progress.Message($"resumed at step {state.Step} from {resumeDir}");

        var total = TotalSteps;
        var clock = Stopwatch.StartNew();
        var sinceCheckpoint = Stopwatch.StartNew();
        var examplesAtStart = state.Examples;
        var stepAtStart = state.Step;
        var interrupted = false;
        var stoppedEarly = false;
        double lastLoss = double.NaN;
        var order = new EpochOrder(this);
        long? checkpointStep = resumeDir is null ? null : state.Step;
        var lossWatch = new LossWatch(state.Step, total);
        // Ctrl+C ends the current step and writes the checkpoint below, however long that takes.
        using var hold = GracefulStop.Hold();

        while (state.Step < total)
        {
            if (cancel.IsCancellationRequested) { interrupted = true; break; }
            double gradNorm;
            var t0 = Stopwatch.GetTimestamp();
            long t1;
            using (NewDisposeScope())
            {
                var loss = AccumulateGradients(state, order);
                t1 = Stopwatch.GetTimestamp();
                // The step's one read from the device: the mean loss and the gradient norm together (on a GPU every
                // read is a sync; on the CPU it saves the per-tensor float64 copies the norm used to make).
                var lossAndNorm = stack([loss, GradientNorm(adapter).to(_device)]).cpu().data<double>().ToArray();
                (lastLoss, gradNorm) = (lossAndNorm[0], lossAndNorm[1]);
            }
            var t2 = Stopwatch.GetTimestamp();
            if (!double.IsFinite(lastLoss)) throw NumericalFault(adapter, state.Step + 1, $"the training loss is {lastLoss}", checkpointStep);
            if (!double.IsFinite(gradNorm)) throw NumericalFault(adapter, state.Step + 1, $"the gradient norm is {gradNorm}", checkpointStep);
            var lr = _o.LearningRate * LrSchedule.Factor(state.Step, WarmupSteps, total, _o.Decay, _o.MinLrRatio);
            OptimizerStep(adapter, optimizer, state, lr, gradNorm);
            var phases = new StepPhases(Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds, Stopwatch.GetElapsedTime(t1, t2).TotalMilliseconds,
                Stopwatch.GetElapsedTime(t2).TotalMilliseconds);
            if (lossWatch.Add(state.Step, lastLoss) is { } warning) progress.Warn(warning);

            var elapsed = clock.Elapsed.TotalSeconds;
            var exPerSec = (state.Examples - examplesAtStart) / Math.Max(1e-9, elapsed);
            var info = new StepInfo(state.Step, total, state.Epoch, lastLoss, lr, gradNorm, exPerSec, state.SecondsBefore + elapsed, phases);
            if (state.Step % Math.Max(1, _o.LogEvery) == 0 || state.Step == total)
                log.Write("train", state.Step, [new("epoch", state.Epoch), new("loss", lastLoss), new("lr", lr), new("grad_norm", gradNorm),
                    new("examples_per_s", exPerSec), new("elapsed_s", info.ElapsedSeconds),
                    .. (_task is ITrainingTaskStepMetrics m ? m.StepMetrics() : [])]);
            progress.Update(info, elapsed / Math.Max(1, state.Step - stepAtStart) * (total - state.Step));
            OnStep?.Invoke(info);

            if ((_o.EvalEvery > 0 && state.Step % _o.EvalEvery == 0) || state.Step == total)
            {
                try
                {
                    stoppedEarly = EvaluateAndTrack(adapter, state, log, progress);
                }
                catch (OperationCanceledException) when (cancel.IsCancellationRequested)
                {
                    // Ctrl+C during a long evaluation: stop now, keeping the step; the checkpoint below saves it.
                    interrupted = true;
                    break;
                }
            }
            bool byStep = _o.CheckpointEvery > 0 && state.Step % _o.CheckpointEvery == 0;
            bool byTime = _o.CheckpointMinutes > 0 && sinceCheckpoint.Elapsed.TotalMinutes >= _o.CheckpointMinutes;
            if (CheckpointDir is not null && (byStep || byTime) && state.Step < total && !stoppedEarly)
            {
                SaveCheckpoint(adapter, optimizer, state, clock);
                checkpointStep = state.Step;
                sinceCheckpoint.Restart();
            }
            if (stoppedEarly) break;
        }
        progress.End();

        if (CheckpointDir is not null) SaveCheckpoint(adapter, optimizer, state, clock);
        var seconds = state.SecondsBefore + clock.Elapsed.TotalSeconds;
        if (interrupted) progress.Message($"interrupted at step {state.Step}; checkpoint saved, continue with --resume");
        else Finish(adapter, state, log);
        return new TrainResult(state.Step, total, interrupted, stoppedEarly, state.Best, state.BestStep, lastLoss, seconds,
            (state.Examples - examplesAtStart) / Math.Max(1e-9, clock.Elapsed.TotalSeconds), state.Examples);
    }

    /// <summary>Injects the method, fresh or from the checkpoint (model, adapter, task position, optimizer, RNG), and builds the optimizer.</summary>
    (TrainerState State, string? ResumeDir, AdamW? Optimizer) Begin(ProgressLine progress)
    {
        var state = new TrainerState { Method = _method.Name, Seed = _o.Seed };
        string? resumeDir = _o.Resume && CheckpointDir is not null ? TrainerCheckpoint.ResolveForResume(CheckpointDir) : null;
        if (resumeDir is not null)
        {
            state = TrainerCheckpoint.ReadState(resumeDir);
            if (state.Method != _method.Name)
                throw MlpKitException.Field(Path.Combine(resumeDir, TrainerCheckpoint.StateFile), "Method", $"checkpoint was made by '{state.Method}', this run uses '{_method.Name}'");
            Adapter = _method.Inject(_model, new FineTuneContext { ResumeState = TrainerCheckpoint.ReadAdapter(resumeDir) });
            TrainerCheckpoint.LoadModel(resumeDir, _model);
            Adapter.LoadStateTensors(TrainerCheckpoint.ReadAdapter(resumeDir));
            if (Sequential is { } seq) seq.LoadState(TrainerCheckpoint.ReadTaskState(resumeDir));
        }
        else
        {
            manual_seed(_o.Seed);
            Adapter = _method.Inject(_model, new FineTuneContext { CalibrationLosses = CalibrationLosses, Progress = progress.Message });
        }

        var optimizer = BuildOptimizer(Adapter);
        if (resumeDir is not null)
        {
            if (optimizer is not null) TrainerCheckpoint.LoadOptimizer(resumeDir, optimizer);
            random.set_rng_state(tensor(Convert.FromBase64String(state.RngState)));
        }
        return (state, resumeDir, optimizer);
    }

    /// <summary>The shuffled order of the current epoch, rebuilt when the epoch changes (a position is two integers).</summary>
    sealed class EpochOrder(Trainer trainer)
    {
        int[] _perm = [];
        int _epoch = -1;

        public ArraySegment<int> Next(TrainerState state)
        {
            var o = trainer._o;
            if (state.BatchInEpoch >= trainer.MicroBatchesPerEpoch) { state.Epoch++; state.BatchInEpoch = 0; }
            if (_epoch != state.Epoch) { _perm = trainer.Permutation(state.Epoch); _epoch = state.Epoch; }
            var start = state.BatchInEpoch * o.BatchSize;
            state.BatchInEpoch++;
            return new ArraySegment<int>(_perm, start, Math.Min(o.BatchSize, _perm.Length - start));
        }
    }

    /// <summary>
    /// Forward and backward over the accumulated micro-batches; returns their mean loss as a float64 scalar tensor, left
    /// on the device (the caller reads it together with the gradient norm).
    /// </summary>
    Tensor AccumulateGradients(TrainerState state, EpochOrder order)
    {
        var lossSum = zeros(1, ScalarType.Float64, device: _device).squeeze();
        for (var a = 0; a < _o.GradAccumulation; a++)
        {
            var batch = order.Next(state);
            using var scope = NewDisposeScope();
            _model.train();
            var loss = _task.Loss(batch);
            (loss / _o.GradAccumulation).backward();
            lossSum.add_(loss.detach().to(ScalarType.Float64));
            state.Examples += batch.Count;
        }
        return lossSum.div_(_o.GradAccumulation);
    }

    /// <summary>Clips to <paramref name="gradNorm"/> (measured), steps the dense optimizer and the method's sparse parameters at <paramref name="lr"/>.</summary>
    void OptimizerStep(IFineTuneAdapter adapter, AdamW? optimizer, TrainerState state, double lr, double gradNorm)
    {
        using var scope = NewDisposeScope();
        ScaleToNorm(Gradients(adapter), gradNorm, _o.ClipNorm);
        if (optimizer is not null)
        {
            foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;
            optimizer.step();
            // Gradients are dropped rather than zeroed (PyTorch's zero_grad(set_to_none=True)): no memset per step, and
            // the next backward writes them fresh instead of adding into zeros.
            foreach (var p in adapter.DenseTrainable) p.Parameter.grad = null;
        }
        state.Step++;
        foreach (var s in adapter.SparseTrainable)
        {
            s.Step(lr, _o.Beta1, _o.Beta2, _o.Eps, _o.WeightDecay, state.Step);
            s.ZeroGrad();
        }
    }

    /// <summary>Scores dev, keeps the best weights, counts patience; true when training should stop early.</summary>
    bool EvaluateAndTrack(IFineTuneAdapter adapter, TrainerState state, MetricsLog log, ProgressLine progress)
    {
        var result = Evaluate();
        log.Write("eval", state.Step, [new("metric", result.Metric), new("value", result.Value), new("loss", result.Loss),
            .. (result.Extra ?? new Dictionary<string, double>()).Select(kv => new KeyValuePair<string, object?>(kv.Key, kv.Value))]);
        OnEval?.Invoke(state.Step, result);
        if (result.IsBetterThan(state.Best))
        {
            _bestEval = result;
            state.Best = result.Value; state.BestStep = state.Step; state.BadEvals = 0;
            if (BestDir is not null) TrainerCheckpoint.Save(BestDir, _model, adapter, null, null);
            return false;
        }
        if (_o.Patience > 0 && ++state.BadEvals >= _o.Patience)
        {
            progress.Message($"early stop at step {state.Step}: no improvement in {_o.Patience} evaluations (best {state.Best:G5} at step {state.BestStep})");
            return true;
        }
        return false;
    }

    /// <summary>After a finished run: restores the best weights when asked, and draws the curves.</summary>
    void Finish(IFineTuneAdapter adapter, TrainerState state, MetricsLog log)
    {
        var restored = false;
        if (_o.RestoreBest && BestDir is not null && TrainerCheckpoint.Resolve(BestDir) is { } best && state.BestStep != state.Step)
        {
            TrainerCheckpoint.LoadModel(best, _model);
            adapter.LoadStateTensors(TrainerCheckpoint.ReadAdapter(best));
            restored = true;
        }
        FinalDev = _bestEval is not null && (restored || state.BestStep == state.Step) ? _bestEval : null;
        if (_o.OutDir is not null && _o.WritePlot && log.Path is not null)
        {
            log.Dispose();
            CurvePlot.Write(log.Path, Path.Combine(_o.OutDir, "curves.png"), _o.PlotTitle ?? $"{_method.Name} fine-tuning");
        }
    }

    EvalResult? _bestEval;

    /// <summary>
    /// The dev score of the weights the run ends with, when this process already measured it (the best evaluation,
    /// restored or final), so callers need not score dev again; null when it must be measured (e.g. after a resume).
    /// </summary>
    public EvalResult? FinalDev { get; private set; }

    EvalResult Evaluate()
    {
        _model.eval();
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var r = _task.Evaluate();
        _model.train();
        return r;
    }

    void SaveCheckpoint(IFineTuneAdapter adapter, OptimizerHelper? optimizer, TrainerState state, Stopwatch clock)
    {
        using var scope = NewDisposeScope();
        state.RngState = Convert.ToBase64String(random.get_rng_state().data<byte>().ToArray());
        var snapshot = new TrainerState
        {
            Step = state.Step, Epoch = state.Epoch, BatchInEpoch = state.BatchInEpoch, Examples = state.Examples,
            Best = state.Best, BestStep = state.BestStep, BadEvals = state.BadEvals, Method = state.Method, Seed = state.Seed,
            RngState = state.RngState, SecondsBefore = state.SecondsBefore + clock.Elapsed.TotalSeconds,
        };
        TrainerCheckpoint.Save(CheckpointDir!, _model, adapter, optimizer, snapshot, Sequential?.SaveState());
    }

    /// <summary>The task when it keeps state between batches; null for ordinary tasks.</summary>
    ISequentialTrainingTask? Sequential => _task is ISequentialTrainingTask { InOrder: true } s ? s : null;

    /// <summary>
    /// The order of epoch e: a Fisher-Yates shuffle seeded by (seed, e), so a position is two integers; the identity
    /// for a sequential task.
    /// </summary>
    int[] Permutation(int epoch)
    {
        var p = Enumerable.Range(0, _task.TrainCount).ToArray();
        if (Sequential is not null) return p;
        var rng = new Random(unchecked((int)(_o.Seed * 1_000_003 + epoch * 7919 + 17)));
        for (var i = p.Length - 1; i > 0; i--)
        {
            var j = rng.Next(i + 1);
            (p[i], p[j]) = (p[j], p[i]);
        }
        return p;
    }

    /// <summary>
    /// Calibration batches for methods that need gradients before training (SparseGrad): drawn from their
    /// own shuffle, so the training data position is untouched, and identical each time they are requested.
    /// </summary>
    IEnumerable<Tensor> CalibrationLosses(int count)
    {
        var p = Permutation(-1);
        for (var i = 0; i < count; i++)
        {
            var start = (int)((long)i * _o.BatchSize % p.Length);
            var batch = Enumerable.Range(start, _o.BatchSize).Select(k => p[k % p.Length]).ToArray();
            _model.train();
            yield return _task.Loss(batch);
        }
    }

    AdamW? BuildOptimizer(IFineTuneAdapter adapter)
    {
        var decay = adapter.DenseTrainable.Where(p => p.Decays).Select(p => p.Parameter).ToList();
        var noDecay = adapter.DenseTrainable.Where(p => !p.Decays).Select(p => p.Parameter).ToList();
        var groups = new List<AdamW.ParamGroup>();
        if (decay.Count > 0) groups.Add(new AdamW.ParamGroup(decay, _o.LearningRate, _o.Beta1, _o.Beta2, _o.Eps, _o.WeightDecay));
        if (noDecay.Count > 0) groups.Add(new AdamW.ParamGroup(noDecay, _o.LearningRate, _o.Beta1, _o.Beta2, _o.Eps, 0.0));
        return groups.Count == 0 ? null : new LeanAdamW(groups, _o.LearningRate, _o.Beta1, _o.Beta2, _o.Eps, _o.WeightDecay);
    }

    /// <summary>
    /// A non-finite loss or gradient, caught before the update, so the weights are still the last good ones: names the
    /// step and the first trainable tensor at fault, and what is kept. The run stops; the run folder keeps its last
    /// checkpoint, which --resume continues from (with a smaller --lr the same batch may pass).
    /// </summary>
    MlpKitException NumericalFault(IFineTuneAdapter adapter, long step, string what, long? checkpointStep)
    {
        using var scope = NewDisposeScope();
        static bool Finite(Tensor t) => isfinite(t).all().item<bool>();
        var where = adapter.DenseTrainable.FirstOrDefault(p => !Finite(p.Parameter)) is { } bad
            ? $"parameter {bad.Name} holds non-finite values"
            : adapter.DenseTrainable.FirstOrDefault(p => p.Parameter.grad is { } g && !Finite(g)) is { } badGrad
                ? $"the gradient of {badGrad.Name} is not finite"
                : adapter.SparseTrainable.FirstOrDefault(p => !Finite(p.Grad)) is { } badSparse
                    ? $"the gradient of {badSparse.Name} is not finite"
                    : "every trainable tensor and gradient is finite, so the forward pass overflowed";
        var kept = checkpointStep is { } c && CheckpointDir is not null
            ? $"{CheckpointDir} (step {c}) is kept for --resume"
            : "no checkpoint was written yet";
        return new MlpKitException($"step {step}: {what} ({where}); stopped before the update (try a smaller --lr); {kept}");
    }

    static List<Tensor> Gradients(IFineTuneAdapter adapter) =>
        adapter.DenseTrainable.Select(p => p.Parameter.grad).Where(g => g is not null).Select(g => g!)
            .Concat(adapter.SparseTrainable.Select(s => s.Grad)).ToList();

    /// <summary>
    /// Global L2 norm over every dense and sparse gradient as a float64 scalar tensor (not read back): one norm per
    /// tensor in its own precision (float32 or float64; half types in float32), then the norm of those norms, as
    /// torch.nn.utils.clip_grad_norm_ computes it.
    /// </summary>
    public static Tensor GradientNorm(IFineTuneAdapter adapter)
    {
        var grads = Gradients(adapter);
        if (grads.Count == 0) return zeros(1, ScalarType.Float64).squeeze();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var norms = grads.Select(g =>
        {
            var d = g.detach();
            return linalg.vector_norm(d.dtype is ScalarType.Float32 or ScalarType.Float64 ? d : d.to(ScalarType.Float32)).to(ScalarType.Float64);
        }).ToArray();
        return stack(norms).norm().MoveToOuterDisposeScope();
    }

    /// <summary>When <paramref name="norm"/> is above <paramref name="maxNorm"/> (and maxNorm is on), scales every gradient by maxNorm / (norm + 1e-6).</summary>
    static void ScaleToNorm(IReadOnlyList<Tensor> grads, double norm, double maxNorm)
    {
        if (!(maxNorm > 0 && norm > maxNorm)) return;
        var coef = maxNorm / (norm + 1e-6);
        using var _ = no_grad();
        foreach (var g in grads) g.mul_(coef);
    }

    /// <summary>
    /// Global L2 norm over every dense and sparse gradient; when above <paramref name="maxNorm"/> all are
    /// scaled by maxNorm / (norm + 1e-6), as torch.nn.utils.clip_grad_norm_ does. Returns the norm before clipping.
    /// </summary>
    public static double ClipGradients(IFineTuneAdapter adapter, double maxNorm)
    {
        using var scope = NewDisposeScope();
        var norm = GradientNorm(adapter).item<double>();
        ScaleToNorm(Gradients(adapter), norm, maxNorm);
        return norm;
    }
}
