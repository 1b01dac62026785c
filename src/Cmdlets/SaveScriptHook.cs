using System;
using System.Collections.Generic;
using System.Management.Automation;

namespace ParallelMap.Commands
{
    /// <summary>
    /// Start-ResumableBatch -SaveScript: the checkpoint's save hook, which hands each chunk's result
    /// objects (not their bytes) to the user's script block as <c>param($ChunkPath, $Results, $Keys)</c>.
    /// The store calls it on the pipeline thread, from inside a store call the cmdlet made, so the
    /// script runs where PowerShell allows it.
    /// </summary>
    internal sealed class SaveScriptHook
    {
        private readonly ScriptBlock _script;

        /// <summary>The result objects of the chunk being filled, by key, until it is saved.</summary>
        private readonly Dictionary<string, object?[]> _objects = new Dictionary<string, object?[]>(StringComparer.Ordinal);

        internal SaveScriptHook(ScriptBlock script) => _script = script;

        /// <summary>Keeps a key's result objects for its chunk's save (the store records an empty payload).</summary>
        internal void Hold(string key, object?[] results) => _objects[key] = results;

        /// <summary>The store's hook: runs the script over the chunk; any error it writes fails the save, as a throw does.</summary>
        internal void Save(string chunkPath, IReadOnlyList<byte[]> payloads, IReadOnlyList<string> keys)
        {
            var results = new object?[keys.Count];
            var keyArray = new string[keys.Count];
            for (int i = 0; i < keys.Count; i++)
            {
                results[i] = _objects.TryGetValue(keys[i], out object?[]? r) ? (r.Length == 1 ? r[0] : r) : null;
                keyArray[i] = keys[i];
            }

            // Keys whose results were not written must never be recorded done: Stop makes an
            // error the script only writes (a failed Set-Content) fail the save too.
            _script.InvokeWithContext(null, new List<PSVariable> { new PSVariable("ErrorActionPreference", ActionPreference.Stop) }, chunkPath, results, keyArray);
            foreach (string k in keys) _objects.Remove(k);
        }
    }
}
