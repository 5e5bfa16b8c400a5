using MlpKit.Training;
using static TorchSharp.torch;

namespace MlpKit.Lm;

/// <summary>
/// Next-token training of a <see cref="DecoderLm"/> on a token stream. Example i is the window of T + 1 tokens
/// starting at position i (inputs its first T, targets its last T), so the trainer's seeded per-epoch
/// permutation is the random window sampler and its checkpointed (epoch, batch) position is the sampler's
/// position. Evaluation scores the valid stream in fixed windows; its primary metric is the perplexity.
/// <para>
/// With attention "xl" the examples are instead the consecutive segments of <see cref="LmLanes"/> (one lane per
/// batch row), taken in order, and the memory each segment leaves (one detached segment of hidden states per layer)
/// is fed to the next segment of the same lanes, as Transformer-XL trains. Evaluation then walks the valid stream
/// carrying memory too (<see cref="LmEvaluation.Score"/>).
/// </para>
/// </summary>
public sealed class LmTrainingTask : ITrainingTask, ITrainingTaskStepMetrics, ISequentialTrainingTask
{
    readonly DecoderLm _model;
    readonly LmTokenStream _train;
    readonly LmTokenStream _valid;
    readonly int _evalBatch;
    readonly long _evalTokens;
    readonly Device _device;
    readonly LmLanes? _lanes;
    // xl: the memory left by the last segment trained, and the segment it precedes (-1: none).
    Tensor[]? _memory;
    int _memorySegment = -1;
    double _lastCe = double.NaN, _lastAux = double.NaN;

    /// <summary>
    /// <paramref name="lanes"/> is used by attention "xl" only: the parallel lanes, which must equal the trainer's
    /// batch size; <paramref name="evalBatch"/> is the windows (xl: lanes) per evaluation batch.
    /// </summary>
    public LmTrainingTask(DecoderLm model, LmTokenStream train, LmTokenStream valid, int evalBatch = 16, long evalTokens = 0, int lanes = 0)
    {
        _model = model; _train = train; _valid = valid; _evalBatch = evalBatch; _evalTokens = evalTokens;
        _device = model.parameters().First().device;
        if (train.Length < Context + 1)
            throw new MlpKitException($"{train.Source}: {train.Length} tokens, fewer than context length + 1 = {Context + 1}");
        if (train.VocabSize > model.Config.VocabSize || valid.VocabSize > model.Config.VocabSize)
            throw new MlpKitException($"the tokenizer has {train.VocabSize} ids, the model's vocabulary {model.Config.VocabSize}");
        if (model.Config.Attention == LmConfig.XlAttention) _lanes = LmLanes.For(train, lanes, Context);
    }

    int Context => (int)_model.Config.ContextLength;

    /// <summary>The lane layout of xl training; null for random windows.</summary>
    public LmLanes? Lanes => _lanes;

    public int TrainCount => _lanes?.Count ?? (int)Math.Min(int.MaxValue, _train.Length - Context);

    public bool InOrder => _lanes is not null;

    public Tensor Loss(IReadOnlyList<int> indices)
    {
        if (_lanes is not null) return SegmentLoss(indices);
        var window = LmEvaluation.Windows(_train.Tokens, indices.Select(i => (long)i).ToList(), Context + 1).to(_device);
        return Record(_model.Loss(window.narrow(1, 0, Context), window.narrow(1, 1, Context))).Total;
    }

    Tensor SegmentLoss(IReadOnlyList<int> indices)
    {
        var s = _lanes!.SegmentOf(indices);
        // Segment 0 of a lane (every epoch) starts from no memory; any other needs the one its predecessor left.
        if (s > 0 && (_memory is null || _memorySegment != s))
            throw new MlpKitException($"xl training: segment {s} needs the memory of segment {s - 1}, but the task holds " +
                (_memory is null ? "none (a checkpoint without task.safetensors?)" : $"the memory before segment {_memorySegment}"));
        var window = _lanes.Windows(_train.Tokens, indices).to(_device);
        var loss = _model.Loss(window.narrow(1, 0, Context), window.narrow(1, 1, Context), s > 0 ? _memory : null, out var next);
        // The memory outlives the trainer's per-batch dispose scope; the graph keeps its own reference to the old one.
        foreach (var m in next) m.DetachFromDisposeScope();
        SetMemory(next, s + 1);
        return Record(loss).Total;
    }

    void SetMemory(Tensor[]? memory, int segment)
    {
        if (_memory is not null) foreach (var m in _memory) m.Dispose();
        _memory = memory;
        _memorySegment = memory is null ? -1 : segment;
    }

    /// <summary>
    /// The memory goes into the checkpoint rather than being rebuilt on resume: it was computed by the previous
    /// step's weights (and, with dropout, its masks), which the checkpoint no longer has, so recomputing it from the
    /// saved weights would give different hidden states and the resumed run would drift from the uninterrupted one.
    /// It is small (layers × lanes × context × d_model floats).
    /// </summary>
    public IReadOnlyDictionary<string, Tensor> SaveState()
    {
        var d = new Dictionary<string, Tensor>();
        if (_memory is null) return d;
        for (int i = 0; i < _memory.Length; i++) d[$"memory.{i}"] = _memory[i];
        d["memory_segment"] = tensor(new long[] { _memorySegment });
        return d;
    }

    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        if (!state.TryGetValue("memory_segment", out var seg)) { SetMemory(null, -1); return; }
        var dtype = _model.parameters().First().dtype;
        var memory = Enumerable.Range(0, _model.Config.NLayers).Select(i =>
            state.TryGetValue($"memory.{i}", out var m)
                ? m.to(dtype, _device).DetachFromDisposeScope()
                : throw new MlpKitException($"task state: memory.{i} is missing ({_model.Config.NLayers} layers expected)")).ToArray();
        foreach (var m in memory)
            if (m.shape.Length != 3 || m.shape[0] != _lanes!.Lanes || m.shape[2] != _model.Config.DModel)
                throw new MlpKitException($"task state: memory of shape [{string.Join(", ", m.shape)}] does not fit {_lanes?.Lanes} lanes × d_model {_model.Config.DModel}");
        SetMemory(memory, (int)seg.item<long>());
    }

    LmLoss Record(LmLoss loss)
    {
        _lastCe = loss.CrossEntropy.detach().item<float>();
        _lastAux = loss.Aux.detach().item<float>();
        return loss;
    }

    /// <summary>Progress and Ctrl+C during evaluation (set by the run).</summary>
    public EvalWatch? Watch { get; set; }

    public EvalResult Evaluate()
    {
        var s = LmEvaluation.Score(_model, _valid, _evalBatch, _evalTokens, Watch);
        return new EvalResult("perplexity", s.Perplexity, HigherIsBetter: false, Loss: s.LossPerToken,
            Extra: new Dictionary<string, double> { ["bits_per_char"] = s.BitsPerChar, ["tokens"] = s.Tokens });
    }

    public IEnumerable<KeyValuePair<string, object?>> StepMetrics() =>
        [new("ce", _lastCe), new("aux", _lastAux)];
}
