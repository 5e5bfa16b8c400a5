using MlpKit.Compression;
using MlpKit.Ffn;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MlpKit.Tests.Compression;

public class WidthBudgetTests
{
    [Fact]
    public void AllocationHitsTheTotalExactlyAndTakesTheCheapestRemovalsFirst()
    {
        // Block 0's removals are cheap, block 1's dear, block 2's in between.
        long[] widths = [10, 10, 10];
        double[][] costs = [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [5, 6, 7, 8], [1, 1.5, 2, 9]];
        var alloc = WidthBudget.Allocate(widths, costs, 20);
        Assert.Equal(20, alloc.Sum());
        // Ten removals: 0.1-0.6 (six) from block 0, then 1, 1.5, 2 from block 2, then 5 from block 1.
        Assert.Equal([4, 9, 7], alloc);
        Assert.Equal(widths.Sum() - 1, WidthBudget.Allocate(widths, costs, 29).Sum());
        Assert.Contains("--budget", Assert.Throws<MlpKitException>(() => WidthBudget.Allocate(widths, costs, 5)).Message);
        foreach (var bad in new[] { 0.0, -0.1, 1.5, double.NaN })
            Assert.Contains("(0, 1]", Assert.Throws<MlpKitException>(() => WidthBudget.Total(bad, widths)).Message);
    }

    [Fact]
    public void AHardBlockGetsMoreWidthThanARedundantOne()
    {
        // Easy: every neuron duplicated (half of them cost nothing to remove); hard: all distinct.
        using var scope = NewDisposeScope();
        var easy = FfnFactory.Doubled(FfnFactory.Random(8, 12, 6, FfnActivation.Gelu, 51));
        var hard = FfnFactory.Random(8, 24, 6, FfnActivation.Gelu, 52);
        var x = FfnFactory.Inputs(400, 8, 9);
        double budget = 0.5;
        var blocks = new[] { easy, hard };
        var costs = blocks.Select(b => ObsPruneMethod.RemovalSchedule(b, x, (int)b.HiddenDim - WidthBudget.Floor(budget, b.HiddenDim), "t").RelativeCost).ToList();
        long total = WidthBudget.Total(budget, [24, 24]);
        var alloc = WidthBudget.Allocate([24, 24], costs, total);
        Assert.Equal(24, alloc.Sum());
        Assert.True(alloc[1] > alloc[0], $"hard {alloc[1]} vs easy {alloc[0]}");
        // Its 12 duplicates go first (nearly free), then removals compete on cost: it ends at or just under 12.
        Assert.InRange(alloc[0], 9, 12);
        Assert.True(costs[0].Take(12).Max() < costs[1].Min(), "a duplicate's removal is cheaper than any distinct neuron's");
    }
}
