using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>Reads and writes manifest.json (docs/checkpoint-format.md, "Manifest").</summary>
    internal static class ManifestFile
    {
        internal const string FormatName = "ParallelMap.Checkpoint";
        internal const int CurrentVersion = 1;

        public static byte[] Serialize(DateTime createdUtc, string fingerprint, IDictionary<string, string>? metadata)
        {
            var sb = new StringBuilder();
            sb.Append("{\n  \"format\": ");
            MiniJson.WriteString(sb, FormatName);
            sb.Append(",\n  \"version\": ").Append(CurrentVersion.ToString(CultureInfo.InvariantCulture));
            sb.Append(",\n  \"created\": ");
            MiniJson.WriteString(sb, createdUtc.ToString("o", CultureInfo.InvariantCulture));
            sb.Append(",\n  \"createdBy\": ");
            MiniJson.WriteString(sb, CreatedBy);
            sb.Append(",\n  \"fingerprint\": ");
            MiniJson.WriteString(sb, fingerprint);
            sb.Append(",\n  \"metadata\": {");
            bool first = true;
            if (metadata != null)
            {
                foreach (KeyValuePair<string, string> pair in metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    sb.Append(first ? "\n    " : ",\n    ");
                    MiniJson.WriteString(sb, pair.Key);
                    sb.Append(": ");
                    MiniJson.WriteString(sb, pair.Value);
                    first = false;
                }
            }

            sb.Append(first ? "}\n}\n" : "\n  }\n}\n");
            return DurableIo.StrictUtf8.GetBytes(sb.ToString());
        }

        /// <summary>Reads and checks the manifest; throws <see cref="CheckpointException"/> for a damaged or unknown one.</summary>
        public static CheckpointManifest Read(string path)
        {
            string text;
            try
            {
                text = DurableIo.ReadAllText(path);
            }
            catch (DecoderFallbackException)
            {
                throw CheckpointException.Corrupt(path, 0, EngineText.Format(CheckpointMessages.ManifestUnreadable, path, 0, "not UTF-8"));
            }

            object? parsed;
            try
            {
                parsed = MiniJson.Parse(text);
            }
            catch (MiniJson.JsonFormatException e)
            {
                long offset = DurableIo.StrictUtf8.GetByteCount(text.Substring(0, Math.Min(e.Offset, text.Length)));
                throw CheckpointException.Corrupt(path, offset, EngineText.Format(CheckpointMessages.ManifestUnreadable, path, offset, e.Message));
            }

            if (!(parsed is Dictionary<string, object?> root))
            {
                throw Malformed(path, "not a JSON object");
            }

            string format = root.TryGetValue("format", out object? f) && f is string fs ? fs : string.Empty;
            if (format != FormatName)
            {
                throw new CheckpointException(CheckpointErrorIds.CheckpointCorrupt, EngineText.Format(CheckpointMessages.ManifestNotCheckpoint, path, format), path);
            }

            // The version is checked before anything else it governs, so a future manifest with
            // other fields still gets the version error, not a damage error.
            if (!root.TryGetValue("version", out object? v) || !(v is long version))
            {
                throw Malformed(path, "\"version\" is missing or not an integer");
            }

            if (version != CurrentVersion)
            {
                throw new CheckpointException(
                    CheckpointErrorIds.CheckpointVersionUnsupported,
                    EngineText.Format(CheckpointMessages.ManifestVersionUnsupported, path, version, CurrentVersion),
                    path);
            }

            if (!root.TryGetValue("created", out object? c) || !(c is string createdText)
                || !DateTime.TryParse(createdText, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out DateTime created))
            {
                throw Malformed(path, "\"created\" is missing or not a date");
            }

            if (!root.TryGetValue("fingerprint", out object? fp) || !(fp is string fingerprint))
            {
                throw Malformed(path, "\"fingerprint\" is missing or not a string");
            }

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            if (root.TryGetValue("metadata", out object? m) && m != null)
            {
                if (!(m is Dictionary<string, object?> map))
                {
                    throw Malformed(path, "\"metadata\" is not an object");
                }

                foreach (KeyValuePair<string, object?> pair in map)
                {
                    if (!(pair.Value is string s))
                    {
                        throw Malformed(path, "a \"metadata\" value is not a string");
                    }

                    metadata[pair.Key] = s;
                }
            }

            string createdBy = root.TryGetValue("createdBy", out object? cb) && cb is string cbs ? cbs : string.Empty;
            return new CheckpointManifest((int)version, created.ToUniversalTime(), fingerprint, metadata, createdBy);
        }

        private static string CreatedBy
            => "ParallelMap.Engine " + typeof(ManifestFile).Assembly.GetName().Version?.ToString();

        private static CheckpointException Malformed(string path, string what)
            => CheckpointException.Corrupt(path, 0, EngineText.Format(CheckpointMessages.ManifestUnreadable, path, 0, what));
    }
}
