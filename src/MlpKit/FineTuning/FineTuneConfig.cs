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

    /// <summary>The help of every method's train-also option.</summary>
    public const string TrainAlsoHelp = "parameter names (regex) that train densely besides the method's own, e.g. the task head";

    internal Regex TrainAlsoRegex => new(TrainAlso, RegexOptions.CultureInvariant);
}
