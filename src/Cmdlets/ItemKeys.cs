using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Management.Automation;

namespace ParallelMap.Commands
{
    /// <summary>
    /// How Start-ResumableBatch finds an item's key: the item itself (a string), a property (or a
    /// hashtable entry) named by -KeyProperty, or what -KeyScript returns. Values become text as
    /// PowerShell's [string] does, in the invariant culture: a key must not change with the
    /// culture of the account that resumes the batch.
    /// </summary>
    internal sealed class ItemKeys
    {
        private readonly string? _property;
        private readonly ScriptBlock? _script;

        private ItemKeys(string? property, ScriptBlock? script)
        {
            _property = property;
            _script = script;
        }

        /// <summary>Each item is its own key, and must be a string.</summary>
        internal static ItemKeys ItemItself() => new ItemKeys(null, null);

        internal static ItemKeys ByProperty(string property) => new ItemKeys(property, null);

        internal static ItemKeys ByScript(ScriptBlock script) => new ItemKeys(null, script);

        /// <summary>
        /// The item's key, null when it has none (a null item, a missing property, a script that
        /// returns nothing); false when the item is no string and no way to key it was given.
        /// </summary>
        /// <exception cref="RuntimeException">The -KeyScript failed.</exception>
        internal bool TryGetKey(object? item, out string? key)
        {
            object? baseObject = item is PSObject pso ? pso.BaseObject : item;
            key = null;
            if (_property is not null)
            {
                if (baseObject is null) return true;
                key = baseObject is IDictionary dictionary
                    ? Text(dictionary.Contains(_property) ? dictionary[_property] : null)
                    : Text((item as PSObject ?? PSObject.AsPSObject(baseObject)).Properties[_property]?.Value);
                return true;
            }

            if (_script is not null)
            {
                var results = _script.InvokeWithContext(null, new List<PSVariable> { new PSVariable("_", item), new PSVariable("PSItem", item) });
                key = results.Count == 0 ? null : Text(results[0]);
                return true;
            }

            if (baseObject is null) return true;
            key = baseObject as string;
            return key is not null;
        }

        private static string? Text(object? value)
        {
            if (value is null || value is PSObject { BaseObject: null }) return null;
            return (string)LanguagePrimitives.ConvertTo(value, typeof(string), CultureInfo.InvariantCulture);
        }
    }
}
