using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.FineTuning.SparseGrad;

/// <summary>
/// One MLP linear under SparseGrad. Its weight is reparametrised as W = U W' Vᵀ and only the selected
/// entries S of W' train. The layer keeps the dense W the model already holds as the live product
/// U W' Vᵀ (so the forward pass costs what it always did and export is the weight itself) and stores, per
/// selected entry, the index, the value W'[S], its gradient and its two Adam moments.
/// <para>
/// Indices are stored against the sub-grid R × C of the rows and columns that S touches: the gradient
/// dW'[S] = (U[:, R]ᵀ gᵀ x V[:, C])[S] then only needs those basis columns, and an update only U[:, R] and
/// V[:, C]. Both products are evaluated in the association that costs the fewest multiply-adds for the
/// layer's shape, support and batch (see <see cref="SparseGradOrder"/>); the update multiplies the
/// k-entry change as a sparse matrix. The bases are best held column-major (Uᵀ contiguous), which makes
/// U[:, R]ᵀ a gather of whole rows; any layout gives the same numbers.
/// </para>
/// </summary>
public sealed class SparseGradLinear : ISparseTrainable, IDisposable
{
    public string Name { get; }
    public Linear Module { get; }
    /// <summary>Shared basis factors (m × m, n × n); several layers may hold the same tensors.</summary>
    public Tensor U { get; }
    public Tensor V { get; }
    /// <summary>Selected rows and columns of W' (sorted, int64).</summary>
    public Tensor RowIndex { get; }
    public Tensor ColIndex { get; }
    /// <summary>Entry e of S is (RowIndex[Flat[e] / |C|], ColIndex[Flat[e] % |C|]).</summary>
    public Tensor Flat { get; }
    public Tensor Values { get; }
    public Tensor ExpAvg { get; }
    public Tensor ExpAvgSq { get; }
    public Tensor Grad { get; }
    public long Count => Flat.shape[0];

    /// <summary>Forces one association of the gradient product instead of the cheapest (tests compare them all).</summary>
    internal SparseGradOrder? ForcedOrder { get; set; }
    /// <summary>Forces the update through U[:, R] (true) or V[:, C] (false) instead of the cheaper one.</summary>
    internal bool? ForcedUpdateByRows { get; set; }

    readonly bool _allRows, _allCols;

    public SparseGradLinear(string name, Linear module, Tensor u, Tensor v, Tensor rowIndex, Tensor colIndex, Tensor flat)
    {
        Name = name; Module = module; U = u; V = v;
        RowIndex = rowIndex; ColIndex = colIndex; Flat = flat;
        _allRows = rowIndex.shape[0] == u.shape[0];
        _allCols = colIndex.shape[0] == v.shape[0];
        var w = module.weight!;
        // Resident slices are made here, outside any dispose scope, so they live as long as the layer.
        if (!_allRows && 4 * rowIndex.shape[0] <= u.shape[0]) _rowsUt = u.t().index_select(0, rowIndex);
        if (!_allCols && 4 * colIndex.shape[0] <= v.shape[0]) _colsVt = v.t().index_select(0, colIndex);
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            var sub = RowsU().t().matmul(w.detach()).matmul(ColsV());
            Values = sub.flatten().index_select(0, flat).contiguous().MoveToOuterDisposeScope();
        }
        ExpAvg = zeros_like(Values);
        ExpAvgSq = zeros_like(Values);
        Grad = zeros_like(Values);
    }

    /// <summary>
    /// U[:, R]ᵀ (|R| × m): Uᵀ itself when S touches every row; a per-layer copy kept for the run when R is at
    /// most a quarter of the rows; otherwise gathered afresh each time (a transient copy), because one
    /// resident copy per layer would soon outweigh the shared basis it is cut from.
    /// </summary>
    public Tensor RowsUt() => _allRows ? U.t() : _rowsUt ?? U.t().index_select(0, RowIndex);
    public Tensor ColsVt() => _allCols ? V.t() : _colsVt ?? V.t().index_select(0, ColIndex);
    /// <summary>U[:, R] and V[:, C], as transposed views of the gathered rows.</summary>
    public Tensor RowsU() => RowsUt().t();
    public Tensor ColsV() => ColsVt().t();
    readonly Tensor? _rowsUt, _colsVt;

    /// <summary>Bytes of the resident per-layer basis slices.</summary>
    public long SliceBytes => (_rowsUt is null ? 0 : _rowsUt.numel() * _rowsUt.ElementSize) + (_colsVt is null ? 0 : _colsVt.numel() * _colsVt.ElementSize);

    /// <summary>Flat indices row·n + col of the selected entries in the full m × n grid.</summary>
    public Tensor GlobalIndex()
    {
        var nc = ColIndex.shape[0];
        var r = RowIndex.index_select(0, Flat.div(nc, rounding_mode: RoundingMode.floor));
        var c = ColIndex.index_select(0, Flat.remainder(nc));
        return r * V.shape[0] + c;
    }

    /// <summary>The association of dW'[R, C] = U[:, R]ᵀ gᵀ x V[:, C] that a batch of <paramref name="tokens"/> rows uses.</summary>
    internal SparseGradOrder OrderFor(long tokens) =>
        ForcedOrder ?? SparseGradOrders.Cheapest(RowIndex.shape[0], U.shape[0], tokens, V.shape[0], ColIndex.shape[0]);

    /// <summary>What the backward pass of <paramref name="order"/> needs from the input x (tokens × n): x V[:, C] or x itself.</summary>
    internal Tensor SaveForBackward(SparseGradOrder order, Tensor x) =>
        SparseGradOrders.UsesXv(order) ? x.matmul(ColsV()) : x;

    /// <summary>Adds dW'[S] for one backward pass, from the output gradient g and what forward saved.</summary>
    internal void AccumulateGrad(SparseGradOrder order, Tensor gradOutput, Tensor saved)
    {
        using var scope = NewDisposeScope();
        var g = gradOutput.reshape(-1, gradOutput.shape[^1]);
        var nr = RowIndex.shape[0]; var nc = ColIndex.shape[0];
        Tensor sub;   // |R| × |C|, or its transpose when `transposed`
        var transposed = false;
        switch (order)
        {
            case SparseGradOrder.GuXv:     // (g U_R)ᵀ (x V_C)
                sub = g.matmul(RowsU()).t().matmul(saved);
                break;
            case SparseGradOrder.XvGThenU: // ((x V_C)ᵀ g) U_R = subᵀ: the N-contraction runs over the narrow side
                sub = saved.t().matmul(g).matmul(RowsU());
                transposed = true;
                break;
            case SparseGradOrder.GuXThenV: // ((g U_R)ᵀ x) V_C
                sub = g.matmul(RowsU()).t().matmul(saved).matmul(ColsV());
                break;
            case SparseGradOrder.DenseThenV: // U_Rᵀ ((gᵀ x) V_C)
                sub = RowsUt().matmul(g.t().matmul(saved).matmul(ColsV()));
                break;
            case SparseGradOrder.DenseThenU: // (U_Rᵀ (gᵀ x)) V_C
                sub = RowsUt().matmul(g.t().matmul(saved)).matmul(ColsV());
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(order));
        }
        if (!transposed)
        {
            Grad.add_(sub.flatten().index_select(0, Flat));
            return;
        }
        // Entry (r, c) of the transposed |C| × |R| product sits at c·|R| + r.
        var flatT = Flat.remainder(nc).mul_(nr).add_(Flat.div(nc, rounding_mode: RoundingMode.floor));
        Grad.add_(sub.flatten().index_select(0, flatT));
    }

    public void ZeroGrad() => Grad.zero_();

    public void Step(double lr, double beta1, double beta2, double eps, double weightDecay, long step)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var old = Values.clone();
        // Same arithmetic as torch.optim.AdamW, on the selected entries only.
        if (weightDecay != 0) Values.mul_(1 - lr * weightDecay);
        ExpAvg.mul_(beta1).add_(Grad, alpha: 1 - beta1);
        ExpAvgSq.mul_(beta2).addcmul_(Grad, Grad, value: 1 - beta2);
        var bc1 = 1 - Math.Pow(beta1, step);
        var bc2 = 1 - Math.Pow(beta2, step);
        var denom = (ExpAvgSq.sqrt() / Math.Sqrt(bc2)).add_(eps);
        Values.addcdiv_(ExpAvg, denom, value: -lr / bc1);
        ApplyDelta(Values - old);
    }

    /// <summary>
    /// W += U_R D V_Cᵀ for a change D supported on S (k entries of the |R| × |C| grid). D stays sparse: one
    /// side is k rows of a basis scaled and summed (k·n or k·m multiply-adds), the other a dense product of
    /// rank min(|R|, |C|) added into W in place (m·|R|·n or m·|C|·n).
    /// </summary>
    internal void ApplyDelta(Tensor delta)
    {
        using var scope = NewDisposeScope();
        var nr = RowIndex.shape[0]; var nc = ColIndex.shape[0];
        long m = U.shape[0], n = V.shape[0], k = delta.shape[0];
        var r = Flat.div(nc, rounding_mode: RoundingMode.floor);
        var c = Flat.remainder(nc);
        var w = Module.weight!;
        if (ForcedUpdateByRows ?? k * n + m * nr * n <= k * m + m * nc * n)
        {
            var p = sparse_coo_tensor(stack([r, c]), delta, [nr, nc]).mm(ColsVt());   // D V_Cᵀ: |R| × n
            w.addmm_(RowsU(), p);
        }
        else
        {
            var q = sparse_coo_tensor(stack([c, r]), delta, [nc, nr]).mm(RowsUt());   // Dᵀ U_Rᵀ: |C| × m
            w.addmm_(q.t(), ColsVt());
        }
    }

    public void Dispose()
    {
        foreach (var t in new[] { RowIndex, ColIndex, Flat, Values, ExpAvg, ExpAvgSq, Grad }) t.Dispose();
        _rowsUt?.Dispose();
        _colsVt?.Dispose();
    }
}

/// <summary>
/// The associations of the chain U_Rᵀ · gᵀ · x · V_C (|R|×m · m×N · N×n · n×|C|) that SparseGrad's backward
/// can use. Which is cheapest depends on the shape: multiplying the wide side by its basis slice first
/// (g U_R, N·m·|R|) costs more than the whole forward pass when m is the MLP's hidden width, while
/// contracting the tokens against the narrow side first and applying the big basis to the small result
/// costs a fraction of it.
/// </summary>
internal enum SparseGradOrder
{
    /// <summary>(g U_R)ᵀ (x V_C); saves x V_C.</summary>
    GuXv,
    /// <summary>((x V_C)ᵀ g) U_R, transposed; saves x V_C.</summary>
    XvGThenU,
    /// <summary>((g U_R)ᵀ x) V_C; saves x.</summary>
    GuXThenV,
    /// <summary>U_Rᵀ ((gᵀ x) V_C); saves x.</summary>
    DenseThenV,
    /// <summary>(U_Rᵀ (gᵀ x)) V_C; saves x.</summary>
    DenseThenU,
}

internal static class SparseGradOrders
{
    public static readonly SparseGradOrder[] All = Enum.GetValues<SparseGradOrder>();

    public static bool UsesXv(SparseGradOrder o) => o is SparseGradOrder.GuXv or SparseGradOrder.XvGThenU;

    /// <summary>Multiply-adds of each association (the forward's x V_C included) for chain dims r, m, N, n, c.</summary>
    public static double Cost(SparseGradOrder o, double r, double m, double tokens, double n, double c) => o switch
    {
        SparseGradOrder.GuXv => tokens * n * c + tokens * m * r + r * tokens * c,
        SparseGradOrder.XvGThenU => tokens * n * c + c * tokens * m + c * m * r,
        SparseGradOrder.GuXThenV => tokens * m * r + r * tokens * n + r * n * c,
        SparseGradOrder.DenseThenV => m * tokens * n + m * n * c + r * m * c,
        SparseGradOrder.DenseThenU => m * tokens * n + r * m * n + r * n * c,
        _ => throw new ArgumentOutOfRangeException(nameof(o)),
    };

    public static SparseGradOrder Cheapest(long r, long m, long tokens, long n, long c) =>
        All.MinBy(o => Cost(o, r, m, tokens, n, c));
}

/// <summary>
/// Identity in the forward pass, placed after a SparseGrad linear; its backward adds the transformed,
/// sparsified weight gradient dW'[S] to the layer's buffer and passes the output gradient on unchanged
/// (the frozen linear itself propagates it to its input). It saves x V[:, C] (only the columns the selected
/// entries use) or x itself, whichever the layer's cheapest association of the gradient needs.
/// </summary>
public sealed class SparseGradTap : autograd.SingleTensorFunction<SparseGradTap>
{
    public override string Name => "SparseGradTap";

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var y = (Tensor)vars[0];
        var x = (Tensor)vars[1];
        var layer = (SparseGradLinear)vars[3];
        using (no_grad())
        {
            var flat = x.reshape(-1, x.shape[^1]);
            var order = layer.OrderFor(flat.shape[0]);
            ctx.save_for_backward([layer.SaveForBackward(order, flat)]);
            ctx.save_data("order", order);
        }
        ctx.save_data("layer", layer);
        return y.clone();
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
    {
        var layer = (SparseGradLinear)ctx.get_data("layer");
        var order = (SparseGradOrder)ctx.get_data("order");
        var saved = ctx.get_saved_variables()[0];
        using (no_grad()) layer.AccumulateGrad(order, grad, saved);
        return [grad, null!, null!, null!];
    }
}
