using System.Text.RegularExpressions;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.FineTuning.Lora;

/// <summary>Attaches a <see cref="LoraLayer"/> to each targeted linear through a forward hook; the base is frozen.</summary>
public sealed class LoraInjector(LoraConfig config) : MlpInjector<LoraConfig>("lora", config)
{
    public override IFineTuneAdapter Inject(nn.Module model, FineTuneContext context)
    {
        // LoRA may target any linear (attention too), not only the MLP's, so it matches module names itself.
        var targets = new Regex(Config.Targets, RegexOptions.CultureInvariant);
        var mlpNames = MlpLinears.Find(model).Select(l => l.Name).ToHashSet(StringComparer.Ordinal);
        var dense = FreezeExcept(model);
        var adapter = new LoraAdapter();
        foreach (var (name, module) in MlpLinears.AllModules(model))
        {
            if (module is not Linear lin || !targets.IsMatch(name)) continue;
            var w = lin.weight!;
            var layer = new LoraLayer(w.shape[1], w.shape[0], Config.Rank, Config.Scaling, Config.Dropout, w.dtype, w.device);
            layer.train(lin.training);
            var hook = lin.register_forward_hook((m, x, y) => y + layer.call(x));
            adapter.Add(name, lin, layer, hook, mlpNames.Contains(name));
        }
        if (adapter.Layers.Count == 0)
            throw new MlpKitException($"lora: no linear layer name matches targets '{Config.Targets}'");
        adapter.Finish(dense);
        return adapter;
    }

    internal sealed class LoraAdapter : IFineTuneAdapter
    {
        public readonly List<(string Name, Linear Base, LoraLayer Layer, Linear.HookRemover Hook, bool IsMlp)> Layers = [];
        List<TrainableParameter> _dense = [];
        bool _merged;

        public void Add(string name, Linear lin, LoraLayer layer, Linear.HookRemover hook, bool isMlp) => Layers.Add((name, lin, layer, hook, isMlp));

        public void Finish(List<TrainableParameter> head)
        {
            _dense = [.. head];
            foreach (var l in Layers)
            {
                _dense.Add(new TrainableParameter($"lora.{l.Name}.A", l.Layer.A, l.IsMlp));
                _dense.Add(new TrainableParameter($"lora.{l.Name}.B", l.Layer.B, l.IsMlp));
            }
        }

        public string Method => "lora";
        public IReadOnlyList<TrainableParameter> DenseTrainable => _dense;
        public IReadOnlyList<ISparseTrainable> SparseTrainable => [];
        public MethodFootprint Footprint() => MethodFootprint.Dense(Method, _dense);

        public IReadOnlyDictionary<string, Tensor> StateTensors()
        {
            var d = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var l in Layers) { d[$"lora.{l.Name}.A"] = l.Layer.A; d[$"lora.{l.Name}.B"] = l.Layer.B; }
            return d;
        }

        public void LoadStateTensors(IReadOnlyDictionary<string, Tensor> state)
        {
            using var _ = no_grad();
            foreach (var l in Layers)
            {
                l.Layer.A.copy_(Get(state, $"lora.{l.Name}.A"));
                l.Layer.B.copy_(Get(state, $"lora.{l.Name}.B"));
            }
        }

        static Tensor Get(IReadOnlyDictionary<string, Tensor> s, string key) =>
            s.TryGetValue(key, out var t) ? t : throw new MlpKitException($"adapter state: missing tensor '{key}'");

        public void Merge()
        {
            if (_merged) return;
            using var _ = no_grad();
            foreach (var l in Layers)
            {
                l.Hook.remove();
                l.Base.weight!.add_(l.Layer.DeltaWeight());
            }
            _merged = true;
        }

        public void Dispose()
        {
            if (!_merged) foreach (var l in Layers) l.Hook.remove();
            foreach (var l in Layers) l.Layer.Dispose();
            Layers.Clear();
            _merged = true;
        }
    }
}
