using MlpKit.Data;
using MlpKit.Models;
using MlpKit.Training;
using static TorchSharp.torch;

namespace MlpKit.Generation;

/// <summary>
/// How dev/test prompts are decoded. <c>beam</c> with one beam is greedy search, as in Hugging Face's
/// generate (num_beams=1); <see cref="LengthPenalty"/> is beam search's (see <see cref="BeamSearchOptions"/>).
/// </summary>
public sealed record GenerationDecoding
{
    public static readonly string[] Modes = ["greedy", "beam"];

    public string Mode { get; init; } = "greedy";
    public int Beams { get; init; } = 4;
    public int MaxNewTokens { get; init; } = 64;
    public double LengthPenalty { get; init; } = 1.0;

    public bool IsBeam => Mode == "beam" && Beams > 1;

    public void Validate()
    {
        if (!Modes.Contains(Mode)) throw new MlpKitException($"--decode {Mode}: expected {string.Join(" or ", Modes)}");
        if (Beams < 1) throw new MlpKitException($"--beams {Beams}: must be at least 1");
        if (MaxNewTokens < 1) throw new MlpKitException($"--max-new-tokens {MaxNewTokens}: must be at least 1");
        if (!double.IsFinite(LengthPenalty)) throw new MlpKitException($"--length-penalty {LengthPenalty}: must be finite");
    }
}

/// <summary>One decoded example.</summary>
public sealed record GenerationPrediction(string Prompt, string Reference, string Hypothesis);

/// <summary>A split's scores and the predictions they were computed from.</summary>
public sealed record GenerationScore(EvalResult Result, IReadOnlyList<GenerationPrediction> Predictions);

/// <summary>
/// Causal-LM fine-tuning on prompt → target pairs for the trainer: the loss is the mean cross-entropy of the
/// target tokens and EOS (prompt and padding positions are masked out). Dev/test decode each prompt
/// (greedy or beam) and report corpus BLEU-4 as the main metric, with mean ROUGE-L F, exact match, and the
/// target tokens' loss and perplexity under teacher forcing. BLEU and ROUGE-L count whitespace tokens of the
/// decoded text as written (<see cref="TextMetrics"/>), both sides trimmed.
/// </summary>
public sealed class GenerationTrainingTask : ITrainingTask
{
    readonly ICausalLanguageModel _model;
    readonly TextGenerationTask _data;
    readonly GenerationEncoder _encoder;
    readonly GenerationDecoding _decoding;
    readonly int _evalBatch;
    readonly Dictionary<GenerationExample, EncodedGeneration> _cache = new(ReferenceEqualityComparer.Instance);

    public GenerationTrainingTask(ICausalLanguageModel model, GenerationEncoder encoder, TextGenerationTask data,
        GenerationDecoding? decoding = null, int evalBatch = 16)
    {
        _model = model;
        _encoder = encoder;
        _data = data;
        _decoding = decoding ?? new GenerationDecoding();
        _decoding.Validate();
        _evalBatch = evalBatch;
        if (encoder.MaxLength > model.MaxPositions)
            throw new MlpKitException($"--max-length {encoder.MaxLength}: longer than the model's {model.MaxPositions} positions");
    }

    public int TrainCount => _data.Train.Count;

    /// <summary>The dev score of the latest <see cref="Evaluate"/> (the trainer's last evaluation).</summary>
    public GenerationScore? LastDev { get; private set; }

    public EncodedGeneration Encoded(GenerationExample e) =>
        _cache.TryGetValue(e, out var t) ? t : _cache[e] = _encoder.Encode(e.Prompt, e.Target);

    public Tensor Loss(IReadOnlyList<int> indices)
    {
        var (ids, labels) = Batch(indices.Select(i => _data.Train[i]).ToList());
        var (sum, count) = GenerationEncoder.TargetLoss(_model.Forward(ids), labels);
        return sum / Math.Max(1, count);
    }

    (Tensor Ids, Tensor Labels) Batch(IReadOnlyList<GenerationExample> batch) =>
        GenerationEncoder.Collate(batch.Select(Encoded).ToList(), _encoder.Tokenizer.Special.PaddingId(), Device);

    Device Device => _model.Module.parameters().First().device;

    public EvalResult Evaluate() => (LastDev = Score(_data.Dev)).Result;

    public EvalResult EvaluateTest() => Score(_data.Test).Result;

    /// <summary>Scores examples (model in eval mode, gradients off: the caller's job, as for <see cref="Evaluate"/>).</summary>
    public GenerationScore Score(IReadOnlyList<GenerationExample> examples)
    {
        if (examples.Count == 0) return new GenerationScore(new EvalResult("bleu", double.NaN), []);
        double lossSum = 0;
        long tokens = 0;
        for (var s = 0; s < examples.Count; s += _evalBatch)
        {
            using var scope = NewDisposeScope();
            var (ids, labels) = Batch(examples.Skip(s).Take(_evalBatch).ToList());
            var (sum, count) = GenerationEncoder.TargetLoss(_model.Forward(ids), labels);
            lossSum += sum.to_type(ScalarType.Float64).item<double>();
            tokens += count;
        }
        var predictions = examples.Select(e => new GenerationPrediction(e.Prompt, e.Target, Generate(e.Prompt))).ToList();
        var hyps = predictions.Select(p => p.Hypothesis).ToList();
        var refs = predictions.Select(p => p.Reference.Trim()).ToList();
        var bleu = TextMetrics.CorpusBleu(hyps, refs);
        var loss = lossSum / Math.Max(1, tokens);
        return new GenerationScore(new EvalResult("bleu", bleu.Score, Loss: loss, Extra: new Dictionary<string, double>
        {
            ["rougeL"] = TextMetrics.CorpusRougeL(hyps, refs),
            ["exact_match"] = hyps.Zip(refs).Count(p => p.First == p.Second) / (double)hyps.Count,
            ["perplexity"] = Math.Exp(loss),
            ["bleu_brevity_penalty"] = bleu.BrevityPenalty,
        }), predictions);
    }

    /// <summary>The decoded continuation of one prompt, without EOS, trimmed.</summary>
    public string Generate(string prompt)
    {
        var context = _encoder.Context(prompt).Select(i => (long)i).ToArray();
        var tokens = _decoding.IsBeam
            ? BeamSearch.Generate(_model, context, new BeamSearchOptions
            {
                NumBeams = _decoding.Beams, MaxNewTokens = _decoding.MaxNewTokens, LengthPenalty = _decoding.LengthPenalty, EosTokenId = _encoder.Eos,
            })
            : TextGenerator.Generate(_model, context, new GenerationOptions { MaxNewTokens = _decoding.MaxNewTokens, EosTokenId = _encoder.Eos });
        var content = tokens.Length > 0 && tokens[^1] == _encoder.Eos ? tokens[..^1] : tokens;
        return _encoder.Tokenizer.Decode(content.Select(t => (int)t)).Trim();
    }
}
