using MlpKit.Tokenizers;
using static TorchSharp.torch;

namespace MlpKit.Generation;

/// <summary>
/// One tokenised prompt → target example: <see cref="Ids"/> = context + target (+ EOS); the tokens from
/// <see cref="TargetStart"/> on are the ones the loss is taken on.
/// </summary>
public sealed record EncodedGeneration(int[] Ids, int TargetStart)
{
    public int Length => Ids.Length;
    /// <summary>Whether the EOS token survived truncation (it does unless the target alone overflows).</summary>
    public bool EndsWithEos { get; init; }
}

/// <summary>
/// Turns prompt/target text into causal-LM inputs: [BOS] prompt target EOS. BOS (GPT-2's &lt;|endoftext|&gt;) opens
/// every context when the tokenizer has one, as at a document start, so an empty prompt is still a context.
/// When the prompt does not end and the target does not start with whitespace, one space joins them: GPT-2's
/// BPE spells a word with its leading space, so the target's first word is tokenised as in running text.
/// Too long an example loses prompt tokens from the left (BOS stays); a target that alone overflows is cut on
/// the right and then has no EOS (it does not end there).
/// </summary>
public sealed class GenerationEncoder
{
    readonly ITextTokenizer _tokenizer;

    public GenerationEncoder(ITextTokenizer tokenizer, int maxLength)
    {
        _tokenizer = tokenizer;
        Eos = tokenizer.Special.Eos ?? throw new MlpKitException($"generation fine-tuning needs an end-of-sequence token; the {tokenizer.Kind} tokenizer has none");
        Bos = tokenizer.Special.Bos;
        var minimum = Bos is null ? 2 : 3;
        if (maxLength < minimum) throw new MlpKitException($"--max-length {maxLength}: must be at least {minimum} (context + one target token)");
        MaxLength = maxLength;
    }

    public int MaxLength { get; }
    public int Eos { get; }
    public int? Bos { get; }
    public ITextTokenizer Tokenizer => _tokenizer;

    /// <summary>The decoding context of a prompt, cut on the left so at least one new token fits in <see cref="MaxLength"/>.</summary>
    public int[] Context(string prompt) => Join(PromptTokens(prompt), MaxLength - 1);

    public EncodedGeneration Encode(string prompt, string target)
    {
        var promptTokens = PromptTokens(prompt);
        var joined = prompt.Length > 0 && !char.IsWhiteSpace(prompt[^1]) && target.Length > 0 && !char.IsWhiteSpace(target[0]);
        var targetTokens = _tokenizer.Encode(joined ? " " + target : target).Append(Eos).ToArray();
        // The context keeps BOS and, when there is a prompt, at least one of its tokens.
        var room = MaxLength - (Bos is null ? 0 : 1) - (promptTokens.Length > 0 ? 1 : 0);
        var hasEos = true;
        if (targetTokens.Length > room)
        {
            targetTokens = targetTokens[..room];
            hasEos = false;
        }
        var context = Join(promptTokens, MaxLength - targetTokens.Length);
        return new EncodedGeneration([.. context, .. targetTokens], context.Length) { EndsWithEos = hasEos && targetTokens.Length > 0 };
    }

    int[] PromptTokens(string prompt) => prompt.Length == 0 ? [] : _tokenizer.Encode(prompt);

    int[] Join(int[] prompt, int budget)
    {
        var keep = Bos is null ? budget : budget - 1;
        var kept = prompt.Length > keep ? prompt[^keep..] : prompt;
        int[] context = Bos is { } b ? [b, .. kept] : kept;
        if (context.Length == 0) throw new MlpKitException("generation: an empty prompt needs a tokenizer with a beginning-of-sequence token");
        return context;
    }

    /// <summary>
    /// Right-padded ids [batch, len] and labels [batch, len]: the id at target positions, −100 (ignored) at
    /// prompt and padding positions. No attention mask is needed: padding only follows real tokens, and the
    /// causal mask already keeps every real position from seeing it.
    /// </summary>
    public static (Tensor Ids, Tensor Labels) Collate(IReadOnlyList<EncodedGeneration> batch, int padId, Device? device = null)
    {
        var len = batch.Max(b => b.Length);
        var ids = new long[batch.Count * len];
        var labels = new long[batch.Count * len];
        for (var i = 0; i < batch.Count; i++)
            for (var j = 0; j < len; j++)
            {
                var inside = j < batch[i].Length;
                ids[i * len + j] = inside ? batch[i].Ids[j] : padId;
                labels[i * len + j] = inside && j >= batch[i].TargetStart ? batch[i].Ids[j] : IgnoreIndex;
            }
        long[] shape = [batch.Count, len];
        return (tensor(ids, shape, device: device), tensor(labels, shape, device: device));
    }

    public const long IgnoreIndex = -100;

    /// <summary>
    /// Summed cross-entropy of the next-token predictions at labelled positions (position t predicts label t+1),
    /// and how many positions were labelled.
    /// </summary>
    public static (Tensor Sum, long Count) TargetLoss(Tensor logits, Tensor labels)
    {
        var v = logits.shape[^1];
        var predicted = logits.narrow(1, 0, logits.shape[1] - 1).reshape(-1, v);
        var next = labels.narrow(1, 1, labels.shape[1] - 1).reshape(-1);
        var count = next.ne(IgnoreIndex).sum().item<long>();
        var sum = nn.functional.cross_entropy(predicted, next, ignore_index: IgnoreIndex, reduction: nn.Reduction.Sum);
        return (sum, count);
    }
}
