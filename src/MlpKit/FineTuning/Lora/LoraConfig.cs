namespace MlpKit.FineTuning.Lora;

/// <summary>
/// Low-rank adapters (Hu et al. 2021): W x + (alpha / r) B A dropout(x) on every linear whose module name
/// matches <see cref="Targets"/>; A is Kaiming-uniform, B starts at zero so step 0 is the base model.
/// </summary>
public sealed record LoraConfig : FineTuneConfig
{
    public int Rank { get; init; } = 8;
    public double Alpha { get; init; } = 16;
    public double Dropout { get; init; } = 0.0;
    /// <summary>Regex over full module names of linear layers; the default takes the MLP linears.</summary>
    public string Targets { get; init; } = @"(^|\.)(up|gate|down)$";

    public double Scaling => Alpha / Rank;

    public static MethodOptionSet<LoraConfig> Options { get; } = new MethodOptionSet<LoraConfig>("lora")
        .Integer("rank", "rank r of the adapters", c => c.Rank, (c, v) => c with { Rank = v }, 1, 1 << 16)
        .Number("alpha", "scale: the update is (alpha / r) B A x", c => c.Alpha, (c, v) => c with { Alpha = v }, 0)
        .Number("dropout", "dropout on the adapters' input", c => c.Dropout, (c, v) => c with { Dropout = v }, 0, 0.999)
        .Regex("targets", "module names (regex) of the linears that get adapters", c => c.Targets, (c, v) => c with { Targets = v })
        .Shared();

    public static LoraConfig From(IReadOnlyDictionary<string, string>? values) => Options.Parse(values);
}
