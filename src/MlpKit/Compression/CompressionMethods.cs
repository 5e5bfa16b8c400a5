namespace MlpKit.Compression;

/// <summary>The registry of compression methods by name, so the CLI and tests can enumerate them.</summary>
public static class CompressionMethods
{
    static readonly ICompressionMethod[] All =
    {
        new FusionMethod(FusionVariant.Fusion),
        new FusionMethod(FusionVariant.NoScale),
        new FusionMethod(FusionVariant.Cluster),
        new PruneMethod(useActivations: false),
        new PruneMethod(useActivations: true),
        new ObsPruneMethod(),
        new SketchMethod(topK: false),
        new SketchMethod(topK: true),
        new DropMethod(DropScaling.Unbiased),
        new DropMethod(DropScaling.SqrtFolded),
        new SvdMethod(),
    };

    /// <summary>
    /// The default of `mlpkit compress`: the method with the best held-out embedding cosine on MiniLM and
    /// USE-Lite at ratios 0.25 and 0.5 (docs/fusion-results.md).
    /// </summary>
    public const string Recommended = "prune-obs";

    static readonly Dictionary<string, ICompressionMethod> ByName = All.ToDictionary(m => m.Name, StringComparer.OrdinalIgnoreCase);

    public static IReadOnlyList<ICompressionMethod> Methods => All;

    public static IEnumerable<string> Names => All.Select(m => m.Name);

    public static ICompressionMethod Get(string name) =>
        ByName.TryGetValue(name.Trim(), out var m)
            ? m
            : throw new MlpKitException($"--method {name}: unknown compression method (expected one of {string.Join(", ", Names)})");
}
