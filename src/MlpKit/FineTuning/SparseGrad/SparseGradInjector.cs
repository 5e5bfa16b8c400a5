using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.FineTuning.SparseGrad;

/// <summary>
/// Injects SparseGrad into the MLP linears of a model:
/// <list type="number">
/// <item>collect the weight gradients of <see cref="SparseGradConfig.CalibrationSteps"/> batches at the
/// initial weights (no update is made, so memory never reaches full fine-tuning's);</item>
/// <item>HOSVD of the gradients stacked over steps (and layers of one kind) gives U, V;</item>
/// <item>replay the same batches (same RNG state, so the same gradients) and score each entry of
/// W' = Uᵀ W V by Σ_t (Uᵀ dW_t V)²; the <see cref="SparseGradConfig.Density"/> highest-scoring entries
/// form the trained support S;</item>
/// <item>freeze the weights and hang a <see cref="SparseGradTap"/> after each linear.</item>
/// </list>
/// The paper's code re-selects the top-k entries of every step's gradient, which forces dense Adam moments;
/// fixing S from the calibration gradients is what lets the moments live on S alone.
/// </summary>
public sealed class SparseGradInjector(SparseGradConfig config) : MlpInjector<SparseGradConfig>("sparsegrad", config)
{
    public override IFineTuneAdapter Inject(nn.Module model, FineTuneContext context)
    {
        var linears = Targets(model, Config.Targets);

        var plan = context.ResumeState is { } state ? FromState(linears, state) : Calibrate(model, linears, context);

        var biasNames = new HashSet<string>(StringComparer.Ordinal);
        if (Config.TrainBiases)
            foreach (var l in linears) if (l.Module.bias is not null) biasNames.Add($"{l.Name}.bias");
        var dense = FreezeExcept(model, biasNames.Contains);

        // The tap's output must require grad even where nothing upstream does (frozen embeddings, no bias).
        var anchor = zeros(1, requires_grad: true);
        var adapter = new SparseGradAdapter(dense, plan.Bases, anchor);
        foreach (var (l, (basisKey, rows, cols, flat)) in linears.Zip(plan.Selections))
        {
            var (u, v) = plan.Bases[basisKey];
            var layer = new SparseGradLinear(l.Name, l.Module, u, v, rows, cols, flat);
            var hook = l.Module.register_forward_hook((m, x, y) =>
                is_grad_enabled() ? SparseGradTap.apply(y, x, anchor, layer) : y);
            adapter.Add(layer, hook, basisKey);
        }
        return adapter;
    }

    sealed record Plan(Dictionary<string, (Tensor U, Tensor V)> Bases, List<(string Basis, Tensor Rows, Tensor Cols, Tensor Flat)> Selections);

    string BasisKey(MlpLinear l) => Config.ShareBasis ? $"{l.Kind}_{l.Rows}x{l.Cols}" : l.Name;

    Plan Calibrate(nn.Module model, List<MlpLinear> linears, FineTuneContext context)
    {
        if (context.CalibrationLosses is null)
            throw new MlpKitException("sparsegrad: needs calibration batches to find its basis (run it through the trainer)");
        var steps = Config.CalibrationSteps;
        var device = linears[0].Module.weight!.device;
        // Only the target weights need gradients while calibrating.
        var saved = model.parameters().Select(p => (p, p.requires_grad)).ToList();
        foreach (var (p, _) in saved) p.requires_grad = false;
        foreach (var l in linears) l.Module.weight!.requires_grad = true;
        var rng = random.get_rng_state();
        try
        {
            var grams = new Dictionary<string, SparseGradBasis>(StringComparer.Ordinal);
            foreach (var l in linears)
                if (!grams.ContainsKey(BasisKey(l))) grams[BasisKey(l)] = new SparseGradBasis(l.Rows, l.Cols, device);
            ForEachGradient(context, steps, linears, (l, g) => grams[BasisKey(l)].Add(g), "gradients for the basis");

            var bases = new Dictionary<string, (Tensor U, Tensor V)>(StringComparer.Ordinal);
            context.Progress?.Invoke($"sparsegrad: HOSVD of {grams.Count} gradient stacks");
            foreach (var (key, gram) in grams)
            {
                var (u, v) = gram.Factors(linears.First(l => BasisKey(l) == key).Module.weight!.dtype);
                bases[key] = (ColumnMajor(u), ColumnMajor(v));
                u.Dispose(); v.Dispose();
                gram.Dispose();
            }

            random.set_rng_state(rng);
            var scores = linears.ToDictionary(l => l.Name, l => zeros(l.Rows, l.Cols, dtype: ScalarType.Float64, device: device));
            ForEachGradient(context, steps, linears, (l, g) =>
            {
                using var scope = NewDisposeScope();
                var (u, v) = bases[BasisKey(l)];
                scores[l.Name].add_(u.t().matmul(g).matmul(v).to(ScalarType.Float64).square());
            }, "scoring the entries");

            var selections = new List<(string, Tensor, Tensor, Tensor)>();
            foreach (var l in linears)
            {
                var score = scores[l.Name];
                var k = Math.Max(1, (long)Math.Round(Config.Density * l.Rows * l.Cols));
                selections.Add(Support(Select(score, k, Config.Grid), l.Cols, BasisKey(l)));
                score.Dispose();
            }
            return new Plan(bases, selections);
        }
        finally
        {
            // Calibration must not move the RNG stream training starts from.
            random.set_rng_state(rng);
            foreach (var (p, rg) in saved) { p.requires_grad = rg; p.grad?.zero_(); }
            foreach (var l in linears) l.Module.weight!.grad = null;
        }
    }

    /// <summary>Sorted global indices (row·n + col) of the k best-scoring entries, optionally within the leading sub-grid.</summary>
    internal static Tensor Select(Tensor score, long k, double grid)
    {
        using var scope = NewDisposeScope();
        long m = score.shape[0], n = score.shape[1];
        k = Math.Min(k, m * n);
        if (grid <= 0 || grid * k >= m * n)
            return score.flatten().topk((int)k).indexes.sort().Values.MoveToOuterDisposeScope();
        var cells = grid * k;
        var a = Math.Clamp((long)Math.Ceiling(Math.Sqrt(cells * m / n)), 1, m);
        var b = Math.Clamp((long)Math.Ceiling(cells / a), 1, n);
        while (a * b < k) { if (a < m) a++; if (b < n && a * b < k) b++; }
        var rows = score.sum(dim: 1L).topk((int)a).indexes.sort().Values;
        var cols = score.sum(dim: 0L).topk((int)b).indexes.sort().Values;
        var sub = score.index_select(0, rows).index_select(1, cols);
        var best = sub.flatten().topk((int)k).indexes;
        var global = rows.index_select(0, best.div(b, rounding_mode: RoundingMode.floor)) * n + cols.index_select(0, best.remainder(b));
        return global.sort().Values.MoveToOuterDisposeScope();
    }

    static void ForEachGradient(FineTuneContext context, int steps, List<MlpLinear> linears, Action<MlpLinear, Tensor> use, string what)
    {
        var seen = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        context.Progress?.Invoke($"sparsegrad: calibration, {what}: {steps} batches");
        using var batches = context.CalibrationLosses!(steps).GetEnumerator();
        while (true)
        {
            // MoveNext runs the forward pass: opening the scope first frees its activations with the step.
            using var scope = NewDisposeScope();
            if (!batches.MoveNext()) break;
            var loss = batches.Current;
            foreach (var l in linears) l.Module.weight!.grad = null;
            loss.backward();
            // An MoE expert that no token of the batch was routed to gets no gradient: its gradient is zero.
            foreach (var l in linears) use(l, l.Module.weight!.grad ?? zeros_like(l.Module.weight!));
            loss.Dispose();
            seen++;
            if (clock.Elapsed.TotalSeconds >= 2 && seen < steps)
            {
                context.Progress?.Invoke($"  {seen}/{steps}");
                clock.Restart();
            }
        }
        if (seen == 0) throw new MlpKitException("sparsegrad: the calibration stream yielded no batches");
    }

    /// <summary>Splits sorted global indices row·n + col into sorted row/col sets and indices into their grid.</summary>
    internal static (string, Tensor, Tensor, Tensor) Support(Tensor globalSorted, long cols, string basis = "")
    {
        using var scope = NewDisposeScope();
        var r = globalSorted.div(cols, rounding_mode: RoundingMode.floor);
        var c = globalSorted.remainder(cols);
        var rows = r.unique(sorted: true).output;
        var cs = c.unique(sorted: true).output;
        var rpos = searchsorted(rows, r);
        var cpos = searchsorted(cs, c);
        var flat = rpos * cs.shape[0] + cpos;
        return (basis, rows.MoveToOuterDisposeScope(), cs.MoveToOuterDisposeScope(), flat.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// A copy of the basis stored column-major (its transpose contiguous): every step gathers the columns
    /// U[:, R] as rows of Uᵀ, which is a block copy in this layout and a strided one otherwise. Disposes
    /// nothing: the caller's tensor stays the caller's.
    /// </summary>
    internal static Tensor ColumnMajor(Tensor basis)
    {
        using var scope = NewDisposeScope();
        return basis.t().contiguous().t().MoveToOuterDisposeScope();
    }

    Plan FromState(List<MlpLinear> linears, IReadOnlyDictionary<string, Tensor> state)
    {
        Tensor Get(string key) => state.TryGetValue(key, out var t) ? t : throw new MlpKitException($"sparsegrad state: missing tensor '{key}'");
        var bases = new Dictionary<string, (Tensor, Tensor)>(StringComparer.Ordinal);
        var sel = new List<(string, Tensor, Tensor, Tensor)>();
        foreach (var l in linears)
        {
            var key = BasisKey(l);
            if (!bases.ContainsKey(key)) bases[key] = (ColumnMajor(Get($"sparsegrad.basis.{key}.U")), ColumnMajor(Get($"sparsegrad.basis.{key}.V")));
            sel.Add((key, Get($"sparsegrad.{l.Name}.rows").clone(), Get($"sparsegrad.{l.Name}.cols").clone(), Get($"sparsegrad.{l.Name}.flat").clone()));
        }
        return new Plan(bases, sel);
    }

    public sealed class SparseGradAdapter : IFineTuneAdapter
    {
        readonly List<TrainableParameter> _dense;
        readonly Dictionary<string, (Tensor U, Tensor V)> _bases;
        readonly Tensor _anchor;
        readonly List<(SparseGradLinear Layer, Linear.HookRemover Hook, string Basis)> _layers = [];
        bool _merged;

        internal SparseGradAdapter(List<TrainableParameter> dense, Dictionary<string, (Tensor, Tensor)> bases, Tensor anchor)
        {
            _dense = dense; _bases = bases; _anchor = anchor;
        }

        internal void Add(SparseGradLinear layer, Linear.HookRemover hook, string basis) => _layers.Add((layer, hook, basis));

        public string Method => "sparsegrad";
        public IReadOnlyList<TrainableParameter> DenseTrainable => _dense;
        public IReadOnlyList<ISparseTrainable> SparseTrainable => _layers.Select(l => (ISparseTrainable)l.Layer).ToList();
        public IReadOnlyList<SparseGradLinear> Layers => _layers.Select(l => l.Layer).ToList();
        public (Tensor U, Tensor V) Basis(string key) => _bases[key];

        public MethodFootprint Footprint()
        {
            var fp = MethodFootprint.Dense(Method, _dense);
            long n = 0, state = 0, grad = 0, extra = 0;
            foreach (var (l, _, _) in _layers)
            {
                var es = l.Values.ElementSize;
                n += l.Count;
                // Two moments, plus the index that locates them (counted with the state: it exists only for it).
                state += 2 * l.Count * es + Bytes(l.Flat) + Bytes(l.RowIndex) + Bytes(l.ColIndex);
                grad += l.Count * es;
                extra += Bytes(l.Values) + l.SliceBytes;
            }
            foreach (var (u, v) in _bases.Values) extra += Bytes(u) + Bytes(v);
            return fp.Plus(new MethodFootprint(Method, n, state, grad, state, grad, extra));
        }

        static long Bytes(Tensor t) => t.numel() * t.ElementSize;

        public IReadOnlyDictionary<string, Tensor> StateTensors()
        {
            var d = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var (key, (u, v)) in _bases) { d[$"sparsegrad.basis.{key}.U"] = u; d[$"sparsegrad.basis.{key}.V"] = v; }
            foreach (var (l, _, _) in _layers)
            {
                d[$"sparsegrad.{l.Name}.rows"] = l.RowIndex;
                d[$"sparsegrad.{l.Name}.cols"] = l.ColIndex;
                d[$"sparsegrad.{l.Name}.flat"] = l.Flat;
                d[$"sparsegrad.{l.Name}.values"] = l.Values;
                d[$"sparsegrad.{l.Name}.exp_avg"] = l.ExpAvg;
                d[$"sparsegrad.{l.Name}.exp_avg_sq"] = l.ExpAvgSq;
            }
            return d;
        }

        public void LoadStateTensors(IReadOnlyDictionary<string, Tensor> state)
        {
            using var _ = no_grad();
            foreach (var (l, _, _) in _layers)
            {
                Copy(state, $"sparsegrad.{l.Name}.values", l.Values);
                Copy(state, $"sparsegrad.{l.Name}.exp_avg", l.ExpAvg);
                Copy(state, $"sparsegrad.{l.Name}.exp_avg_sq", l.ExpAvgSq);
            }
        }

        static void Copy(IReadOnlyDictionary<string, Tensor> s, string key, Tensor into)
        {
            if (!s.TryGetValue(key, out var t)) throw new MlpKitException($"sparsegrad state: missing tensor '{key}'");
            if (!t.shape.SequenceEqual(into.shape)) throw new MlpKitException($"sparsegrad state: '{key}' has shape [{string.Join(", ", t.shape)}], expected [{string.Join(", ", into.shape)}]");
            into.copy_(t);
        }

        /// <summary>The model's weights already are U W' Vᵀ; merging only detaches the taps.</summary>
        public void Merge()
        {
            if (_merged) return;
            foreach (var (_, hook, _) in _layers) hook.remove();
            _merged = true;
        }

        public void Dispose()
        {
            Merge();
            foreach (var (l, _, _) in _layers) l.Dispose();
            foreach (var (u, v) in _bases.Values) { u.Dispose(); v.Dispose(); }
            _anchor.Dispose();
            _layers.Clear();
        }
    }
}
