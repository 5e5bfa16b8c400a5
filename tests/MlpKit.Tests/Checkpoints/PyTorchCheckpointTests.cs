using MlpKit.Checkpoints;
using MlpKit.Models;
using MlpKit.Tests.Support;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace MlpKit.Tests.Checkpoints;

public class PyTorchCheckpointTests
{
    [Fact]
    public void PytorchModelBinLoadsTheSameWeightsAsSafetensors()
    {
        // The fixture was written by PyTorch's own torch.save (tools/reference/make_pytorch_bin_fixture.py).
        using var fromBin = ModelZoo.Load(TestPaths.Fixture("pytorch-bin"));
        using var fromSafetensors = ModelZoo.Load(TestPaths.Fixture("zoo", "bert"));
        using var scope = NewDisposeScope();
        var a = HfTensorBinding.Export(fromBin.Module, fromBin.NameMap());
        var b = HfTensorBinding.Export(fromSafetensors.Module, fromSafetensors.NameMap());
        Assert.Equal(b.Keys.Order(), a.Keys.Order());
        foreach (var (name, t) in b) Assert.True(t.equal(a[name]).all().ToBoolean(), name);
    }

    [Fact]
    public void LegacyFormatIsAOneLineErrorNamingTheFile()
    {
        var path = Path.Combine(TestPaths.Fixture("pytorch-bin-legacy"), PyTorchCheckpoint.FileName);
        var e = Assert.Throws<MlpKitException>(() => ModelZoo.Load(TestPaths.Fixture("pytorch-bin-legacy")));
        Assert.Contains(path, e.Message);
        Assert.Contains("legacy", e.Message);
    }

    [Fact]
    public void TruncatedBinIsAOneLineError()
    {
        var dir = TestPaths.TempDir();
        File.Copy(TestPaths.Fixture("pytorch-bin", "config.json"), Path.Combine(dir, "config.json"));
        var bytes = File.ReadAllBytes(TestPaths.Fixture("pytorch-bin", PyTorchCheckpoint.FileName));
        File.WriteAllBytes(Path.Combine(dir, PyTorchCheckpoint.FileName), bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<MlpKitException>(() => ModelZoo.Load(dir));
        Assert.Contains(PyTorchCheckpoint.FileName, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
