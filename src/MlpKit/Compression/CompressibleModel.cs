using MlpKit.Embeddings;
using MlpKit.Ffn;
using MlpKit.Models;
using MlpKit.Tokenizers;
using MlpKit.Models.UseLite;
using TorchSharp;
using static TorchSharp.torch;

namespace MlpKit.Compression;

/// <summary>A batch of examples in the form the wrapped model takes: ids [B, T] plus a validity mask [B, T] (1 = real token).</summary>
public sealed record ModelBatch(Tensor Ids, Tensor Mask, int Count);

/// <summary>How a line of an examples file is read: as text for the model's tokenizer, or as whitespace-separated token ids.</summary>
public enum ExampleFormat { Auto, Text, Ids }

/// <summary>
/// The few things compression and the NTK meter need from a model, over the zoo (BERT/RoBERTa, GPT-2, Mixtral)
/// and USE-Lite: its feed-forward blocks, a batch builder, one representation vector per example, and saving.
/// </summary>
public sealed class CompressibleModel : IDisposable
{
    readonly ITransformerModel? _zoo;
    readonly UseLiteModel? _use;

    CompressibleModel(string source, ITransformerModel? zoo, UseLiteModel? use, string? dir)
    {
        Source = source; _zoo = zoo; _use = use;
        if (zoo is not null && dir is not null)
        {
            Tokenizer = TokenizerFactory.TryLoad(dir);
            if (zoo is IEncoderModel { NumLabels: 0 }) Pooling = SentencePooling.TryLoad(dir);
        }
    }

    public string Source { get; }
    public string Kind => _use is not null ? UseLiteConfig.ModelType : _zoo!.Architecture;

    /// <summary>The zoo model's tokenizer (from its folder), or null when it ships none.</summary>
    public ITextTokenizer? Tokenizer { get; }

    /// <summary>The sentence-transformers pooling of an encoder without a task head, or null.</summary>
    public SentencePooling? Pooling { get; }

    public bool TakesText => _use is not null || Tokenizer is not null;

    /// <summary>What <see cref="Represent"/> returns, for reports.</summary>
    public string OutputKind => _use is not null ? "sentence embedding (USE-Lite's own)"
        : _zoo is IEncoderModel enc ? enc.NumLabels > 0 ? "classification logits"
            : Pooling is { } p ? $"sentence embedding ({p.Mode.ToString().ToLowerInvariant()} pooling{(p.Normalize ? ", normalized" : "")})"
            : "first-token hidden state"
        : "next-token logits at the last position";

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
        UseLiteModel use => new CompressibleModel(spec, null, use, null),
        var zoo => new CompressibleModel(spec, zoo, null, ModelSource.Directory(spec)),
    };

    /// <summary>
    /// Wraps a model that is already loaded (fine-tuning compresses the encoder it then trains). Disposing the
    /// wrapper disposes the model, so a caller that keeps the model simply does not dispose the wrapper.
    /// </summary>
    public static CompressibleModel Wrap(string source, ITransformerModel model) =>
        model is UseLiteModel use ? new CompressibleModel(source, null, use, null)
            : new CompressibleModel(source, model, null, ModelSource.DirectoryOrNull(source));

    /// <summary>A batch from token ids the caller's own tokenizer produced (an empty sequence becomes one id 0).</summary>
    public static ModelBatch FromTokenIds(IEnumerable<int[]> sequences) =>
        FromSequences(sequences.Select(s => s.Length == 0 ? new[] { 0 } : s).ToList());

    /// <summary>
    /// Examples from lines: text, tokenized by the model's tokenizer (with its special tokens, cut to
    /// <paramref name="maxTokens"/>), or whitespace-separated token ids. <see cref="ExampleFormat.Auto"/> reads
    /// text when the model has a tokenizer and ids otherwise.
    /// </summary>
    public ModelBatch MakeBatch(IReadOnlyList<string> lines, string file, ExampleFormat format = ExampleFormat.Auto, int maxTokens = 128)
    {
        if (lines.Count == 0) throw new MlpKitException($"{file}: no examples (empty file)");
        if (format == ExampleFormat.Auto) format = TakesText ? ExampleFormat.Text : ExampleFormat.Ids;
        List<int[]> seqs;
        if (format == ExampleFormat.Text)
        {
            if (_use is not null) seqs = lines.Select(l => _use.Tokenize(l)).ToList();
            else if (Tokenizer is null)
                throw new MlpKitException($"{file}: text examples need a tokenizer, and the model folder {Source} has none (vocab.txt, vocab.json + merges.txt or tokenizer.json); give token ids instead");
            else
            {
                int limit = _zoo is ICausalLanguageModel lm ? (int)Math.Min(maxTokens, lm.MaxPositions) : maxTokens;
                seqs = lines.Select(l => _zoo is IEncoderModel ? Tokenizer.EncodePair(l, null, limit).Ids : Tokenizer.Encode(l).Take(limit).ToArray()).ToList();
            }
        }
        else
            seqs = lines.Select((l, i) =>
            {
                var parts = l.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                var ids = new int[parts.Length];
                for (int j = 0; j < parts.Length; j++)
                    if (!int.TryParse(parts[j], out ids[j]) || ids[j] < 0 || ids[j] >= VocabSize)
                        throw MlpKitException.Field(file, $"line {i + 1}", $"expected token ids in [0, {VocabSize}), got '{parts[j]}' (the examples are read as token ids, one example per line)");
                return ids;
            }).ToList();
        return FromSequences(seqs.Select(s => s.Length == 0 ? new[] { 0 } : s).ToList());
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
    /// One vector per example, the model's real output: USE-Lite's sentence embedding; an encoder's classification
    /// logits when it has a head, else its pooled sentence embedding when its folder declares sentence-transformers
    /// pooling, else its first-token hidden state; a causal LM's last-position logits.
    /// </summary>
    public Tensor Represent(ModelBatch b)
    {
        if (_use is not null) return _use.call(b.Ids, b.Mask.sum(1));
        switch (_zoo)
        {
            case IEncoderModel enc:
                if (enc.NumLabels > 0) return enc.Classify(b.Ids, b.Mask);
                var hidden = enc.Encode(b.Ids, b.Mask);
                return Pooling is { } p ? Embeddings.Pooling.Pool(hidden, b.Mask, p.Mode, p.Normalize) : hidden.select(1, 0);
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
