using MlpKit.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MlpKit.Generation;

/// <summary>Autoregressive generation for any <see cref="ICausalLanguageModel"/>: greedy, top-k, top-p, temperature.</summary>
public static class TextGenerator
{
    /// <summary>Continues one prompt; returns only the new tokens.</summary>
    public static long[] Generate(ICausalLanguageModel model, IReadOnlyList<long> prompt, GenerationOptions options)
    {
        var device = model.Module.parameters().First().device;
        using var cache = options.UseCache ? model.NewCache() : null;
        return Decode(prompt, options, model.MaxPositions, device, sequence =>
        {
            // With a cache only the tokens the cache has not seen go in: the whole prompt first, then one per step.
            var fresh = cache is null ? sequence : sequence.Skip((int)cache.Length).ToList();
            var ids = tensor(fresh.ToArray(), new long[] { 1, fresh.Count }, device: device);
            return model.Forward(ids, null, cache).select(1, -1);
        });
    }

    /// <summary>
    /// The loop every decoder shares: <paramref name="lastLogits"/> gives the next-token logits [1, vocab] for the
    /// sequence so far; tokens are chosen by <see cref="NextToken"/> until <see cref="GenerationOptions.MaxNewTokens"/>,
    /// <paramref name="maxLength"/> or the end-of-sequence token. Returns only the new tokens.
    /// </summary>
    public static long[] Decode(IReadOnlyList<long> prompt, GenerationOptions options, long maxLength, Device device,
        Func<IReadOnlyList<long>, Tensor> lastLogits)
    {
        options.Validate();
        if (prompt.Count == 0) throw new MlpKitException("generation needs a prompt of at least one token");
        using var generator = new torch.Generator((ulong)options.Seed, device);
        using var _ = no_grad();
        var sequence = new List<long>(prompt);
        var produced = new List<long>();
        for (int step = 0; step < options.MaxNewTokens && sequence.Count < maxLength; step++)
        {
            using var scope = NewDisposeScope();
            long next = NextToken(lastLogits(sequence), options, generator)[0];
            sequence.Add(next);
            produced.Add(next);
            if (options.EosTokenId == next) break;
        }
        return produced.ToArray();
    }

    /// <summary>The chosen token per row of logits [batch, vocab].</summary>
    public static long[] NextToken(Tensor logits, GenerationOptions options, torch.Generator? generator = null)
    {
        using var scope = NewDisposeScope();
        if (!options.Sample) return logits.argmax(-1).to_type(ScalarType.Int64).cpu().data<long>().ToArray();
        var probs = Warp(logits.to_type(ScalarType.Float32), options).softmax(-1);
        return multinomial(probs, 1, generator: generator).squeeze(-1).cpu().data<long>().ToArray();
    }

    /// <summary>Temperature, then top-k, then top-p (nucleus) filtering; removed tokens get −∞.</summary>
    public static Tensor Warp(Tensor logits, GenerationOptions options)
    {
        var scores = options.Temperature == 1.0 ? logits : logits / options.Temperature;
        if (options.TopK > 0 && options.TopK < scores.shape[^1])
        {
            var kth = scores.topk(options.TopK, dim: -1).values.narrow(-1, options.TopK - 1, 1);
            scores = scores.masked_fill(scores.lt(kth), double.NegativeInfinity);
        }
        if (options.TopP < 1.0)
        {
            // Sort ascending and drop the low tail whose cumulative probability stays within 1 − p; the most
            // likely token always survives.
            var (sorted, order) = scores.sort(-1, descending: false);
            var cumulative = sorted.softmax(-1).cumsum(-1);
            var remove = cumulative.le(1.0 - options.TopP);
            remove.narrow(-1, remove.shape[^1] - 1, 1).fill_(false);
            var removeOriginal = zeros_like(remove).scatter(-1, order, remove);
            scores = scores.masked_fill(removeOriginal, double.NegativeInfinity);
        }
        return scores;
    }
}
