using MlpKit.Data;
using MlpKit.Models;
using MlpKit.Tokenizers;
using MlpKit.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.FineTuning;

/// <summary>A model with a classification head that reads raw examples (it tokenises them itself).</summary>
public interface ITextClassifier
{
    nn.Module Module { get; }
    /// <summary>The freshly initialised head (saved beside the merged encoder).</summary>
    Linear Head { get; }
    Tensor Logits(IReadOnlyList<TextExample> batch);
    /// <summary>The ids the encoder reads for one example (as <see cref="Logits"/> tokenizes it; compression calibrates on them).</summary>
    int[] TokenIds(TextExample example);
}

/// <summary>
/// An encoder with a fresh classification head on its mask-averaged last hidden states. The encoder is
/// registered as "encoder" and the head as "head", so the methods' default train-also pattern trains the
/// head and the encoder's own names stay what its checkpoint uses.
/// </summary>
public sealed class SequenceClassifier : nn.Module<Tensor, Tensor, Tensor, Tensor>, ITextClassifier
{
    public IEncoderModel Encoder { get; }
    private Linear head;
    readonly ITextTokenizer _tokenizer;
    readonly int _maxLength;
    readonly Dictionary<TextExample, TokenizedInput> _cache = new(ReferenceEqualityComparer.Instance);

    public SequenceClassifier(IEncoderModel encoder, ITextTokenizer tokenizer, int classes, int maxLength = 128) : base(nameof(SequenceClassifier))
    {
        Encoder = encoder;
        _tokenizer = tokenizer;
        _maxLength = maxLength;
        head = nn.Linear(encoder.HiddenSize, classes);
        register_module("encoder", encoder.Module);
        register_module("head", head);
    }

    public Linear Head => head;
    public nn.Module Module => this;

    public int[] TokenIds(TextExample example) => Encode(example).Ids;

    TokenizedInput Encode(TextExample e) => _cache.TryGetValue(e, out var t) ? t : _cache[e] = _tokenizer.EncodePair(e.Text, e.TextPair, _maxLength);

    public Tensor Logits(IReadOnlyList<TextExample> batch)
    {
        var inputs = batch.Select(Encode).ToList();
        var (ids, mask, types) = Collate(inputs, _tokenizer.Special.PaddingId());
        return call(ids, mask, types);
    }

    static (Tensor Ids, Tensor Mask, Tensor Types) Collate(IReadOnlyList<TokenizedInput> batch, int pad)
    {
        var len = Math.Max(1, batch.Max(b => b.Length));
        var ids = new long[batch.Count * len];
        var mask = new long[batch.Count * len];
        var types = new long[batch.Count * len];
        for (var i = 0; i < batch.Count; i++)
            for (var j = 0; j < len; j++)
            {
                var inside = j < batch[i].Length;
                ids[i * len + j] = inside ? batch[i].Ids[j] : pad;
                mask[i * len + j] = inside ? 1 : 0;
                types[i * len + j] = inside ? batch[i].TypeIds[j] : 0;
            }
        long[] shape = [batch.Count, len];
        return (tensor(ids, shape), tensor(mask, shape), tensor(types, shape));
    }

    public override Tensor forward(Tensor ids, Tensor mask, Tensor types)
    {
        var h = Encoder.Encode(ids, mask, types);
        var m = mask.unsqueeze(-1).to(h.dtype);
        return head.call((h * m).sum([1]) / m.sum([1]).clamp_min(1));
    }
}

/// <summary>A <see cref="TextClassificationTask"/> for the trainer: cross-entropy loss, accuracy and macro-F1 on dev/test.</summary>
public sealed class ClassificationTrainingTask(ITextClassifier model, TextClassificationTask task, int evalBatch = 64) : ITrainingTask
{
    public int TrainCount => task.Train.Count;

    public Tensor Loss(IReadOnlyList<int> indices)
    {
        var batch = indices.Select(i => task.Train[i]).ToList();
        var labels = tensor(batch.Select(e => (long)e.Label).ToArray());
        return nn.functional.cross_entropy(model.Logits(batch), labels);
    }

    /// <summary>Progress and Ctrl+C for a split's scoring ("dev", "test"), checked between batches; null: neither.</summary>
    public Func<string, EvalWatch?>? WatchFor { get; set; }

    public EvalResult Evaluate() => Score(task.Dev, WatchFor?.Invoke("dev"));

    public EvalResult EvaluateTest() => Score(task.Test, WatchFor?.Invoke("test"));

    EvalResult Score(IReadOnlyList<TextExample> examples, EvalWatch? watch)
    {
        if (examples.Count == 0) return new EvalResult("accuracy", double.NaN);
        var predicted = new List<long>();
        double lossSum = 0;
        for (var s = 0; s < examples.Count; s += evalBatch)
        {
            watch?.Step(s, examples.Count);
            using var scope = NewDisposeScope();
            var batch = examples.Skip(s).Take(evalBatch).ToList();
            var logits = model.Logits(batch);
            var labels = tensor(batch.Select(e => (long)e.Label).ToArray());
            lossSum += nn.functional.cross_entropy(logits, labels, reduction: nn.Reduction.Sum).to(ScalarType.Float64).item<double>();
            predicted.AddRange(logits.argmax(1).data<long>().ToArray());
        }
        var gold = examples.Select(e => (long)e.Label).ToArray();
        var acc = gold.Zip(predicted).Count(p => p.First == p.Second) / (double)gold.Length;
        return new EvalResult("accuracy", acc, Loss: lossSum / gold.Length,
            Extra: new Dictionary<string, double>
            {
                ["macro_f1"] = TaskMetrics.MacroF1(gold, predicted, task.NumClasses),
                ["mcc"] = TaskMetrics.Mcc(gold, predicted, task.NumClasses),
            });
    }
}

/// <summary>
/// A sentence-embedding model's own embedding (USE-Lite's) with a fresh linear head; a pair is read as one text "a b".
/// The encoder is registered as "encoder" and the head as "head", as in <see cref="SequenceClassifier"/>.
/// </summary>
public sealed class SentenceEmbeddingClassifier : nn.Module<Tensor, Tensor, Tensor>, ITextClassifier
{
    public ISentenceEmbeddingModel Encoder { get; }
    private Linear head;
    readonly Dictionary<TextExample, int[]> _cache = new(ReferenceEqualityComparer.Instance);

    public SentenceEmbeddingClassifier(ISentenceEmbeddingModel encoder, int classes) : base(nameof(SentenceEmbeddingClassifier))
    {
        Encoder = encoder;
        head = nn.Linear(encoder.EmbeddingDim, classes);
        register_module("encoder", encoder.Module);
        register_module("head", head);
    }

    public Linear Head => head;
    public nn.Module Module => this;

    public int[] TokenIds(TextExample e) =>
        _cache.TryGetValue(e, out var t) ? t : _cache[e] = Encoder.Tokenize(e.TextPair is null ? e.Text : e.Text + " " + e.TextPair);

    public Tensor Logits(IReadOnlyList<TextExample> batch)
    {
        var (ids, lengths) = TokenBatch.Pad(batch.Select(TokenIds).ToList());
        return call(ids, TokenBatch.Mask(lengths, ids.shape[1]));
    }

    public override Tensor forward(Tensor ids, Tensor mask) => head.call(Encoder.EmbedIds(ids, mask));
}
