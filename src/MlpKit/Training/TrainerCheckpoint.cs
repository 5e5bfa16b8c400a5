using System.Text.Json;
using MlpKit.Checkpoints;
using MlpKit.FineTuning;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MlpKit.Training;

/// <summary>Where the trainer is in its run: enough, with the tensors, to continue as if never stopped.</summary>
public sealed class TrainerState
{
    public long Step { get; set; }
    public int Epoch { get; set; }
    /// <summary>Micro-batches already taken from the current epoch's permutation.</summary>
    public int BatchInEpoch { get; set; }
    public long Examples { get; set; }
    public double? Best { get; set; }
    public long BestStep { get; set; }
    public int BadEvals { get; set; }
    public double SecondsBefore { get; set; }
    public string Method { get; set; } = "";
    public long Seed { get; set; }
    public string RngState { get; set; } = "";
}

/// <summary>
/// A checkpoint folder: model.safetensors (the model's state dict), adapter.safetensors (the method's
/// own tensors), optimizer.bin (dense AdamW state), trainer.json and, for a sequential task, task.safetensors
/// (its state between batches). Every file is written atomically
/// into a fresh folder, which then replaces the previous one by two renames; if a crash falls between
/// them, the ".old" folder is still complete and <see cref="Resolve"/> finds it.
/// </summary>
public static class TrainerCheckpoint
{
    public const string ModelFile = "model.safetensors";
    public const string AdapterFile = "adapter.safetensors";
    public const string OptimizerFile = "optimizer.bin";
    public const string StateFile = "trainer.json";
    public const string TaskStateFile = "task.safetensors";

    public static void Save(string dir, nn.Module model, IFineTuneAdapter adapter, OptimizerHelper? optimizer, TrainerState? state,
        IReadOnlyDictionary<string, Tensor>? taskState = null)
    {
        var full = Path.GetFullPath(dir);
        var temp = full + ".tmp";
        if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        Directory.CreateDirectory(temp);
        SafeTensors.Save(Path.Combine(temp, ModelFile), model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu()));
        SafeTensors.Save(Path.Combine(temp, AdapterFile), adapter.StateTensors().ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu()));
        if (optimizer is not null)
            AtomicFile.Write(Path.Combine(temp, OptimizerFile), s => { using var w = new BinaryWriter(s, System.Text.Encoding.UTF8, leaveOpen: true); optimizer.save_state_dict(w); });
        if (taskState is not null)
            SafeTensors.Save(Path.Combine(temp, TaskStateFile), taskState.ToDictionary(kv => kv.Key, kv => kv.Value.detach().cpu().contiguous()));
        if (state is not null)
            AtomicFile.WriteAllText(Path.Combine(temp, StateFile), JsonSerializer.Serialize(state, new JsonSerializerOptions { WriteIndented = true }));
        var old = full + ".old";
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
        if (Directory.Exists(full)) Directory.Move(full, old);
        Directory.Move(temp, full);
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
    }

    /// <summary>The folder to load: the checkpoint itself, or its ".old" twin if a swap was cut short.</summary>
    public static string? Resolve(string dir)
    {
        var full = Path.GetFullPath(dir);
        if (File.Exists(Path.Combine(full, ModelFile))) return full;
        if (File.Exists(Path.Combine(full + ".old", ModelFile))) return full + ".old";
        return null;
    }

    /// <summary>The checkpoint a --resume continues from; none is a user error (a resume never silently starts over).</summary>
    public static string ResolveForResume(string dir) => Resolve(dir)
        ?? throw new MlpKitException($"--resume: {dir} holds no checkpoint, so there is nothing to resume; run without --resume to start");

    public static TrainerState ReadState(string dir)
    {
        var path = Path.Combine(dir, StateFile);
        try
        {
            return JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(path))
                ?? throw new MlpKitException($"{path}: empty trainer state");
        }
        catch (JsonException e) { throw new MlpKitException($"{path}: unreadable trainer state: {e.Message}"); }
        catch (FileNotFoundException) { throw new MlpKitException($"{path}: file not found (not a resumable checkpoint)"); }
    }

    public static Dictionary<string, Tensor> ReadAdapter(string dir) => SafeTensors.Load(Path.Combine(dir, AdapterFile));

    /// <summary>A sequential task's saved state; empty when the checkpoint holds none.</summary>
    public static Dictionary<string, Tensor> ReadTaskState(string dir)
    {
        var path = Path.Combine(dir, TaskStateFile);
        return File.Exists(path) ? SafeTensors.Load(path) : [];
    }

    /// <summary>Copies a saved state dict into the live model; names and shapes must match exactly.</summary>
    public static void LoadModel(string dir, nn.Module model)
    {
        var path = Path.Combine(dir, ModelFile);
        using var scope = NewDisposeScope();
        var saved = SafeTensors.Load(path);
        using var _ = no_grad();
        foreach (var (name, t) in model.state_dict())
        {
            if (!saved.TryGetValue(name, out var s)) throw MlpKitException.Field(path, name, "missing from the checkpoint");
            if (!s.shape.SequenceEqual(t.shape))
                throw MlpKitException.Field(path, name, $"shape [{string.Join(", ", s.shape)}] does not match the model's [{string.Join(", ", t.shape)}]");
            t.copy_(s);
        }
    }

    public static void LoadOptimizer(string dir, OptimizerHelper optimizer)
    {
        var path = Path.Combine(dir, OptimizerFile);
        if (!File.Exists(path)) throw new MlpKitException($"{path}: file not found");
        using var r = new BinaryReader(File.OpenRead(path));
        optimizer.load_state_dict(r);
    }
}
