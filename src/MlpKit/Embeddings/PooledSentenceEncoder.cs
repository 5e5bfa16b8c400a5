using MlpKit.Models;
using MlpKit.Tokenizers;
using static TorchSharp.torch;

namespace MlpKit.Embeddings;

/// <summary>
/// A Transformer encoder (BERT, RoBERTa) + tokenizer + pooling: the sentence-transformers pipeline. Each
/// sentence is tokenized with the model's special tokens and cut to the pooling's maximum length; batches are
/// padded (the attention mask hides padding), and the last hidden state is pooled.
/// </summary>
public sealed class PooledSentenceEncoder : ISentenceEncoder
{
    readonly IEncoderModel _model;
    readonly ITextTokenizer _tokenizer;

    public PooledSentenceEncoder(IEncoderModel model, ITextTokenizer tokenizer, SentencePooling pooling)
    {
        _model = model;
        _tokenizer = tokenizer;
        Settings = pooling;
    }

    public SentencePooling Settings { get; }

    /// <summary>Token ids [B, T] and mask [B, T] for a batch of sentences.</summary>
    public (Tensor Ids, Tensor Mask) Tokenize(IReadOnlyList<string> sentences)
    {
        var seqs = sentences.Select(s => _tokenizer.EncodePair(s, null, Settings.MaxSeqLength).Ids).ToList();
        long t = Math.Max(1, seqs.Max(s => s.Length));
        int pad = _tokenizer.Special.PaddingId();
        var ids = new long[seqs.Count * t];
        var mask = new long[seqs.Count * t];
        for (int i = 0; i < seqs.Count; i++)
            for (int j = 0; j < t; j++)
            {
                bool real = j < seqs[i].Length;
                ids[i * t + j] = real ? seqs[i][j] : pad;
                mask[i * t + j] = real ? 1 : 0;
            }
        return (tensor(ids, [seqs.Count, t]), tensor(mask, [seqs.Count, t]));
    }

    public Tensor EmbedBatch(Tensor ids, Tensor mask)
    {
        using var scope = NewDisposeScope();
        var device = _model.Module.parameters().First().device;
        var hidden = _model.Encode(ids.to(device), mask.to(device));
        return Pooling.Pool(hidden, mask.to(device), Settings.Mode, Settings.Normalize).MoveToOuterDisposeScope();
    }

    public Tensor Embed(IReadOnlyList<string> sentences, int batchSize = 32)
    {
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize));
        using var noGrad = no_grad();
        var wasTraining = _model.Module.training;
        _model.Module.eval();
        try
        {
            using var scope = NewDisposeScope();
            var outs = new List<Tensor>();
            for (int start = 0; start < sentences.Count; start += batchSize)
            {
                var (ids, mask) = Tokenize(sentences.Skip(start).Take(batchSize).ToList());
                outs.Add(EmbedBatch(ids, mask).cpu());
            }
            var result = outs.Count == 0 ? zeros(0, _model.HiddenSize) : cat(outs, 0);
            return result.MoveToOuterDisposeScope();
        }
        finally { _model.Module.train(wasTraining); }
    }
}
