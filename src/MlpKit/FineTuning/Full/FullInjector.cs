using static TorchSharp.torch;

namespace MlpKit.FineTuning.Full;

/// <summary>Every weight of the model trains with dense AdamW; no layer is replaced.</summary>
public sealed class FullInjector(FullConfig config) : MlpInjector<FullConfig>("full", config)
{
    public override IFineTuneAdapter Inject(nn.Module model, FineTuneContext context) =>
        new DenseAdapter(Name, FreezeExcept(model, _ => true));
}
