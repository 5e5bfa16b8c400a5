using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MlpKit.Bench.Compare;

/// <summary>
/// The plain-PyTorch reference (tools/reference/reference_bench.py) as a child process spoken to in JSON lines. It
/// computes only while this process waits for its answer, so the two never compete for the cores.
/// </summary>
public sealed class ReferenceProcess : IDisposable
{
    readonly Process _p;

    public ReferenceProcess(string python, string script)
    {
        if (!File.Exists(script)) throw new MlpKitException($"{script}: the reference script is missing (run from the repository root)");
        var psi = new ProcessStartInfo(python)
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = false, UseShellExecute = false,
        };
        psi.ArgumentList.Add(script);
        try { _p = Process.Start(psi) ?? throw new MlpKitException($"{python}: could not start"); }
        catch (System.ComponentModel.Win32Exception e) { throw new MlpKitException($"{python}: {e.Message} (tools/reference/bench.sh installs python3-torch)"); }
    }

    public JsonNode Ask(JsonObject message)
    {
        _p.StandardInput.WriteLine(message.ToJsonString());
        _p.StandardInput.Flush();
        var line = _p.StandardOutput.ReadLine()
            ?? throw new MlpKitException($"the PyTorch reference exited (code {(_p.HasExited ? _p.ExitCode : -1)}) during {message["op"]}; is python3-torch installed?");
        var reply = JsonNode.Parse(line) ?? throw new MlpKitException("the PyTorch reference sent an empty reply");
        if (reply["ok"]?.GetValue<bool>() != true)
            throw new MlpKitException($"PyTorch reference, {message["op"]} {message["case"]}: {reply["error"]}");
        return reply;
    }

    /// <summary>Runs <paramref name="steps"/> steps of the prepared case; returns each step's wall time in ms.</summary>
    public IReadOnlyList<double> Run(int steps) => RunBlock(steps).Ms;

    /// <summary>Runs <paramref name="steps"/> steps; each step's wall time in ms and, for training steps, its phases.</summary>
    public (IReadOnlyList<double> Ms, IReadOnlyList<double[]> Phases) RunBlock(int steps)
    {
        var reply = Ask(new JsonObject { ["op"] = "run", ["steps"] = steps });
        var ms = reply["ms"]!.AsArray().Select(v => v!.GetValue<double>()).ToList();
        var phases = reply["phases"]?.AsArray().Select(p => p!.AsArray().Select(v => v!.GetValue<double>()).ToArray()).ToList() ?? [];
        return (ms, phases);
    }

    public void Dispose()
    {
        try
        {
            if (!_p.HasExited)
            {
                _p.StandardInput.WriteLine(JsonSerializer.Serialize(new { op = "quit" }));
                _p.StandardInput.Flush();
                if (!_p.WaitForExit(5000)) _p.Kill();
            }
        }
        catch (IOException) { }
        _p.Dispose();
    }
}
