using MlpKit.Checkpoints;

namespace MlpKit.Models;

/// <summary>
/// The sizes of a random-initialised preset, shared by every architecture so `init --preset tiny` means the same
/// depth and width whatever the architecture. tiny: 2 layers, hidden 64, 4 heads, FFN 256, 128 positions;
/// small: 4 layers, hidden 256, 4 heads, FFN 1024, 512 positions.
/// </summary>
public sealed record PresetSize(string Name, long Hidden, int Layers, int Heads, long Ffn, long MaxPositions)
{
    public static IReadOnlyList<PresetSize> All { get; } =
    [
        new("tiny", 64, 2, 4, 256, 128),
        new("small", 256, 4, 4, 1024, 512),
    ];

    public bool IsTiny => Name == "tiny";

    public static PresetSize Named(string name) => All.FirstOrDefault(p => p.Name == name)
        ?? throw new MlpKitException($"--preset {name}: unknown preset (known: {string.Join(", ", All.Select(p => p.Name))})");
}

/// <summary>
/// One architecture the zoo knows, as one record: its config.json <c>model_type</c>, how to build it from a config,
/// its presets, its tokenizer files and whether it takes a classification head. Each architecture's folder holds
/// its record (e.g. <c>Bert/BertArchitecture.cs</c>); <see cref="ModelZoo.All"/> lists them, one line each.
/// An architecture whose checkpoints are not the Hugging Face layout (config.json + safetensors under
/// <see cref="ITransformerModel.NameMap"/>'s names) supplies its own <see cref="LoadFolder"/> and
/// <see cref="SaveFolder"/>.
/// </summary>
public sealed record ModelArchitecture(string Name, string Summary)
{
    /// <summary>Builds the (randomly initialised) model a config.json describes; the config's model_type is <see cref="Name"/>.</summary>
    public required Func<HfConfig, ITransformerModel> Build { get; init; }

    /// <summary>Other config.json model_types this record reads (the same math under another name, e.g. mistral for llama).</summary>
    public IReadOnlyList<string> AlsoReads { get; init; } = [];

    /// <summary>True when a config.json with this model_type is read by this record.</summary>
    public bool Reads(string modelType) => modelType == Name || AlsoReads.Contains(modelType);

    /// <summary>A config for `init --preset`: (size, vocabulary size or null for the real model's, labels of a classification head). Null: no presets.</summary>
    public Func<PresetSize, long?, int, HfConfig>? Preset { get; init; }

    /// <summary>Writes the architecture's tokenizer files for `init` into a folder and returns their vocabulary size (given the requested size). Null: none ships.</summary>
    public Func<string, long?, long>? WriteTokenizer { get; init; }

    /// <summary>Whether `init --num-labels` may add a sequence-classification head.</summary>
    public bool ClassificationHead { get; init; }

    /// <summary>Loads a folder in the architecture's own layout; null: the Hugging Face layout.</summary>
    public Func<string, ITransformerModel>? LoadFolder { get; init; }

    /// <summary>Writes a model in the architecture's own layout; null: the Hugging Face layout.</summary>
    public Action<ITransformerModel, string>? SaveFolder { get; init; }

    /// <summary>True for a folder without config.json that still holds this architecture (a released package's own files).</summary>
    public Func<string, bool>? RecognizesFolder { get; init; }
}
