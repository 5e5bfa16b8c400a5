using System.Text.Json;
using System.Text.Json.Nodes;
using MlpKit.Checkpoints;

namespace MlpKit.Compression;

/// <summary>What one block's compression did. Errors are relative (see docs/fusion.md); null when not measured.</summary>
public sealed record LayerReport(string Name, long HiddenBefore, long HiddenAfter, double OutputError, double? NtkError, double Seconds);

/// <summary>The whole-model result of one compression run, as written to --report.</summary>
public sealed record CompressionReport
{
    public required string Model { get; init; }
    public required string Method { get; init; }
    public double? Ratio { get; init; }
    public int? Hidden { get; init; }
    /// <summary>Model-wide fraction of neurons kept (widths then differ per block), or null.</summary>
    public double? Budget { get; init; }
    public long Seed { get; init; }
    public required IReadOnlyList<LayerReport> Layers { get; init; }
    public long HiddenBefore => Layers.Sum(l => l.HiddenBefore);
    public long HiddenAfter => Layers.Sum(l => l.HiddenAfter);
    /// <summary>‖Y' − Y‖_F / ‖Y‖_F of the model's per-example representation on the calibration examples.</summary>
    public double OutputError { get; init; }
    /// <summary>What the model's output is: "sentence embedding (mean pooling, normalized)", "logits", …</summary>
    public string Output { get; init; } = "";
    /// <summary>‖Y' − Y‖_F / ‖Y‖_F of the model's output on held-out examples (not the calibration ones); null without them.</summary>
    public double? HeldoutError { get; init; }
    /// <summary>Mean cosine between the compressed and the original model's output vectors on the held-out examples.</summary>
    public double? HeldoutCosine { get; init; }
    public int HeldoutExamples { get; init; }
    /// <summary>‖K' − K‖_F / ‖K‖_F of the kernel over all compressed blocks' parameters.</summary>
    public double? NtkError { get; init; }
    /// <summary>‖K' − K‖_F, the reference code's unnormalised figure.</summary>
    public double? NtkErrorAbsolute { get; init; }
    public string NtkKind { get; init; } = "sign";
    public int NtkSamples { get; init; }
    public int CalibrationExamples { get; init; }
    public double Seconds { get; init; }

    public JsonObject ToJson()
    {
        var layers = new JsonArray(Layers.Select(l => (JsonNode)new JsonObject
        {
            ["name"] = l.Name,
            ["hidden_before"] = l.HiddenBefore,
            ["hidden_after"] = l.HiddenAfter,
            ["output_error"] = l.OutputError,
            ["ntk_error"] = l.NtkError,
            ["seconds"] = Math.Round(l.Seconds, 4),
        }).ToArray());
        return new JsonObject
        {
            ["model"] = Model,
            ["method"] = Method,
            ["ratio"] = Ratio,
            ["hidden"] = Hidden,
            ["budget"] = Budget,
            ["seed"] = Seed,
            ["hidden_before"] = HiddenBefore,
            ["hidden_after"] = HiddenAfter,
            ["output"] = Output,
            ["output_error"] = OutputError,
            ["heldout_output_error"] = HeldoutError,
            ["heldout_cosine"] = HeldoutCosine,
            ["heldout_examples"] = HeldoutExamples,
            ["ntk_error"] = NtkError,
            ["ntk_error_absolute"] = NtkErrorAbsolute,
            ["ntk_kind"] = NtkKind,
            ["ntk_samples"] = NtkSamples,
            ["calibration_examples"] = CalibrationExamples,
            ["seconds"] = Math.Round(Seconds, 3),
            ["layers"] = layers,
        };
    }

    public static void WriteAll(string path, IReadOnlyList<CompressionReport> reports)
    {
        JsonNode node = reports.Count == 1 ? reports[0].ToJson() : new JsonArray(reports.Select(r => (JsonNode)r.ToJson()).ToArray());
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        AtomicFile.WriteAllText(path, node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}
