namespace MlpKit.FineTuning.Full;

/// <summary>Full fine-tuning has no settings of its own; every parameter trains.</summary>
public sealed record FullConfig : FineTuneConfig
{
    public static MethodOptionSet<FullConfig> Options { get; } = new MethodOptionSet<FullConfig>("full")
        .Shared();

    public static FullConfig From(IReadOnlyDictionary<string, string>? values) => Options.Parse(values);
}
