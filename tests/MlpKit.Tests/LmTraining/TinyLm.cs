using MlpKit.Lm;

namespace MlpKit.Tests.LmTraining;

internal static class TinyLm
{
    /// <summary>A short, very regular English text: a byte-level LM learns its next bytes within a few dozen steps.</summary>
    public static string Text(int repeats = 40) =>
        string.Concat(Enumerable.Repeat("the quick brown fox jumps over the lazy dog.\n", repeats));

    public static LmRunSpec Spec(string ffn, double expertDropout = 0.0) => new()
    {
        Ffn = ffn, Experts = 4, ExpertSize = 8, K = 2, ParamsEqual = true, PkmHeads = 2, PkmKnn = 4, Gamma = 1e-3,
        ExpertDropout = expertDropout, Layers = 2, DModel = 16, Heads = 2, Context = 16, Batch = 8, Steps = 50, Lr = 1e-2,
        Warmup = 2, EvalEvery = 0, Seed = 5,
    };

    public static LmTokenStream Stream(string text) => LmTokenStream.FromText(text, new ByteLmTokenizer(), "tiny");
}
