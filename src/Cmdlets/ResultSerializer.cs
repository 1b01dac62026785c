using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq.Expressions;
using System.Management.Automation;
using System.Reflection;
using System.Text;

namespace ParallelMap.Commands
{
    /// <summary>
    /// Turns an item's results into the CliXml bytes a checkpoint stores. Runs on the worker's
    /// thread, so the pipeline thread only records. A single string or integer (the common case of
    /// a batch that returns a status or a path) is written directly as the CliXml PowerShell itself
    /// writes for it, which costs a fraction of PSSerializer's per-call set-up; anything else goes
    /// through PSSerializer, the same format Export-Clixml writes. A big result is written as
    /// several such documents back to back (<see cref="SpillingResult"/>), which
    /// <see cref="Deserialize"/> reads as one sequence.
    /// </summary>
    internal static class ResultSerializer
    {
        private const string Head = "<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\">";
        private const string Tail = "</Objs>";

        /// <summary>
        /// The comment a payload made on a remote host starts with, naming the host (escaped so it
        /// holds no "--"). An XML comment before the document, so any CliXml reader, an older
        /// Receive-ResumableBatch included, reads the payload as before.
        /// </summary>
        private const string OriginHead = "<!--PSComputerName=";
        private const string OriginTail = "-->";

        internal static byte[] Serialize(object?[] results, int depth)
        {
            if (results.Length == 1 && TryPrimitive(results[0], out string? xml)) return Encoding.UTF8.GetBytes(xml!);
            return Encoding.UTF8.GetBytes(PSSerializer.Serialize(results, depth));
        }

        /// <summary>
        /// A payload that says which host made it (<paramref name="computerName"/>; null: this
        /// machine, the payload unchanged), so that a key's host is kept in the checkpoint even
        /// when it returned nothing (its outputs carry PSComputerName too).
        /// </summary>
        internal static byte[] WithOrigin(string? computerName, byte[] payload)
        {
            if (computerName is null) return payload;
            byte[] head = Encoding.UTF8.GetBytes(OriginHead + Uri.EscapeDataString(computerName).Replace("-", "%2D") + OriginTail);
            var whole = new byte[head.Length + payload.Length];
            Buffer.BlockCopy(head, 0, whole, 0, head.Length);
            Buffer.BlockCopy(payload, 0, whole, head.Length, payload.Length);
            return whole;
        }

        /// <summary>The host a payload names (<see cref="WithOrigin"/>), or null; <paramref name="start"/> is where its documents begin.</summary>
        internal static string? OriginOf(string text, out int start)
        {
            start = 0;
            if (!text.StartsWith(OriginHead, StringComparison.Ordinal)) return null;
            int end = text.IndexOf(OriginTail, OriginHead.Length, StringComparison.Ordinal);
            if (end < 0) return null;
            start = end + OriginTail.Length;
            return Uri.UnescapeDataString(text.Substring(OriginHead.Length, end - OriginHead.Length));
        }

        /// <summary>
        /// A recorded payload's objects, in the order they were written: each CliXml document in
        /// it, one after another, with the host the payload names (null: this machine). Splitting
        /// at the closing tag is safe: in CliXml text, '&lt;' is always escaped, so "&lt;/Objs&gt;"
        /// appears only where a document ends.
        /// </summary>
        internal static List<object?> Deserialize(byte[] payload, out string? computerName)
        {
            string text = Encoding.UTF8.GetString(payload);
            var items = new List<object?>();
            computerName = OriginOf(text, out int start);
            while (start < text.Length)
            {
                int end = text.IndexOf(Tail, start, StringComparison.Ordinal);
                end = end < 0 ? text.Length : end + Tail.Length;
                object? value = PSSerializer.Deserialize(text.Substring(start, end - start));
                IEnumerable? e = LanguagePrimitives.GetEnumerable(value is PSObject p ? p.BaseObject : value);
                if (e is null)
                {
                    items.Add(value);
                }
                else
                {
                    foreach (object? o in e) items.Add(o);
                }

                start = end;
                while (start < text.Length && char.IsWhiteSpace(text[start])) start++;
            }

            return items;
        }

        private static bool TryPrimitive(object? value, out string? xml)
        {
            xml = null;
            switch (value)
            {
                case string s when IsPlain(s):
                    xml = Head + "<S>" + Escape(s) + "</S>" + Tail;
                    return true;
                case int i:
                    xml = Head + "<I32>" + i.ToString(CultureInfo.InvariantCulture) + "</I32>" + Tail;
                    return true;
                case long l:
                    xml = Head + "<I64>" + l.ToString(CultureInfo.InvariantCulture) + "</I64>" + Tail;
                    return true;
                case PSObject p when (p.BaseObject is string || p.BaseObject is int || p.BaseObject is long) && !HasExtendedMembers(p):
                    return TryPrimitive(p.BaseObject, out xml);
                default:
                    return false;
            }
        }

        /// <summary>
        /// True when the wrapper carries members of its own (a Get-Content line's PSPath, say): the
        /// serializer must keep them. Only instance members count: CliXml writes a string's or a
        /// number's type-data members nowhere, so they cannot change the bytes.
        /// </summary>
        private static bool HasExtendedMembers(PSObject p) =>
            InstanceMemberProbe is Func<object, bool> probe ? probe(p) : HasMembersByMatch(p);

        /// <summary>The public way: 3.7 us a call, as it gathers every member of the type first.</summary>
        private static bool HasMembersByMatch(PSObject p) =>
            p.Properties.Match("*", PSMemberTypes.NoteProperty | PSMemberTypes.AliasProperty | PSMemberTypes.ScriptProperty | PSMemberTypes.CodeProperty).Count > 0;

        /// <summary>
        /// PowerShell 7's own instance-member test (internal <c>PSObject.HasInstanceMembers</c>, what
        /// its serializer asks), compiled once: tens of nanoseconds instead of microseconds. Null
        /// where it is missing or does not answer as the public way does, as in Windows PowerShell
        /// 5.1; the public way is used there.
        /// </summary>
        internal static readonly Func<object, bool>? InstanceMemberProbe = BuildInstanceMemberProbe();

        private static Func<object, bool>? BuildInstanceMemberProbe()
        {
            try
            {
                MethodInfo? method = typeof(PSObject).GetMethod("HasInstanceMembers", BindingFlags.NonPublic | BindingFlags.Static);
                ParameterInfo[]? parameters = method?.GetParameters();
                if (method is null || method.ReturnType != typeof(bool) || parameters!.Length != 2
                    || parameters[0].ParameterType != typeof(object) || !parameters[1].ParameterType.IsByRef)
                {
                    return null;
                }

                Type collection = parameters[1].ParameterType.GetElementType()!;
                PropertyInfo? count = collection.GetProperty("Count", BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance);
                if (count is null || count.PropertyType != typeof(int)) return null;

                // (object o) => { C members; return PSObject.HasInstanceMembers(o, out members) && members != null && members.Count > 0; }
                ParameterExpression value = Expression.Parameter(typeof(object), "value");
                ParameterExpression members = Expression.Variable(collection, "members");
                var body = Expression.Block(
                    new[] { members },
                    Expression.AndAlso(
                        Expression.AndAlso(Expression.Call(method, value, members), Expression.NotEqual(members, Expression.Constant(null, collection))),
                        Expression.GreaterThan(Expression.Property(members, count), Expression.Constant(0))));
                Func<object, bool> probe = Expression.Lambda<Func<object, bool>>(body, value).Compile();

                // Trusted only if it agrees with the public way on a bare and a decorated wrapper.
                // Fresh strings: members added to a wrapper of a shared (interned) string would
                // show on every wrapper of that string.
                var bare = PSObject.AsPSObject(new string('p', 1));
                var decorated = new PSObject(new string('q', 1));
                decorated.Properties.Add(new PSNoteProperty("Tag", 1));
                bool agrees = !probe(bare) && probe(decorated) && !HasMembersByMatch(bare) && HasMembersByMatch(decorated);
                return agrees ? probe : null;
            }
            catch (Exception)
            {
                return null;
            }
        }

        /// <summary>Only text PowerShell writes unchanged: no control characters, surrogates or '_' (its _xHHHH_ escape).</summary>
        private static bool IsPlain(string s)
        {
            foreach (char c in s)
            {
                if (c < 0x20 || c == '_' || (c >= 0xD800 && c <= 0xDFFF) || c >= 0xFFFE) return false;
            }

            return true;
        }

        private static string Escape(string s)
        {
            if (s.IndexOfAny(new[] { '&', '<', '>' }) < 0) return s;
            return s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;");
        }
    }
}
