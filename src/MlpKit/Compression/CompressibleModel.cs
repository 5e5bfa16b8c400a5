using MlpKit.Ffn;
using MlpKit.Models;
using MlpKit.Models.UseLite;
using TorchSharp;
using static TorchSharp.torch;

namespace MlpKit.Compression;

/// <summary>A batch of examples in the form the wrapped model takes: ids [B, T] plus a validity mask [B, T] (1 = real token).</summary>
public sealed record ModelBatch(Tensor Ids, Tensor Mask, int Count);

/// <summary>
/// The few things compression and the NTK meter need from a model, over the zoo (BERT/RoBERTa, GPT-2, Mixtral)
/// and USE-Lite: its feed-forward blocks, a batch builder, one representation vector per example, and saving.
/// </summary>
public sealed class CompressibleModel : IDisposable
{
    readonly ITransformerModel? _zoo;
    readonly UseLiteModel? _use;

    CompressibleModel(string source, ITransformerModel? zoo, UseLiteModel? use)
    {
        Source = source; _zoo = zoo; _use = use;
    }

    public string Source { get; }
    public string Kind => _use is not null ? UseLiteConfig.ModelType : _zoo!.Architecture;
    public bool TakesText => _use is not null;

    /// <summary>Dense blocks first (in layer order), then MoE experts, as the zoo lists them.</summary>
    public IReadOnlyList<IFeedForward> Blocks => _use is not null ? _use.FeedForwards : _zoo!.FeedForwards;
    public IReadOnlyList<IMoeFeedForward> MoeBlocks => _zoo?.MoeBlocks ?? Array.Empty<IMoeFeedForward>();
    public long VocabSize => _use is not null ? _use.Settings.VocabSize : _zoo!.VocabSize;
    public nn.Module Module => _use is not null ? _use : _zoo!.Module;

    /// <summary>
    /// "use-lite" (the downloaded asset, fetched on first use), a USE-Lite checkpoint directory, or a zoo model
    /// directory: see <see cref="ModelSource"/>.
    /// </summary>
    public static CompressibleModel Load(string spec) => ModelSource.Load(spec) switch
    {
        UseLiteModel use => new CompressibleModel(spec, null, use),
        var zoo => new CompressibleModel(spec, zoo, null),
    };

    /// <summary>
    /// Wraps a model that is already loaded (fine-tuning compresses the encoder it then trains). Disposing the
    /// wrapper disposes the model, so a caller that keeps the model simply does not dispose the wrapper.
    /// </summary>
    public static CompressibleModel Wrap(string source, ITransformerModel model) =>
        model is UseLiteModel use ? new CompressibleModel(source, null, use) : new CompressibleModel(source, model, null);

    /// <summary>A batch from token ids the caller's own tokenizer produced (an empty sequence becomes one id 0).</summary>
    public static ModelBatch FromTokenIds(IEnumerable<int[]> sequences) =>
        FromSequences(sequences.Select(s => s.Length == 0 ? new[] { 0 } : s).ToList());

    /// <summary>
    /// Examples from text lines. USE-Lite tokenizes them; zoo models (whose tokenizers live elsewhere) read each line
    /// as whitespace-separated token ids.
    /// </summary>
    public ModelBatch MakeBatch(IReadOnlyList<string> lines, string file)
    {
        if (lines.Count == 0) throw new MlpKitException($"{file}: no examples (empty file)");
        List<int[]> seqs;
        if (_use is not null)
            seqs = lines.Select(l => _use.Tokenize(l)).Select(s => s.Length == 0 ? new[] { 0 } : s).ToList();
        else
            seqs = lines.Select((l, i) =>
            {
                var parts = l.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                var ids = new int[parts.Length];
                for (int j = 0; j < parts.Length; j++)
                    if (!int.TryParse(parts[j], out ids[j]) || ids[j] < 0 || ids[j] >= VocabSize)
                        throw MlpKitException.Field(file, $"line {i + 1}", $"expected token ids in [0, {VocabSize}), got '{parts[j]}' ({Kind} models read token ids, one example per line)");
                return ids.Length == 0 ? new[] { 0 } : ids;
            }).ToList();
        return FromSequences(seqs);
    }

    /// <summary>Random token sequences (seeded) for zoo models when no calibration file is given.</summary>
    public ModelBatch RandomBatch(int count, int length, long seed)
    {
        var rng = new Random((int)(seed & 0x7FFFFFFF));
        var seqs = Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, length).Select(_ => rng.Next((int)Math.Min(VocabSize, int.MaxValue))).ToArray()).ToList();
        return FromSequences(seqs);
    }

    static ModelBatch FromSequences(List<int[]> seqs)
    {
        var (ids, lengths) = UseLiteModel.Batch(seqs);
        var mask = (arange(ids.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)).to(ScalarType.Int64);
        return new ModelBatch(ids, mask, seqs.Count);
    }

    public ModelBatch Slice(ModelBatch b, int start, int count) =>
        new(b.Ids.narrow(0, start, count), b.Mask.narrow(0, start, count), count);

    /// <summary>
    /// One vector per example: USE-Lite's sentence embedding; an encoder's classification logits when it has a head,
    /// else its first-token hidden state; a causal LM's last-position logits.
    /// </summary>
    public Tensor Represent(ModelBatch b)
    {
        if (_use is not null) return _use.call(b.Ids, b.Mask.sum(1));
        switch (_zoo)
        {
            case IEncoderModel enc:
                return enc.NumLabels > 0 ? enc.Classify(b.Ids, b.Mask) : enc.Encode(b.Ids, b.Mask).select(1, 0);
            case ICausalLanguageModel lm:
                var logits = lm.Forward(b.Ids, b.Mask);
                var last = (b.Mask.sum(1) - 1).clamp_min(0);
                return logits[arange(b.Count), last];
            default:
                throw new MlpKitException($"{Source}: model kind {Kind} has no representation for compression metrics");
        }
    }

    /// <summary>Writes a checkpoint the usual loader reads back (widths recorded in the config by the model).</summary>
    public void Save(string dir)
    {
        if (_use is not null) _use.Save(dir);
        else ModelZoo.Save(_zoo!, dir);
    }

    public void Dispose()
    {
        _use?.Dispose();
        _zoo?.Dispose();
    }
}
