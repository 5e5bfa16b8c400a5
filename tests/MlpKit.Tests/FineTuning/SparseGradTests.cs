using MlpKit.FineTuning;
using MlpKit.FineTuning.SparseGrad;
using MlpKit.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Xunit;

namespace MlpKit.Tests.FineTuning;

[Collection(MlpKit.Tests.Training.TorchRngCollection.Name)]
public class SparseGradTests
{
    const int Calib = 6;

    static (TinyMlpClassifier Model, SyntheticData Data) Fresh(int seed = 7, bool gated = false)
    {
        TorchRuntime.EnsureInitialized();
        manual_seed(seed);
        var data = new SyntheticData(128, seed: 2);
        return (new TinyMlpClassifier(data.Vocab, 8, 24, 2, data.Classes, gated, dtype: ScalarType.Float64), data);
    }

    static SparseGradInjector.SparseGradAdapter Inject(TinyMlpClassifier model, SyntheticData data, double density = 0.1, double grid = 0) =>
        (SparseGradInjector.SparseGradAdapter)FineTuneMethods.Create("sparsegrad", new Dictionary<string, string>
        {
            ["density"] = density.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["calibration-steps"] = Calib.ToString(),
            ["grid"] = grid.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }).Inject(model, new FineTuneContext { CalibrationLosses = data.Calibration(model) });

    static int[] Batch => Enumerable.Range(40, 16).ToArray();

    [Fact]
    public void BasisIsOrthogonalAndMatchesTheSvdOfTheStackedGradients()
    {
        using var scope = NewDisposeScope();
        var (model, data) = Fresh();
        var (reference, _) = Fresh();
        using var adapter = Inject(model, data);

        // Independent path: materialise the gradient tensor over steps and layers, unfold, SVD.
        var ups = MlpLinears.Find(reference).Where(l => l.Kind == "up").ToList();
        var slices = new List<Tensor>();
        foreach (var loss in data.Calibration(reference)(Calib))
        {
            reference.zero_grad();
            loss.backward();
            foreach (var l in ups) slices.Add(l.Module.weight!.grad!.clone());
        }
        var stacked = stack(slices);                                           // [T·L, m, n]
        var unfoldRows = stacked.permute(1, 0, 2).reshape(stacked.shape[1], -1); // m × (T·L·n)
        var (uSvd, s, _) = linalg.svd(unfoldRows, fullMatrices: false);

        var (u, v) = adapter.Basis("up_24x8");
        Assert.True((u.t().matmul(u) - eye(u.shape[0], dtype: u.dtype)).abs().max().item<double>() < 1e-5);
        Assert.True((v.t().matmul(v) - eye(v.shape[0], dtype: v.dtype)).abs().max().item<double>() < 1e-5);
        Assert.True((u.matmul(u.t()) - eye(u.shape[0], dtype: u.dtype)).abs().max().item<double>() < 1e-5);
        // Leading singular vectors agree up to sign where the singular values are well separated.
        var sv = s.data<double>().ToArray();
        var compared = 0;
        for (var i = 0; i < 5; i++)
        {
            if (Math.Abs(sv[i] - sv[i + 1]) < 1e-3 * sv[0] || (i > 0 && Math.Abs(sv[i] - sv[i - 1]) < 1e-3 * sv[0])) continue;
            var dot = Math.Abs(uSvd[.., i].dot(u[.., i]).item<double>());
            Assert.True(Math.Abs(dot - 1) < 1e-6, $"column {i}: |<u_svd, u>| = {dot}");
            compared++;
        }
        Assert.True(compared >= 3);
    }

    [Fact]
    public void ReparametrisedLayerEqualsTheOriginalBeforeTraining()
    {
        using var scope = NewDisposeScope();
        var (model, data) = Fresh(gated: true);
        model.eval();
        var (t, o, _) = data.Batch(Batch);
        var before = model.call(t, o).detach().clone();
        var weights = MlpLinears.Find(model).ToDictionary(l => l.Name, l => l.Module.weight!.detach().clone());
        using var adapter = Inject(model, data);
        Assert.Equal(6, adapter.Layers.Count);   // up, gate, down × 2 blocks
        var x = randn(5, 8, dtype: ScalarType.Float64);
        foreach (var layer in adapter.Layers)
        {
            var w = weights[layer.Name];
            var wPrime = layer.U.t().matmul(w).matmul(layer.V);
            var rebuilt = layer.U.matmul(wPrime).matmul(layer.V.t());
            Assert.True((rebuilt - w).abs().max().item<double>() < 1e-12, layer.Name);
            if (layer.Module.weight!.shape[1] == 8)
                Assert.True((nn.functional.linear(x, rebuilt, layer.Module.bias) - layer.Module.call(x)).abs().max().item<double>() < 1e-12);
            // The stored values are W' on the support.
            var expected = wPrime.flatten().index_select(0, layer.GlobalIndex());
            Assert.True((expected - layer.Values).abs().max().item<double>() < 1e-12);
        }
        model.train();
        Assert.True((model.call(t, o) - before).abs().max().item<double>() < 1e-12);
    }

    [Fact]
    public void CustomBackwardEqualsAutogradOfTheReparametrisedWeight()
    {
        using var scope = NewDisposeScope();
        var (model, data) = Fresh();
        var (reference, _) = Fresh();
        using var adapter = Inject(model, data, density: 0.2);
        model.train(); reference.train();

        // Reference: autograd through W = U W' Vᵀ with a dense leaf W' in place of every MLP weight.
        var leaves = new Dictionary<string, Tensor>();
        var refLinears = MlpLinears.Find(reference).ToDictionary(l => l.Name);
        foreach (var layer in adapter.Layers)
        {
            var lin = refLinears[layer.Name].Module;
            var (u, v) = (layer.U, layer.V);
            var wp = u.t().matmul(lin.weight!.detach()).matmul(v).detach().requires_grad_(true);
            leaves[layer.Name] = wp;
            lin.register_forward_hook((m, x, y) => nn.functional.linear(x, u.matmul(wp).matmul(v.t()), lin.bias));
        }
        data.Loss(reference, Batch).backward();
        data.Loss(model, Batch).backward();

        foreach (var layer in adapter.Layers)
        {
            var expected = leaves[layer.Name].grad!.flatten().index_select(0, layer.GlobalIndex());
            Assert.True(expected.abs().max().item<double>() > 1e-6, "gradient should not vanish");
            Assert.True((expected - layer.Grad).abs().max().item<double>() < 1e-10, layer.Name);
            var bias = refLinears[layer.Name].Module.bias!.grad!;
            Assert.True((bias - layer.Module.bias!.grad!).abs().max().item<double>() < 1e-12);
            Assert.Null(layer.Module.weight!.grad);
        }
        // Gradient accumulation adds up.
        var first = adapter.Layers[0].Grad.clone();
        data.Loss(model, Batch).backward();
        Assert.True((adapter.Layers[0].Grad - 2 * first).abs().max().item<double>() < 1e-10);
    }

    /// <summary>
    /// Every association of U_Rᵀ gᵀ x V_C the backward may pick, on supports that touch all rows and columns
    /// (paper rule) and on leading sub-grids (grid, |R| &lt; m and |C| &lt; n), equals autograd through the dense
    /// reparametrised weight in float64.
    /// </summary>
    [Theory]
    [InlineData(0.2, 0.0)]
    [InlineData(0.05, 1.0)]
    public void EveryGradientAssociationEqualsAutogradOfTheReparametrisedWeight(double density, double grid)
    {
        using var scope = NewDisposeScope();
        var (model, data) = Fresh(gated: true);
        var (reference, _) = Fresh(gated: true);
        using var adapter = Inject(model, data, density, grid);
        model.train(); reference.train();
        if (grid > 0)
            Assert.Contains(adapter.Layers, l => l.RowIndex.shape[0] < l.U.shape[0] && l.ColIndex.shape[0] < l.V.shape[0]);

        var leaves = new Dictionary<string, Tensor>();
        var refLinears = MlpLinears.Find(reference).ToDictionary(l => l.Name);
        foreach (var layer in adapter.Layers)
        {
            var lin = refLinears[layer.Name].Module;
            var (u, v) = (layer.U, layer.V);
            var wp = u.t().matmul(lin.weight!.detach()).matmul(v).detach().requires_grad_(true);
            leaves[layer.Name] = wp;
            lin.register_forward_hook((m, x, y) => nn.functional.linear(x, u.matmul(wp).matmul(v.t()), lin.bias));
        }
        data.Loss(reference, Batch).backward();

        foreach (var order in SparseGradOrders.All)
        {
            foreach (var layer in adapter.Layers) { layer.ForcedOrder = order; layer.ZeroGrad(); }
            data.Loss(model, Batch).backward();
            foreach (var layer in adapter.Layers)
            {
                var expected = leaves[layer.Name].grad!.flatten().index_select(0, layer.GlobalIndex());
                Assert.True(expected.abs().max().item<double>() > 1e-6, "gradient should not vanish");
                Assert.True((expected - layer.Grad).abs().max().item<double>() < 1e-10, $"{layer.Name} {order}");
            }
        }
    }

    [Fact]
    public void CheapestAssociationIsTheMinimumOfTheCountedMultiplyAdds()
    {
        // Up projection of a 256 -> 1024 MLP with 512 tokens: contracting the tokens against x V_C and applying
        // U_R to the small result beats multiplying g by U_R (N·m·|R|) first.
        Assert.Equal(SparseGradOrder.XvGThenU, SparseGradOrders.Cheapest(286, 1024, 512, 256, 123));
        // Down projection: x is the wide side, so g U_R first and x itself is saved.
        Assert.Equal(SparseGradOrder.GuXThenV, SparseGradOrders.Cheapest(125, 256, 512, 1024, 216));
        // The cost model counts each product once: brute force over the orders by hand for one case.
        double r = 3, m = 5, t = 7, n = 11, c = 2;
        Assert.Equal(t * n * c + t * m * r + r * t * c, SparseGradOrders.Cost(SparseGradOrder.GuXv, r, m, t, n, c));
        Assert.Equal(m * t * n + r * m * n + r * n * c, SparseGradOrders.Cost(SparseGradOrder.DenseThenU, r, m, t, n, c));
    }

    /// <summary>Both ways of applying a sparse change to the dense weight equal U (W' + D) Vᵀ computed densely.</summary>
    [Theory]
    [InlineData(0.2, 0.0, true)]
    [InlineData(0.2, 0.0, false)]
    [InlineData(0.05, 1.0, true)]
    [InlineData(0.05, 1.0, false)]
    public void SparseUpdateEitherWayEqualsTheDenseReparametrisedUpdate(double density, double grid, bool byRows)
    {
        using var scope = NewDisposeScope();
        var (model, data) = Fresh(gated: true);
        using var adapter = Inject(model, data, density, grid);
        manual_seed(11);
        using var _ = no_grad();
        foreach (var layer in adapter.Layers)
        {
            var w0 = layer.Module.weight!.detach().clone();
            var delta = randn(layer.Count, dtype: ScalarType.Float64);
            layer.ForcedUpdateByRows = byRows;
            layer.ApplyDelta(delta);
            var wPrime = layer.U.t().matmul(w0).matmul(layer.V).flatten();
            wPrime.index_add_(0, layer.GlobalIndex(), delta, 1.0);
            var expected = layer.U.matmul(wPrime.view(w0.shape)).matmul(layer.V.t());
            Assert.True((expected - layer.Module.weight!).abs().max().item<double>() < 1e-12, $"{layer.Name} byRows={byRows}");
        }
    }

    [Fact]
    public void SparseAdamStepEqualsDenseAdamWMaskedToTheSameEntries()
    {
        using var scope = NewDisposeScope();
        var (model, data) = Fresh();
        using var adapter = Inject(model, data, density: 0.15);
        var layer = adapter.Layers[1];
        var w0 = layer.Module.weight!.detach().clone();
        var idx = layer.GlobalIndex();
        var dense = new Parameter(layer.U.t().matmul(w0).matmul(layer.V));
        const double lr = 0.05, wd = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
        var adamw = optim.AdamW([dense], lr, b1, b2, eps, wd);
        manual_seed(5);
        for (var step = 1; step <= 4; step++)
        {
            var g = randn(layer.Count, dtype: ScalarType.Float64);
            layer.ZeroGrad();
            layer.Grad.add_(g);
            layer.Step(lr, b1, b2, eps, wd, step);
            dense.grad = zeros_like(dense).flatten().index_put_(g, idx).view_as(dense);
            adamw.step();
        }
        // On the support the two agree; off it the dense AdamW only decayed, while SparseGrad leaves W' alone.
        var denseOnS = dense.detach().flatten().index_select(0, idx);
        Assert.True((denseOnS - layer.Values).abs().max().item<double>() < 1e-12);
        var wPrime0 = layer.U.t().matmul(w0).matmul(layer.V).flatten();
        var expectedWPrime = wPrime0.index_put_(layer.Values, idx).view(w0.shape);
        var expectedW = layer.U.matmul(expectedWPrime).matmul(layer.V.t());
        Assert.True((expectedW - layer.Module.weight!).abs().max().item<double>() < 1e-12);
        Assert.True((layer.Module.weight! - w0).abs().max().item<double>() > 1e-3, "the step must move the weight");
    }

    [Fact]
    public void OptimizerStateIsStoredOnlyForTheSelectedEntries()
    {
        using var scope = NewDisposeScope();
        var (model, data) = Fresh();
        using var adapter = Inject(model, data, density: 0.05);
        foreach (var l in adapter.Layers)
        {
            var k = (long)Math.Round(0.05 * l.Module.weight!.numel());
            Assert.Equal(new[] { k }, l.ExpAvg.shape);
            Assert.Equal(new[] { k }, l.ExpAvgSq.shape);
            Assert.Equal(new[] { k }, l.Grad.shape);
            Assert.Equal(k, l.GlobalIndex().unique().output.numel());
        }
        var fp = adapter.Footprint();
        var full = MethodFootprint.Dense("full", MlpLinears.Find(model).Select(l => new TrainableParameter(l.Name, l.Module.weight!, true)));
        Assert.True(fp.MlpGradientBytes < 0.2 * full.MlpGradientBytes);
    }

    [Fact]
    public void SelectionTakesTheTopEntriesOrTheTopWithinTheLeadingSubGrid()
    {
        using var scope = NewDisposeScope();
        manual_seed(8);
        var score = rand(12, 30, dtype: ScalarType.Float64);
        var values = score.data<double>().ToArray();
        // Paper rule: brute force over all 360 entries.
        var expected = Enumerable.Range(0, values.Length).OrderByDescending(i => values[i]).Take(9).Order().Select(i => (long)i).ToArray();
        Assert.Equal(expected, SparseGradInjector.Select(score, 9, 0).data<long>().ToArray());

        // Grid 2: 18 candidate cells shaped like the matrix (a = ceil(sqrt(18·12/30)) = 3 rows, b = 6 columns).
        var rowsTop = Enumerable.Range(0, 12).OrderByDescending(r => Enumerable.Range(0, 30).Sum(c => values[r * 30 + c])).Take(3).ToHashSet();
        var colsTop = Enumerable.Range(0, 30).OrderByDescending(c => Enumerable.Range(0, 12).Sum(r => values[r * 30 + c])).Take(6).ToHashSet();
        var cand = Enumerable.Range(0, values.Length).Where(i => rowsTop.Contains(i / 30) && colsTop.Contains(i % 30));
        var expectedGrid = cand.OrderByDescending(i => values[i]).Take(9).Order().Select(i => (long)i).ToArray();
        Assert.Equal(expectedGrid, SparseGradInjector.Select(score, 9, 2).data<long>().ToArray());
    }
}
