using System;
using System.Globalization;
using System.Management.Automation.Language;
using System.Text;

namespace ParallelMap.Commands
{
    /// <summary>
    /// The private variables that stand for <c>$using:</c> references in the runspaces. The name
    /// encodes the referenced variable reversibly, so that a nested call can tell which
    /// <c>$using:</c> an outer call replaced. That matters for a script block the item keeps in a
    /// variable and hands to a call of its own (<c>$sb = { $using:x }; 1 | Invoke-ParallelMap $sb</c>):
    /// the outer call cannot know, when it rewrites the text, that <c>$sb</c> will run in another
    /// call, so it replaces the <c>$using:</c> as for <c>&amp; $sb</c>; the inner call then finds its
    /// private variable and resolves it again, in the scope it is called from, as ForEach-Object
    /// -Parallel resolves each <c>$using:</c> for the call that runs it.
    /// </summary>
    internal static class UsingNames
    {
        /// <summary>What every such variable's name begins with.</summary>
        internal const string Prefix = "__pmUsing_";

        /// <summary>The private name for <c>$using:<paramref name="name"/></c>: letters and digits kept, any other character as _ and four hex digits.</summary>
        internal static string Encode(string name)
        {
            var sb = new StringBuilder(Prefix, Prefix.Length + name.Length);
            foreach (char c in name)
            {
                if (c < 128 && char.IsLetterOrDigit(c)) sb.Append(c);
                else sb.Append('_').Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
            }

            return sb.ToString();
        }

        /// <summary>The variable name a private name stands for (the inverse of <see cref="Encode"/>).</summary>
        internal static string Decode(string privateName)
        {
            var sb = new StringBuilder(privateName.Length);
            for (int i = Prefix.Length; i < privateName.Length; i++)
            {
                char c = privateName[i];
                if (c == '_' && i + 4 < privateName.Length
                    && int.TryParse(privateName.Substring(i + 1, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int code))
                {
                    sb.Append((char)code);
                    i += 4;
                }
                else
                {
                    sb.Append(c);
                }
            }

            return sb.ToString();
        }

        /// <summary>True for a reference to such a private variable (<c>${__pmUsing_x}</c>).</summary>
        internal static bool IsPrivate(Ast ast) =>
            ast is VariableExpressionAst v
            && !(v.Parent is UsingExpressionAst)
            && v.VariablePath.IsUnqualified
            && v.VariablePath.UserPath.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase)
            && v.VariablePath.UserPath.Length > Prefix.Length;
    }
}
