using MlpKit.Checkpoints;
using MlpKit.Compression;
using ScottPlot;

namespace MlpKit.Reporting;

/// <summary>`compress --sweep --plot`: NTK (solid) and output error (dashed) against the kept ratio, one colour per method.</summary>
public static class CompressionSweepPlot
{
    public static void Write(IReadOnlyList<CompressionReport> reports, string path)
    {
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int i = 0;
        foreach (var g in reports.GroupBy(r => r.Method))
        {
            var color = palette.GetColor(i++);
            var xs = g.Select(r => r.Ratio ?? 0).ToArray();
            var o = plt.Add.Scatter(xs, g.Select(r => r.HeldoutError ?? r.OutputError).ToArray(), color);
            o.LegendText = $"{g.Key} output";
            o.LinePattern = LinePattern.Dashed;
            if (g.All(r => r.NtkError is not null))
            {
                var n = plt.Add.Scatter(xs, g.Select(r => r.NtkError!.Value).ToArray(), color);
                n.LegendText = $"{g.Key} NTK";
            }
        }
        plt.Title($"{reports[0].Model}: relative error vs kept ratio");
        plt.XLabel("ratio of hidden neurons kept");
        plt.YLabel(reports.All(r => r.HeldoutError is not null)
            ? "relative error (solid: NTK, dashed: held-out output)" : "relative error (solid: NTK, dashed: output)");
        plt.Axes.SetLimitsX(0, 1);
        plt.ShowLegend();
        AtomicFile.Write(path, stream => stream.Write(plt.GetImageBytes(900, 600, ImageFormat.Png)));
    }
}
