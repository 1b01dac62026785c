using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Text;

namespace ParallelMap.Commands
{
    /// <summary>
    /// Turns the user's script block into text for the runspaces: <c>$using:</c> references are
    /// resolved in the caller's scope and replaced by private variables, and a plain script becomes
    /// the process block of a long-lived pipeline, so one runspace runs item after item without a
    /// new invocation each time. A script that has its own begin/process/end blocks keeps them:
    /// begin and end then run once per runspace.
    /// </summary>
    internal static class ScriptPreparer
    {
        /// <summary>The private variable that holds the runspace's relay (the C# side of the worker).</summary>
        internal const string RelayVariable = "__pmRelay";

        internal sealed class Prepared
        {
            internal Prepared(string body, string itemScript)
            {
                Body = body;
                ItemScript = itemScript;
            }

            /// <summary>The script with <c>$using:</c> replaced, as the user wrote it otherwise.</summary>
            internal string Body { get; }

            /// <summary>The script the long-lived pipeline runs: the per-item code in a process block.</summary>
            internal string ItemScript { get; }
        }

        /// <summary>Prepares a script block; adds the <c>$using:</c> values it needs to <paramref name="usingValues"/>.</summary>
        internal static Prepared Prepare(ScriptBlock scriptBlock, SessionState callerState, Dictionary<string, object?> usingValues)
        {
            string body = RewriteUsing(scriptBlock, callerState, usingValues);
            return new Prepared(body, WrapAsProcess(body));
        }

        /// <summary>The script's text with each <c>$using:name</c> replaced by a private variable holding the caller's value.</summary>
        internal static string RewriteUsing(ScriptBlock scriptBlock, SessionState callerState, Dictionary<string, object?> usingValues)
        {
            var ast = (ScriptBlockAst)scriptBlock.Ast;
            string text = ast.Extent.Text;
            int origin = ast.Extent.StartOffset;
            var edits = new List<(int Start, int Length, string Replacement)>();
            foreach (UsingExpressionAst u in ast.FindAll(a => a is UsingExpressionAst, searchNestedScriptBlocks: true).Cast<UsingExpressionAst>())
            {
                VariableExpressionAst variable = UsingExpressionAst.ExtractUsingVariable(u);
                string name = variable.VariablePath.UserPath;
                string privateName = "__pmUsing_" + Mangle(name);
                if (!usingValues.ContainsKey(privateName))
                {
                    PSVariable? found = variable.VariablePath.IsDriveQualified && !variable.VariablePath.IsVariable
                        ? DriveValue(callerState, name)
                        : callerState.PSVariable.Get(name);
                    if (found is null)
                    {
                        throw new CommandErrorException(new ErrorRecord(
                            new ItemNotFoundException(Strings.Format(Strings.UsingVariableNotDefined, name)),
                            Strings.UsingVariableNotDefinedId,
                            ErrorCategory.ObjectNotFound,
                            name));
                    }

                    usingValues[privateName] = found.Value;
                }

                edits.Add((variable.Extent.StartOffset - origin, variable.Extent.EndOffset - variable.Extent.StartOffset, "${" + privateName + "}"));
            }

            var sb = new StringBuilder(text);
            foreach (var edit in edits.OrderByDescending(e => e.Start))
            {
                sb.Remove(edit.Start, edit.Length).Insert(edit.Start, edit.Replacement);
            }

            string result = sb.ToString();

            // A literal { ... } carries its braces in the extent; a [scriptblock]::Create one does not.
            if (ast.Parent is ScriptBlockExpressionAst && result.Length >= 2 && result[0] == '{' && result[result.Length - 1] == '}')
            {
                result = result.Substring(1, result.Length - 2);
            }

            return result;
        }

        /// <summary>A drive-qualified reference such as <c>$using:env:HOME</c>: the item's value, or null if it does not exist.</summary>
        private static PSVariable? DriveValue(SessionState state, string path)
        {
            try
            {
                var items = state.InvokeProvider.Item.Get(path);
                if (items.Count == 0) return null;
                object? value = items[0]?.BaseObject;
                if (value is System.Collections.DictionaryEntry entry) value = entry.Value;
                return new PSVariable("drive", value);
            }
            catch (Exception ex) when (ex is ItemNotFoundException || ex is DriveNotFoundException || ex is ProviderNotFoundException)
            {
                return null;
            }
        }

        /// <summary>Makes the per-item code the process block, with failures reported to the relay so the pipeline survives them.</summary>
        internal static string WrapAsProcess(string body)
        {
            ScriptBlockAst ast = Parser.ParseInput(body, out _, out ParseError[] errors);
            if (errors.Length > 0)
            {
                throw new ParseException(errors);
            }

            var sb = new StringBuilder();
            foreach (var u in ast.UsingStatements) sb.AppendLine(u.Extent.Text);
            if (ast.ParamBlock is not null) sb.AppendLine(ast.ParamBlock.Extent.Text);
            bool simple = ast.BeginBlock is null && ast.ProcessBlock is null && ast.DynamicParamBlock is null && (ast.EndBlock is null || ast.EndBlock.Unnamed);
            if (simple)
            {
                string statements = ast.EndBlock is null ? string.Empty : ast.EndBlock.Extent.Text;
                sb.Append(Guarded(statements));
                return sb.ToString();
            }

            if (ast.DynamicParamBlock is not null) sb.AppendLine(ast.DynamicParamBlock.Extent.Text);
            if (ast.BeginBlock is not null) sb.AppendLine(ast.BeginBlock.Extent.Text);
            if (ast.ProcessBlock is not null) sb.AppendLine(Guarded(InnerText(ast.ProcessBlock)));
            if (ast.EndBlock is not null) sb.AppendLine(ast.EndBlock.Extent.Text);
            return sb.ToString();
        }

        private static string Guarded(string statements) =>
            "process {\ntry {\n" + statements + "\n}\ncatch { $" + RelayVariable + ".Fail($_) }\n}\n";

        /// <summary>The statements of a named block, without its keyword and braces.</summary>
        private static string InnerText(NamedBlockAst block)
        {
            string t = block.Extent.Text;
            int open = t.IndexOf('{');
            int close = t.LastIndexOf('}');
            return open >= 0 && close > open ? t.Substring(open + 1, close - open - 1) : t;
        }

        private static string Mangle(string name)
        {
            var sb = new StringBuilder(name.Length);
            foreach (char c in name) sb.Append(char.IsLetterOrDigit(c) || c == '_' ? c : '_');
            return sb.ToString() + "_" + ((uint)StringComparer.OrdinalIgnoreCase.GetHashCode(name)).ToString("x8", System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    /// <summary>A terminating error found while preparing the run; the cmdlet throws its record.</summary>
    internal sealed class CommandErrorException : Exception
    {
        internal CommandErrorException(ErrorRecord record)
            : base(record.Exception.Message, record.Exception) => Record = record;

        internal ErrorRecord Record { get; }
    }
}
