using System.Text.Json;
using MlpKit.Checkpoints;
using MlpKit.Ffn.Variants;
using ScottPlot;

namespace MlpKit.Lm;

/// <summary>How often each unit (expert, PKM value, Top-K neuron) of one layer was selected, and the entropy of that.</summary>
public sealed record LayerUsage(int Layer, long Tokens, long[] Counts, double Entropy, double MaxEntropy)
{
    /// <summary>Entropy / ln(units): 1 is perfectly uniform use, 0 is one unit for everything.</summary>
    public double NormalizedEntropy => MaxEntropy > 0 ? Entropy / MaxEntropy : 0;

    public static LayerUsage From(int layer, FeedForwardVariant ffn)
    {
        var counts = ffn.UsageCounts;
        var total = (double)counts.Sum();
        var h = 0.0;
        if (total > 0)
            foreach (var c in counts)
                if (c > 0) h -= c / total * Math.Log(c / total);
        return new LayerUsage(layer, ffn.UsageTokens, counts, h, counts.Length > 1 ? Math.Log(counts.Length) : 0);
    }
}

/// <summary>report.json of an LM run.</summary>
public sealed record LmRunReport
{
    public string Ffn { get; init; } = "";
    public string Tokenizer { get; init; } = "";
    public string Data { get; init; } = "";
    public long Parameters { get; init; }
    public long FfnParameters { get; init; }
    public long FfnMacsPerToken { get; init; }
    public long DenseReferenceMacsPerToken { get; init; }
    /// <summary>Exact FFN MACs (selector included) as a percentage of the parameter-equal dense FFN's.</summary>
    public double FfnMacsPercent { get; init; }
    /// <summary>The paper's figure: K/N_E for MoEs, K/d_ff for Top-K, heads·knn/N for PKM, 100 for dense.</summary>
    public double NominalComputePercent { get; init; }
    public long Steps { get; init; }
    public long TrainTokens { get; init; }
    public double TrainSeconds { get; init; }
    public double TokensPerSecond { get; init; }
    public long ValidTokens { get; init; }
    public double ValidLoss { get; init; }
    public double ValidPerplexity { get; init; }
    public double ValidBitsPerChar { get; init; }
    public long BestStep { get; init; }
    public bool Interrupted { get; init; }
    public IReadOnlyList<LayerUsage> Usage { get; init; } = [];

    public const string FileName = "report.json";
    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public void Save(string runDir) => AtomicFile.WriteAllText(Path.Combine(runDir, FileName), JsonSerializer.Serialize(this, Json));

    public static LmRunReport Load(string runDir)
    {
        var path = Path.Combine(runDir, FileName);
        return JsonSerializer.Deserialize<LmRunReport>(File.ReadAllText(path), Json) ?? throw new MlpKitException($"{path}: empty report");
    }
}

public static class UsagePlot
{
    /// <summary>
    /// Share of selections per unit, one line per layer (and run), units ranked from most to least used: unit ids
    /// mean nothing across layers, while the ranked curve shows balance at a glance (flat = even use, a spike and a
    /// tail at zero = collapse). Dense layers have no usage and are left out; returns false when nothing was drawn.
    /// </summary>
    public static bool Write(string pngPath, string title, IEnumerable<(string Label, LayerUsage Usage)> series)
    {
        var plt = new Plot();
        plt.Title(title);
        plt.XLabel("unit rank, most used first (expert / value / neuron)");
        plt.YLabel("share of selections");
        var any = false;
        foreach (var (label, u) in series)
        {
            var total = (double)u.Counts.Sum();
            if (u.Counts.Length == 0 || total == 0) continue;
            var s = plt.Add.Scatter(Enumerable.Range(0, u.Counts.Length).Select(i => (double)i).ToArray(),
                u.Counts.Select(c => c / total).OrderByDescending(x => x).ToArray());
            s.LegendText = $"{label} (H/Hmax {u.NormalizedEntropy:F3})";
            s.MarkerSize = u.Counts.Length <= 64 ? 5 : 0;
            any = true;
        }
        if (!any) return false;
        plt.ShowLegend(Edge.Right);
        AtomicFile.WriteAllBytes(pngPath, plt.GetImageBytes(1200, 550, ImageFormat.Png));
        return true;
    }
}
