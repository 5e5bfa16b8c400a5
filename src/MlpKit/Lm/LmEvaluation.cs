using MlpKit.Training;
using static TorchSharp.torch;

namespace MlpKit.Lm;

/// <summary>
/// Language-model scores of a stream: <see cref="Nats"/> summed over <see cref="Tokens"/> predicted tokens, the
/// <see cref="Chars"/> characters they cover. Perplexity = exp(nats / tokens); bits per character =
/// nats / chars / ln 2.
/// </summary>
public sealed record LmScore(double Nats, long Tokens, long Chars)
{
    public double LossPerToken => Nats / Tokens;
    public double Perplexity => Math.Exp(LossPerToken);
    public double BitsPerChar => Nats / Chars / Math.Log(2);
}

public static class LmEvaluation
{
    /// <summary>
    /// Cross-entropy of every token of <paramref name="stream"/> after the first (or of the first
    /// <paramref name="maxTokens"/> when given), in consecutive non-overlapping windows of the model's context
    /// length: the first token of each window sees no earlier context, as in training. Batches of
    /// <paramref name="batch"/> windows; the model should be in eval mode. A model with attention "xl" is scored
    /// with its memory instead (<see cref="ScoreWithMemory"/>, <paramref name="batch"/> lanes).
    /// With <paramref name="watch"/>, checked between batches: progress (windows done, windows in all) and a token that
    /// stops the scoring with <see cref="OperationCanceledException"/>, so Ctrl+C is not held up by a long evaluation.
    /// </summary>
    public static LmScore Score(DecoderLm model, LmTokenStream stream, int batch = 16, long maxTokens = 0, EvalWatch? watch = null)
    {
        if (model.Config.Attention == LmConfig.XlAttention) return ScoreWithMemory(model, stream, batch, maxTokens);
        var T = (int)model.Config.ContextLength;
        var n = ScoredLength(stream, maxTokens);
        using var _ = no_grad();
        var device = model.parameters().First().device;
        double nats = 0;
        var starts = new List<long>();
        for (long s = 0; s < n - 1; s += T) starts.Add(s);
        // Full-length windows go in batches; the shorter last one alone.
        var full = starts.Where(s => s + T + 1 <= n).ToList();
        for (int i = 0; i < full.Count; i += batch)
        {
            watch?.Step(i, starts.Count);
            using var scope = NewDisposeScope();
            var chunk = full.Skip(i).Take(batch).ToList();
            var window = Windows(stream.Tokens, chunk, T + 1).to(device);
            nats += SumCe(model, window);
        }
        foreach (var s in starts.Where(s => s + T + 1 > n))
        {
            using var scope = NewDisposeScope();
            nats += SumCe(model, Windows(stream.Tokens, [s], (int)(n - s)).to(device));
        }
        return Result(stream, n, nats);
    }

    /// <summary>
    /// Cross-entropy of every token after the first (of the first <paramref name="maxTokens"/>), each scored once,
    /// by a recurrent-memory (xl) model walking the stream in consecutive segments of <paramref name="segment"/>
    /// tokens (default: the context length) and carrying its memory from one segment to the next. The predicted
    /// tokens are cut into <paramref name="lanes"/> contiguous lanes of equal length walked side by side (the first
    /// token of a lane sees no earlier context); the remainder that does not divide evenly extends the last lane,
    /// which finishes alone with its own memory. The model should be in eval mode.
    /// </summary>
    public static LmScore ScoreWithMemory(DecoderLm model, LmTokenStream stream, int lanes = 16, long maxTokens = 0, int segment = 0)
    {
        if (model.Config.Attention != LmConfig.XlAttention)
            throw new MlpKitException($"scoring with memory needs attention \"{LmConfig.XlAttention}\", the model has \"{model.Config.Attention}\"");
        var T = segment > 0 ? segment : (int)model.Config.ContextLength;
        if (T > model.Config.ContextLength) throw new MlpKitException($"segment {T} exceeds the context length {model.Config.ContextLength}");
        var n = ScoredLength(stream, maxTokens);
        var predicted = n - 1;
        var B = (int)Math.Clamp(lanes, 1, predicted);
        var m = predicted / B;
        using var _ = no_grad();
        using var outer = NewDisposeScope();
        var device = model.parameters().First().device;
        double nats = 0;
        // Lane l predicts tokens [1 + l·m, 1 + (l+1)·m) from inputs [l·m, (l+1)·m).
        var memory = Walk(model, stream.Tokens, Enumerable.Range(0, B).Select(l => (long)l * m).ToList(), m, T, null, device, ref nats);
        var rest = predicted - (long)B * m;
        if (rest > 0)
        {
            var last = memory.Select(t => t.narrow(0, B - 1, 1)).ToArray();
            Walk(model, stream.Tokens, [(long)B * m], rest, T, last, device, ref nats);
        }
        return Result(stream, n, nats);
    }

    /// <summary>
    /// Scores <paramref name="length"/> next-token predictions of each lane starting at its input position, in
    /// segments of <paramref name="segment"/> carrying memory; returns the memory after the last segment.
    /// </summary>
    static Tensor[] Walk(DecoderLm model, int[] tokens, IReadOnlyList<long> starts, long length, int segment,
        Tensor[]? memory, Device device, ref double nats)
    {
        memory ??= [];
        for (long o = 0; o < length; o += segment)
        {
            using var scope = NewDisposeScope();
            var len = (int)Math.Min(segment, length - o);
            var window = Windows(tokens, starts.Select(s => s + o).ToList(), len + 1).to(device);
            var (logits, next) = model.Forward(window.narrow(1, 0, len), memory);
            nats += nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]).to(ScalarType.Float64),
                window.narrow(1, 1, len).reshape(-1), reduction: nn.Reduction.Sum).item<double>();
            foreach (var t in next) t.MoveToOuterDisposeScope();
            // Freed now rather than at the end: a long stream would otherwise hold every segment's memory.
            foreach (var t in memory) t.Dispose();
            memory = next;
        }
        return memory;
    }

    static long ScoredLength(LmTokenStream stream, long maxTokens)
    {
        var n = stream.Length;
        if (maxTokens > 0) n = Math.Min(n, maxTokens + 1);
        if (n < 2) throw new MlpKitException($"{stream.Source}: nothing to score");
        return n;
    }

    /// <summary>The score of the first <paramref name="n"/> tokens; characters prorated when that is not all of them.</summary>
    static LmScore Result(LmTokenStream stream, long n, double nats)
    {
        var tokens = n - 1;
        var chars = n == stream.Length ? stream.ScoredChars
            : Math.Max(1, (long)Math.Round(stream.ScoredChars * (double)tokens / (stream.Length - 1)));
        return new LmScore(nats, tokens, chars);
    }

    static double SumCe(DecoderLm model, Tensor window)
    {
        var len = window.shape[1] - 1;
        var logits = model.forward(window.narrow(1, 0, len));
        return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[^1]).to(ScalarType.Float64),
            window.narrow(1, 1, len).reshape(-1), reduction: nn.Reduction.Sum).item<double>();
    }

    /// <summary>Rows tokens[s .. s + length) for each start, as int64 [starts, length].</summary>
    public static Tensor Windows(int[] tokens, IReadOnlyList<long> starts, int length)
    {
        var data = new long[starts.Count * length];
        for (int r = 0; r < starts.Count; r++)
            for (int j = 0; j < length; j++) data[r * length + j] = tokens[starts[r] + j];
        return tensor(data, new long[] { starts.Count, length });
    }
}
