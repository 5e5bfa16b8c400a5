using MlpKit.Lm;
using MlpKit.Runtime;
using static TorchSharp.torch;
using Xunit;

namespace MlpKit.Tests.LmTraining;

[Collection(MlpKit.Tests.Training.TorchRngCollection.Name)]
public class LmScoreTests
{
    [Fact]
    public void PerplexityAndBitsPerCharFollowTheirDefinitions()
    {
        // 3 tokens, 6·ln 2 nats: 2 ln 2 per token → perplexity 4; over 2 characters → 6 bits / 2 chars = 3.
        var s = new LmScore(6 * Math.Log(2), 3, 2);
        Assert.Equal(4.0, s.Perplexity, 12);
        Assert.Equal(3.0, s.BitsPerChar, 12);
        Assert.Equal(2 * Math.Log(2), s.LossPerToken, 12);
    }

    [Fact]
    public void UniformModelScoresLnVocabPerByteAndCountsScoredCharacters()
    {
        TorchRuntime.EnsureInitialized();
        manual_seed(1);
        var spec = TinyLm.Spec("dense") with { Context = 4 };
        using var model = new DecoderLm(spec.ModelConfig(256));
        using (no_grad())
            model.named_parameters().Single(p => p.name == "head.weight").parameter.zero_();   // logits all 0: uniform over 256
        model.eval();
        // "héllo wörld": 11 characters, 13 UTF-8 bytes (é and ö take two). Every byte after the first is scored:
        // 12 tokens, 12·ln 256 nats; the first character 'h' is not predicted, so 10 characters are.
        var stream = TinyLm.Stream("héllo wörld");
        Assert.Equal(13, stream.Length);
        Assert.Equal(10, stream.ScoredChars);
        // Context 4 makes windows [0,5), [4,9), [8,13): 4 + 4 + 4 scored tokens, the last one full by chance;
        // batch 1 also exercises the one-window path.
        var s = LmEvaluation.Score(model, stream, batch: 1);
        Assert.Equal(12, s.Tokens);
        Assert.Equal(10, s.Chars);
        Assert.Equal(12 * Math.Log(256), s.Nats, 6);
        Assert.Equal(256.0, s.Perplexity, 4);
        Assert.Equal(12.0 * 8 / 10, s.BitsPerChar, 6);   // 12 bytes × 8 bits over 10 characters = 9.6

        // A ragged last window: 14 bytes → windows score 4 + 4 + 4 + 1 tokens.
        var s2 = LmEvaluation.Score(model, TinyLm.Stream("héllo wörld!"), batch: 2);
        Assert.Equal(13, s2.Tokens);
        Assert.Equal(13 * Math.Log(256), s2.Nats, 6);
        Assert.Equal(13.0 * 8 / 11, s2.BitsPerChar, 6);
    }
}

public class LmRunSpecTests
{
    [Fact]
    public void VariantOverridesApplyAndBadOnesNameTheKey()
    {
        var s = new MlpKit.Lm.LmRunSpec().WithVariant("switch:experts=4,expert-size=128");
        Assert.Equal(("switch", 4L, 128L), (s.Ffn, s.Experts, s.ExpertSize));
        var soft = new MlpKit.Lm.LmRunSpec().WithVariant("sigma-moe:selection=softmax-after");
        Assert.Equal(MlpKit.Ffn.Variants.MoeSelection.SoftmaxAfterTopK, ((MlpKit.Ffn.Variants.MoeConfig)soft.FfnConfig()).Selection);
        Assert.Equal(MlpKit.Ffn.Variants.MoeSelection.Sigmoid, ((MlpKit.Ffn.Variants.MoeConfig)new MlpKit.Lm.LmRunSpec().FfnConfig()).Selection);
        Assert.Contains("colour", Assert.Throws<MlpKitException>(() => new MlpKit.Lm.LmRunSpec().WithVariant("sigma-moe:colour=red")).Message);
        Assert.Contains("sigma-moe only", Assert.Throws<MlpKitException>(() => new MlpKit.Lm.LmRunSpec().WithVariant("dense:selection=softmax-after")).Message);
        Assert.Contains("bogus", Assert.Throws<MlpKitException>(() => new MlpKit.Lm.LmRunSpec().WithVariant("bogus")).Message);
    }
}
