using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.FineTuning.MeProp;

/// <summary>Puts <see cref="MePropTopK"/> behind every targeted MLP linear; those linears and the head train.</summary>
public sealed class MePropInjector(MePropConfig config) : MlpInjector<MePropConfig>("meprop", config)
{
    public override IFineTuneAdapter Inject(nn.Module model, FineTuneContext context)
    {
        var linears = Targets(model, Config.Targets);
        var trainNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (var l in linears)
            foreach (var (pn, _) in l.Module.named_parameters()) trainNames.Add($"{l.Name}.{pn}");
        var dense = FreezeExcept(model, trainNames.Contains);
        var hooks = new List<Linear.HookRemover>();
        foreach (var l in linears)
        {
            var k = Config.KeepFor(l.Rows);
            hooks.Add(l.Module.register_forward_hook((m, x, y) =>
                is_grad_enabled() && y.requires_grad ? MePropTopK.apply(y, k) : y));
        }
        return new DenseAdapter(Name, dense, hooks);
    }
}
