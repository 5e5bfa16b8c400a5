namespace MlpKit.FineTuning.Full;

/// <summary>Full fine-tuning has no settings of its own; every parameter trains.</summary>
public sealed record FullConfig : FineTuneConfig
{
    public static MethodOptionSet<FullConfig> Options { get; } = new MethodOptionSet<FullConfig>("full")
        .Regex("train-also", TrainAlsoHelp, c => c.TrainAlso, (c, v) => c with { TrainAlso = v });

    public static FullConfig From(IReadOnlyDictionary<string, string>? values) => Options.Parse(values);
}
