using System.Text.RegularExpressions;

namespace MlpKit.FineTuning;

/// <summary>Settings every method shares.</summary>
public abstract record FineTuneConfig
{
    /// <summary>
    /// Regex over parameter names that stay trainable (dense AdamW) under every method: the task head is
    /// new and must learn whatever the method does to the body.
    /// </summary>
    public string TrainAlso { get; init; } = @"^(head\w*|classifier|pooler|score|lm_head)(\.|$)";

    /// <summary>
    /// The SparseGrad paper's protocol: everything that is not an MLP linear (attention, embeddings, norms, the head)
    /// trains densely, so methods differ only in how the MLP linears train. Off by default: the strict protocol, where
    /// only the method's own parameters and the head train, is the one a memory budget means.
    /// </summary>
    public bool TrainRest { get; init; }

    /// <summary>The help of every method's train-also option.</summary>
    public const string TrainAlsoHelp = "parameter names (regex) that train densely besides the method's own, e.g. the task head";

    public const string TrainRestHelp = "train everything but the MLP linears densely too (attention, embeddings, norms: the SparseGrad paper's protocol)";

    internal Regex TrainAlsoRegex => new(TrainAlso, RegexOptions.CultureInvariant);
}

/// <summary>The options every method declares the same way.</summary>
public static class FineTuneConfigOptions
{
    /// <summary>Adds train-also and train-rest, which <see cref="MlpInjector{TConfig}"/> applies for every method.</summary>
    public static MethodOptionSet<T> Shared<T>(this MethodOptionSet<T> options) where T : FineTuneConfig, new() => options
        .Regex("train-also", FineTuneConfig.TrainAlsoHelp, c => c.TrainAlso, (c, v) => c with { TrainAlso = v })
        .Bool("train-rest", FineTuneConfig.TrainRestHelp, c => c.TrainRest, (c, v) => c with { TrainRest = v });
}
