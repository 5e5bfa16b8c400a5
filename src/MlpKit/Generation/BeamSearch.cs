using MlpKit.Models;
using static TorchSharp.torch;

namespace MlpKit.Generation;

/// <summary>
/// Beam search settings. <see cref="LengthPenalty"/> is Hugging Face's <c>length_penalty</c>: a finished
/// hypothesis is ranked by sum(log p) / len^alpha, where len counts the new tokens including the EOS token
/// (as recent transformers versions do; older ones counted the prompt too); alpha = 0 ranks by total
/// log-probability, alpha &gt; 0 favours longer outputs.
/// </summary>
public sealed record BeamSearchOptions
{
    public int NumBeams { get; init; } = 4;
    public int MaxNewTokens { get; init; } = 20;
    public double LengthPenalty { get; init; } = 1.0;
    /// <summary>A hypothesis that emits this token is finished (the token is kept in its output).</summary>
    public long? EosTokenId { get; init; }

    public void Validate()
    {
        if (NumBeams < 1) throw new MlpKitException($"beam width must be >= 1, got {NumBeams}");
        if (MaxNewTokens < 0) throw new MlpKitException($"max new tokens must be >= 0, got {MaxNewTokens}");
        if (!double.IsFinite(LengthPenalty)) throw new MlpKitException($"length penalty must be finite, got {LengthPenalty}");
    }
}

/// <summary>One hypothesis: the new tokens, their total log-probability, and the length-penalised score.</summary>
public sealed record BeamHypothesis(long[] Tokens, double SumLogProb, double Score);

/// <summary>
/// Beam search for any <see cref="ICausalLanguageModel"/>. Each step expands every live beam by every token,
/// keeps the best 2B candidates (as Hugging Face does, so EOS candidates cannot starve the live beams), moves
/// EOS candidates to the finished pool (its best B kept) and keeps the best B others alive. Search stops when
/// no live beam can still beat the worst of B finished hypotheses — an exact bound, since log-probabilities
/// only add non-positive terms — or at the length limit, where live beams count as finished.
/// Ties break on (beam order, token id), so results are deterministic. The whole sequence is recomputed each
/// step (no cache): beams reorder between steps and the models here are small.
/// </summary>
public static class BeamSearch
{
    /// <summary>The best hypothesis' new tokens.</summary>
    public static long[] Generate(ICausalLanguageModel model, IReadOnlyList<long> prompt, BeamSearchOptions options) =>
        Search(model, prompt, options)[0].Tokens;

    /// <summary>Up to B hypotheses, best score first.</summary>
    public static IReadOnlyList<BeamHypothesis> Search(ICausalLanguageModel model, IReadOnlyList<long> prompt, BeamSearchOptions options)
    {
        options.Validate();
        if (prompt.Count == 0) throw new MlpKitException("beam search needs a prompt of at least one token");
        int beams = options.NumBeams;
        int maxNew = (int)Math.Min(options.MaxNewTokens, Math.Max(0, model.MaxPositions - prompt.Count));
        double alpha = options.LengthPenalty;
        var device = model.Module.parameters().First().device;
        using var _ = no_grad();

        var live = new List<(List<long> Tokens, double Sum)> { (new List<long>(), 0.0) };
        var finished = new List<BeamHypothesis>();
        for (int step = 0; step < maxNew && live.Count > 0; step++)
        {
            if (finished.Count >= beams && !CanImprove(live, finished[^1].Score, step, maxNew, alpha)) break;
            double[] logProbs;
            int vocab;
            using (var scope = NewDisposeScope())
            {
                int len = prompt.Count + step;
                var flat = new long[live.Count * len];
                for (int b = 0; b < live.Count; b++)
                {
                    for (int i = 0; i < prompt.Count; i++) flat[b * len + i] = prompt[i];
                    for (int i = 0; i < step; i++) flat[b * len + prompt.Count + i] = live[b].Tokens[i];
                }
                var ids = tensor(flat, new long[] { live.Count, len }, device: device);
                var last = model.Forward(ids).select(1, -1).to_type(ScalarType.Float64).log_softmax(-1).cpu();
                vocab = (int)last.shape[1];
                logProbs = last.data<double>().ToArray();
            }

            var candidates = TopCandidates(live, logProbs, vocab, 2 * beams);
            var next = new List<(List<long>, double)>();
            foreach (var (b, token, sum) in candidates)
            {
                if (options.EosTokenId == token)
                {
                    var tokens = new List<long>(live[b].Tokens) { token };
                    AddFinished(finished, new BeamHypothesis(tokens.ToArray(), sum, Penalise(sum, tokens.Count, alpha)), beams);
                }
                else if (next.Count < beams)
                {
                    next.Add((new List<long>(live[b].Tokens) { token }, sum));
                }
            }
            live = next;
        }
        foreach (var (tokens, sum) in live)
            AddFinished(finished, new BeamHypothesis(tokens.ToArray(), sum, Penalise(sum, tokens.Count, alpha)), beams);
        return finished;
    }

    static double Penalise(double sum, int length, double alpha) =>
        alpha == 0 || length == 0 ? sum : sum / Math.Pow(length, alpha);

    // A live beam's final score is s'/L^alpha with s' <= s (current sum, <= 0) and L in [step+1, maxNew];
    // s/L^alpha is monotone in L, so its largest value sits at one of the two ends.
    static bool CanImprove(List<(List<long> Tokens, double Sum)> live, double worstFinished, int step, int maxNew, double alpha)
    {
        foreach (var (_, sum) in live)
        {
            double bound = Math.Max(Penalise(sum, step + 1, alpha), Penalise(sum, maxNew, alpha));
            if (bound > worstFinished) return true;
        }
        return false;
    }

    // Best-first insertion; an equal score goes after existing entries so earlier (better-ranked) hypotheses win ties.
    static void AddFinished(List<BeamHypothesis> finished, BeamHypothesis h, int capacity)
    {
        int at = finished.Count;
        while (at > 0 && finished[at - 1].Score < h.Score) at--;
        if (at >= capacity) return;
        finished.Insert(at, h);
        if (finished.Count > capacity) finished.RemoveAt(finished.Count - 1);
    }

    static List<(int Beam, long Token, double Sum)> TopCandidates(List<(List<long> Tokens, double Sum)> live,
        double[] logProbs, int vocab, int k)
    {
        // Scanning in (beam, token) order with strict '>' displacement keeps the earliest of equal candidates.
        var top = new List<(int Beam, long Token, double Sum)>(k + 1);
        for (int b = 0; b < live.Count; b++)
            for (int v = 0; v < vocab; v++)
            {
                double s = live[b].Sum + logProbs[b * vocab + v];
                if (double.IsNegativeInfinity(s) || double.IsNaN(s)) continue;
                if (top.Count == k && !(s > top[^1].Sum)) continue;
                int at = top.Count;
                while (at > 0 && top[at - 1].Sum < s) at--;
                top.Insert(at, (b, v, s));
                if (top.Count > k) top.RemoveAt(top.Count - 1);
            }
        return top;
    }
}
