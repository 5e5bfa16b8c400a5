using MlpKit.Assets;
using static TorchSharp.torch;

namespace MlpKit.Models;

/// <summary>
/// What a command's <c>--model</c> names: a model known by name (a downloadable asset, fetched on first use), or
/// a checkpoint directory of any architecture in <see cref="ModelZoo.All"/>.
/// </summary>
public static class ModelSource
{
    /// <summary>Models known by name, with the asset each comes from.</summary>
    public static IReadOnlyDictionary<string, string> Named { get; } =
        new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["use-lite"] = AssetRegistry.UniversalSentenceEncoderLite,
            ["minilm"] = AssetRegistry.MiniLm,
            ["arctic-xs"] = AssetRegistry.ArcticXs,
        };

    public static bool IsNamed(string spec) => Named.ContainsKey(spec);

    /// <summary>The folder behind <paramref name="spec"/>: a named model's asset (fetched when absent), else the path itself.</summary>
    public static string Directory(string spec)
    {
        if (Named.TryGetValue(spec, out var asset)) return AssetStore.EnsureAsset(asset);
        if (!System.IO.Directory.Exists(spec))
            throw new MlpKitException($"--model {spec}: no such directory or named model ({string.Join(", ", Named.Keys.Order())})");
        return spec;
    }

    /// <summary>The model's folder when <paramref name="spec"/> names one (a named model's asset or a directory), else null.</summary>
    public static string? DirectoryOrNull(string spec) =>
        IsNamed(spec) || System.IO.Directory.Exists(spec) ? Directory(spec) : null;

    /// <summary>The model <paramref name="spec"/> names, in whichever layout its architecture reads (see <see cref="ModelZoo.Load"/>).</summary>
    public static ITransformerModel Load(string spec, ScalarType? dtype = null, Device? device = null) =>
        ModelZoo.Load(Directory(spec), dtype, device);
}
