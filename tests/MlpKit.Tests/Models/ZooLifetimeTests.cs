using MlpKit.Models;
using Xunit;
using static TorchSharp.torch;

namespace MlpKit.Tests.Models;

public class ZooLifetimeTests
{
    [Theory]
    [InlineData("bert")]
    [InlineData("roberta")]
    [InlineData("gpt2")]
    [InlineData("mixtral")]
    [InlineData("llama")]
    public void AModelBuiltInsideADisposeScopeOutlivesIt(string arch)
    {
        ITransformerModel model;
        using (NewDisposeScope())
            model = ModelZoo.Create(ModelZoo.Presets(arch, "tiny", vocabSize: 64), seed: 3);
        using (model)
        using (NewDisposeScope())
        {
            foreach (var (name, p) in model.Module.named_parameters())
                Assert.False(p.IsInvalid, $"{arch}: parameter {name} was disposed with the scope");
            var ids = tensor(new long[] { 1, 2, 3, 4 }).reshape(1, 4);
            var y = model is ICausalLanguageModel lm ? lm.Forward(ids) : ((IEncoderModel)model).Encode(ids);
            Assert.False(y.isnan().any().item<bool>());
        }
    }
}
