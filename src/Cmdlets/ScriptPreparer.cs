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

        /// <summary>Every call of a user's script block from the module's own scripts names it with this ('$__pmBlock', '__pmBlock0').</summary>
        internal const string BlockMarker = "__pmBlock";

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

        /// <summary>
        /// The script's text with each <c>$using:name</c> of this call replaced by a private variable
        /// holding the caller's value. A function's script block (<c>${function:f}</c>) gives its
        /// body, with the parameters it declares after its name as a param block.
        /// </summary>
        /// <param name="scriptBlock">The user's script block.</param>
        /// <param name="callerState">Where <c>$using:</c> values are read.</param>
        /// <param name="usingValues">Receives the private variables and their values.</param>
        /// <param name="allowEmpty">False to refuse a script with no statements (only comments or white space) with ErrorId EmptyScriptBlock.</param>
        internal static string RewriteUsing(ScriptBlock scriptBlock, SessionState callerState, Dictionary<string, object?> usingValues, bool allowEmpty = false)
        {
            Ast root = scriptBlock.Ast;
            ScriptBlockAst body;
            IReadOnlyList<ParameterAst>? functionParameters = null;
            switch (root)
            {
                case ScriptBlockAst sba:
                    body = sba;
                    break;
                case FunctionDefinitionAst fn:
                    body = fn.Body;
                    // FunctionDefinitionAst.Parameters is missing from the reference assembly.
                    functionParameters = fn.FindAll(a => a is ParameterAst && a.Parent == fn, searchNestedScriptBlocks: true).Cast<ParameterAst>().ToList();
                    break;
                default:
                    throw new CommandErrorException(new ErrorRecord(
                        new ArgumentException(UserText.Format(Strings.UnsupportedScriptBlock, root?.GetType().Name ?? "null")),
                        ErrorIds.UnsupportedScriptBlockId,
                        ErrorCategory.InvalidArgument,
                        scriptBlock));
            }

            if (!allowEmpty && IsEmpty(body, functionParameters))
            {
                throw new CommandErrorException(new ErrorRecord(new ArgumentException(Strings.EmptyScriptBlock), ErrorIds.EmptyScriptBlockId, ErrorCategory.InvalidArgument, scriptBlock));
            }

            var edits = new List<(int Start, int Length, string Replacement)>();
            foreach (Ast reference in root.FindAll(a => a is UsingExpressionAst || UsingNames.IsPrivate(a), searchNestedScriptBlocks: true))
            {
                // An outer call's private variable stands for the $using: it replaced: in a script
                // block the item hands to a call of its own, that call resolves it (issue 10).
                if (!BelongsToThisCall(reference, root)) continue;
                VariableExpressionAst variable = reference is UsingExpressionAst u ? UsingExpressionAst.ExtractUsingVariable(u) : (VariableExpressionAst)reference;
                string name = reference is UsingExpressionAst ? variable.VariablePath.UserPath : UsingNames.Decode(variable.VariablePath.UserPath);
                string privateName = UsingNames.Encode(name);
                if (!usingValues.ContainsKey(privateName))
                {
                    PSVariable? found = IsDriveReference(name)
                        ? DriveValue(callerState, name)
                        : callerState.PSVariable.Get(name);
                    if (found is null)
                    {
                        throw new CommandErrorException(new ErrorRecord(
                            new ItemNotFoundException(UserText.Format(Strings.UsingVariableNotDefined, name)),
                            ErrorIds.UsingVariableNotDefinedId,
                            ErrorCategory.ObjectNotFound,
                            name));
                    }

                    usingValues[privateName] = found.Value;
                }

                edits.Add((variable.Extent.StartOffset, variable.Extent.EndOffset - variable.Extent.StartOffset, "${" + privateName + "}"));
            }

            string result = Slice(root, edits, body.Extent);

            // A literal { ... } (or a function's body) carries its braces in the extent; a
            // [scriptblock]::Create one, parsed on its own, has no parent and no braces of its own.
            if (body.Parent is not null && result.Length >= 2 && result[0] == '{' && result[result.Length - 1] == '}')
            {
                result = result.Substring(1, result.Length - 2);
            }

            if (functionParameters is { Count: > 0 })
            {
                // 'function f($a) { }' declares its parameters outside the body; as a script they
                // are its param block.
                result = "param(" + string.Join(",\n", functionParameters.Select(p => Slice(root, edits, p.Extent))) + ")\n" + result;
            }

            return result;
        }

        /// <summary>No statements anywhere: only comments or white space (a param block or a named block counts as content).</summary>
        private static bool IsEmpty(ScriptBlockAst body, IReadOnlyList<ParameterAst>? functionParameters)
        {
            static bool Blank(NamedBlockAst? block) =>
                block is null || (block.Unnamed && block.Statements.Count == 0 && (block.Traps is null || block.Traps.Count == 0));

            return (functionParameters is null || functionParameters.Count == 0)
                && body.ParamBlock is null
                && body.UsingStatements.Count == 0
                && body.DynamicParamBlock is null
                && body.BeginBlock is null
                && Blank(body.ProcessBlock)
                && Blank(body.EndBlock)
                && CleanBlock(body) is null;
        }

        /// <summary>The clean block (PowerShell 7.3 and later), which the reference assembly does not know.</summary>
        private static NamedBlockAst? CleanBlock(ScriptBlockAst ast) =>
            ast.GetType().GetProperty("CleanBlock")?.GetValue(ast) as NamedBlockAst;

        /// <summary>The text of <paramref name="extent"/> (inside <paramref name="root"/>) with the edits that fall inside it applied.</summary>
        private static string Slice(Ast root, List<(int Start, int Length, string Replacement)> edits, IScriptExtent extent)
        {
            int origin = root.Extent.StartOffset;
            var sb = new StringBuilder(root.Extent.Text.Substring(extent.StartOffset - origin, extent.EndOffset - extent.StartOffset));
            foreach (var edit in edits.Where(e => e.Start >= extent.StartOffset && e.Start + e.Length <= extent.EndOffset).OrderByDescending(e => e.Start))
            {
                int at = edit.Start - extent.StartOffset;
                sb.Remove(at, edit.Length).Insert(at, edit.Replacement);
            }

            return sb.ToString();
        }

        /// <summary>
        /// False when the <c>$using:</c> sits in a script block that another command runs in a
        /// runspace or session of its own, which resolves <c>$using:</c> itself, in the scope it is
        /// called from: the item's. A nested block that runs in the item's own runspace
        /// (<c>Where-Object { $_ -gt $using:x }</c>, <c>&amp; { }</c>, a function) belongs to
        /// this call, as in ForEach-Object -Parallel, where such a block sees the outer values.
        /// </summary>
        private static bool BelongsToThisCall(Ast usingAst, Ast root)
        {
            for (Ast? a = usingAst.Parent; a is not null && a != root; a = a.Parent)
            {
                if (a is ScriptBlockExpressionAst block && RunsElsewhere(block)) return false;
            }

            return true;
        }

        /// <summary>Commands that always run a script-block argument elsewhere and collect its <c>$using:</c> values themselves.</summary>
        private static readonly HashSet<string> s_runElsewhere = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "Start-ThreadJob", "Start-Job", "sajb", "Invoke-ParallelMap", "Invoke-ParallelRun", "Start-ResumableBatch", "Start-RSJob",
        };

        private static readonly string[] s_forEachNames = { "ForEach-Object", "foreach", "%" };
        private static readonly string[] s_invokeCommandNames = { "Invoke-Command", "icm" };

        /// <summary>Invoke-Command runs the block elsewhere only with one of these; locally it runs it in the item's runspace.</summary>
        private static readonly string[] s_remoteParameters = { "ComputerName", "Session", "ConnectionUri", "VMId", "VMName", "ContainerId", "HostName", "SSHConnection" };

        private static readonly string[] s_remoteParameterAliases = { "Cn", "Uri", "Cu", "VMGuid" };

        private static bool RunsElsewhere(ScriptBlockExpressionAst block)
        {
            // The block may be an argument itself, a -Name:{ } argument, or inside ( ) or a list: { }, { }.
            Ast? a = block.Parent;
            while (a is CommandParameterAst || a is ArrayLiteralAst || a is ParenExpressionAst || a is CommandExpressionAst || (a is PipelineAst p && p.PipelineElements.Count == 1))
            {
                a = a.Parent;
            }

            if (a is not CommandAst command) return false;
            string? name = command.GetCommandName();
            if (string.IsNullOrEmpty(name)) return false;
            int slash = name!.LastIndexOf('\\');
            if (slash >= 0) name = name.Substring(slash + 1);
            if (s_runElsewhere.Contains(name)) return true;

            // As ForEach-Object -Parallel decides for nested ForEach-Object -Parallel calls (PowerShell's
            // ScriptBlockToPowerShellConverter.IsInForeachParallelCallingScope).
            if (s_forEachNames.Contains(name, StringComparer.OrdinalIgnoreCase)) return Binds(command, new[] { "Parallel" }, new string[0]);
            if (s_invokeCommandNames.Contains(name, StringComparer.OrdinalIgnoreCase)) return Binds(command, s_remoteParameters, s_remoteParameterAliases);
            return false;
        }

        /// <summary>True when the command, bound statically as PowerShell would, gets one of the parameters.</summary>
        private static bool Binds(CommandAst command, string[] parameters, string[] aliases)
        {
            try
            {
                StaticBindingResult bound = StaticParameterBinder.BindCommand(command, true);
                return bound.BoundParameters.Keys.Any(k => parameters.Contains(k, StringComparer.OrdinalIgnoreCase));
            }
            catch (Exception)
            {
                // The binder needs the command's metadata; without it, match the names as written
                // (a prefix of two letters or more, as PowerShell accepts).
                return command.CommandElements.OfType<CommandParameterAst>().Any(p =>
                    aliases.Contains(p.ParameterName, StringComparer.OrdinalIgnoreCase)
                    || (p.ParameterName.Length >= 2 && parameters.Any(n => n.StartsWith(p.ParameterName, StringComparison.OrdinalIgnoreCase))));
            }
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

        /// <summary>
        /// Makes the per-item code the process block, with failures reported to the relay so the
        /// pipeline survives them. What must precede the blocks (using statements, #requires, the
        /// script's attributes and param block) stays in front of them. Every piece of the user's
        /// code stays on the line it has in <paramref name="body"/> (the wrapper shares lines with
        /// it), so an error's position names the user's line, as in ForEach-Object -Parallel.
        /// </summary>
        internal static string WrapAsProcess(string body)
        {
            ScriptBlockAst ast = Parser.ParseInput(body, out _, out ParseError[] errors);
            if (errors.Length > 0)
            {
                throw new ParseException(errors);
            }

            var sb = new StringBuilder();
            int headerEnd = 0;
            if (ast.ParamBlock is ParamBlockAst paramBlock)
            {
                // The attributes ([CmdletBinding()]) precede the param block's own extent.
                sb.Append(body, 0, paramBlock.Extent.StartOffset);
                sb.Append(TakesPipelineInput(paramBlock) ? paramBlock.Extent.Text : WithPipelineParameter(paramBlock));
                headerEnd = paramBlock.Extent.EndOffset;
            }
            else if (ast.UsingStatements.Count > 0)
            {
                headerEnd = ast.UsingStatements[ast.UsingStatements.Count - 1].Extent.EndOffset;
                sb.Append(body, 0, headerEnd);

                // 'using namespace X process {' is no statement; the semicolon keeps the lines.
                sb.Append(';');
            }

            NamedBlockAst? clean = CleanBlock(ast);
            bool simple = ast.BeginBlock is null && ast.ProcessBlock is null && ast.DynamicParamBlock is null && clean is null && (ast.EndBlock is null || ast.EndBlock.Unnamed);
            if (simple)
            {
                // An unnamed block's extent begins at the param block, when there is one.
                string statements = string.Empty;
                int start = headerEnd;
                if (ast.EndBlock is not null)
                {
                    start = Math.Max(headerEnd, ast.EndBlock.Extent.StartOffset);
                    statements = body.Substring(start, Math.Max(0, ast.EndBlock.Extent.EndOffset - start));
                }

                // The guard's opening goes on the line before the first statement (the rest of the
                // '{' line, usually empty), so that line shows only the user's code; a one-line
                // block has no such line and moves down one.
                ToLineOf(sb, body, start, linesBefore: 1);
                sb.Append(Guarded(statements, ownLine: true));
                return sb.ToString();
            }

            AppendBlock(sb, body, ast.DynamicParamBlock);
            AppendBlock(sb, body, ast.BeginBlock);
            if (ast.ProcessBlock is NamedBlockAst process)
            {
                // The guard's opening replaces 'process {' on the line of its brace.
                int open = process.Extent.Text.IndexOf('{');
                ToLineOf(sb, body, process.Extent.StartOffset + Math.Max(0, open));
                sb.Append(Guarded(InnerText(process), ownLine: false));
            }

            AppendBlock(sb, body, ast.EndBlock);
            AppendBlock(sb, body, clean);
            return sb.ToString();
        }

        /// <summary>Appends a named block on the line where it starts in <paramref name="body"/>.</summary>
        private static void AppendBlock(StringBuilder sb, string body, Ast? block)
        {
            if (block is null) return;
            ToLineOf(sb, body, block.Extent.StartOffset);
            sb.Append(block.Extent.Text);
        }

        /// <summary>
        /// Ends <paramref name="sb"/> with line breaks until its next character falls on the line
        /// of <paramref name="offset"/> in <paramref name="body"/> (or <paramref name="linesBefore"/>
        /// lines above it); at least a space separates what comes next from what is there.
        /// </summary>
        private static void ToLineOf(StringBuilder sb, string body, int offset, int linesBefore = 0)
        {
            int wanted = -linesBefore;
            for (int i = 0; i < offset && i < body.Length; i++)
            {
                if (body[i] == '\n') wanted++;
            }

            int have = 0;
            for (int i = 0; i < sb.Length; i++)
            {
                if (sb[i] == '\n') have++;
            }

            if (have >= wanted)
            {
                if (sb.Length > 0) sb.Append(have > wanted ? "\n" : " ");
                return;
            }

            sb.Append('\n', wanted - have);
        }

        /// <summary>
        /// False for an advanced script ([CmdletBinding()] or a [Parameter()]) with no parameter
        /// that takes pipeline input: fed an item, PowerShell would refuse to bind it.
        /// </summary>
        private static bool TakesPipelineInput(ParamBlockAst paramBlock)
        {
            bool advanced = paramBlock.Attributes.Any(a => IsAttribute(a, "CmdletBinding"))
                || paramBlock.Parameters.Any(p => p.Attributes.OfType<AttributeAst>().Any(a => IsAttribute(a, "Parameter")));
            if (!advanced) return true;
            return paramBlock.Parameters.Any(p => p.Attributes.OfType<AttributeAst>().Any(a => IsAttribute(a, "Parameter")
                && a.NamedArguments.Any(n => (n.ArgumentName.Equals("ValueFromPipeline", StringComparison.OrdinalIgnoreCase)
                        || n.ArgumentName.Equals("ValueFromPipelineByPropertyName", StringComparison.OrdinalIgnoreCase))
                    && (n.ExpressionOmitted || !IsFalse(n.Argument)))));
        }

        /// <summary>
        /// The param block with one more parameter that takes the item, so that $_ is the item as
        /// in a plain script. Added before the closing parenthesis: the parameters keep their lines.
        /// </summary>
        private static string WithPipelineParameter(ParamBlockAst paramBlock)
        {
            string text = paramBlock.Extent.Text;
            int close = text.LastIndexOf(')');
            string added = (paramBlock.Parameters.Count > 0 ? ", " : string.Empty) + "[Parameter(ValueFromPipeline = $true)] $__pmItem";
            return text.Substring(0, close) + added + text.Substring(close);
        }

        private static bool IsAttribute(AttributeAst attribute, string name)
        {
            string n = attribute.TypeName.FullName;
            const string ns = "System.Management.Automation.";
            if (n.StartsWith(ns, StringComparison.OrdinalIgnoreCase)) n = n.Substring(ns.Length);
            return n.Equals(name, StringComparison.OrdinalIgnoreCase) || n.Equals(name + "Attribute", StringComparison.OrdinalIgnoreCase);
        }

        private static bool IsFalse(ExpressionAst e) =>
            (e is VariableExpressionAst v && v.VariablePath.UserPath.Equals("false", StringComparison.OrdinalIgnoreCase))
            || (e is ConstantExpressionAst c && c.Value is int i && i == 0);

        /// <summary>
        /// The item's code in a process block. The one-pass loop catches a 'break' or 'continue'
        /// that no loop of the item's own took (PowerShell looks for the nearest loop up the call
        /// stack, and without this one it would unwind the whole pipeline): it ends that item, as
        /// 'return' does and as in ForEach-Object -Parallel, keeping what the item wrote before it.
        /// The catch reports the terminating error that fails the item; non-terminating errors
        /// never reach it (they are forwarded and the item goes on).
        /// </summary>
        /// <param name="statements">The item's code.</param>
        /// <param name="ownLine">True to start the code on a line of its own after the guard's opening.</param>
        private static string Guarded(string statements, bool ownLine) =>
            "process { do { try {" + (ownLine ? "\n" : " ") + statements + "\n}\ncatch { $" + RelayVariable + ".Fail($_) }\n} while ($false)\n}\n";

        /// <summary>The statements of a named block, without its keyword and braces.</summary>
        private static string InnerText(NamedBlockAst block)
        {
            string t = block.Extent.Text;
            int open = t.IndexOf('{');
            int close = t.LastIndexOf('}');
            return open >= 0 && close > open ? t.Substring(open + 1, close - open - 1) : t;
        }

        /// <summary>True for <c>$using:env:HOME</c> and the like: a provider path, not a variable.</summary>
        private static bool IsDriveReference(string name)
        {
            var path = new VariablePath(name);
            return path.IsDriveQualified && !path.IsVariable;
        }
    }

}
