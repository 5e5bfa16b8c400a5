using System.Collections;
using System.IO.Compression;
using static TorchSharp.torch;

namespace MlpKit.Checkpoints;

/// <summary>
/// `pytorch_model.bin` (torch.save of a state dict), read with TorchSharp.PyBridge's unpickler. That unpickler
/// is Razorvine.Pickle with PyTorch's storage classes registered: it builds tensors and plain containers and
/// never imports or runs Python code, so a hostile pickle cannot execute anything; whatever it yields that is not
/// a tensor is refused here. Only torch.save's zip format (PyTorch 1.6 and later) is supported; the legacy
/// format is named as such in the error (re-save it with a current PyTorch, or convert to safetensors).
/// </summary>
public static class PyTorchCheckpoint
{
    public const string FileName = "pytorch_model.bin";

    public static Dictionary<string, Tensor> Load(string path)
    {
        if (!File.Exists(path)) throw new MlpKitException($"{path}: file not found");
        if (!IsZip(path))
            throw new MlpKitException($"{path}: not a zip-format torch.save file (the legacy pre-1.6 format or another file); " +
                                      "re-save it with PyTorch 1.6 or later, or convert it to model.safetensors");
        Hashtable table;
        try
        {
            table = TorchSharp.PyBridge.PyTorchUnpickler.UnpickleStateDict(path);
        }
        catch (Exception e) when (e is not MlpKitException and not OutOfMemoryException)
        {
            throw new MlpKitException($"{path}: cannot read the PyTorch checkpoint: {e.Message.Split('\n')[0]}", e);
        }
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (DictionaryEntry entry in table)
            {
                var name = entry.Key as string ?? throw new MlpKitException($"{path}: a state-dict key is not a string ({entry.Key})");
                if (entry.Value is not Tensor t)
                    throw MlpKitException.Field(path, name, $"not a tensor ({entry.Value?.GetType().Name ?? "null"}); a pytorch_model.bin must hold a flat state dict");
                result[name] = t;
            }
        }
        catch
        {
            foreach (var v in table.Values) (v as IDisposable)?.Dispose();
            throw;
        }
        return result;
    }

    static bool IsZip(string path)
    {
        try
        {
            using var zip = ZipFile.OpenRead(path);
            return zip.Entries.Any(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) || e.FullName == "data.pkl");
        }
        catch (InvalidDataException)
        {
            return false;
        }
    }
}
