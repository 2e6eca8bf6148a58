using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace FastCalib.Generators;

/// <summary>
/// Reads a [RowKernel] method into a <see cref="KernelModel"/>: parameters, then statements in order, each checked
/// against the accepted subset. Everything outside it becomes a diagnostic at the offending syntax.
/// </summary>
internal sealed partial class KernelParser
{
    private const string RowsType = "FastCalib.Kernels.Rows";
    private const string ReadOnlyRowType = "FastCalib.Kernels.ReadOnlyRow";
    private const string RowType = "FastCalib.Kernels.Row";
    private const string RowFromType = "FastCalib.Kernels.RowFromAttribute";

    private static readonly HashSet<string> MathFunctions = new() { "Exp", "Log", "Sqrt", "Abs", "Min", "Max" };

    private readonly SemanticModel _model;
    private readonly List<DiagnosticInfo> _diagnostics = new();
    private readonly Dictionary<string, ParamKind> _params = new();
    private readonly Dictionary<string, bool> _locals = new(); // name -> is int
    private readonly HashSet<string> _writtenRows = new();

    private KernelParser(SemanticModel model) => _model = model;

    public static KernelModel Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var method = (IMethodSymbol)context.TargetSymbol;
        var syntax = (MethodDeclarationSyntax)context.TargetNode;
        return new KernelParser(context.SemanticModel).ParseMethod(method, syntax, cancellationToken);
    }

    private KernelModel ParseMethod(IMethodSymbol method, MethodDeclarationSyntax syntax, CancellationToken ct)
    {
        var containers = new List<ContainingType>();
        for (var type = method.ContainingType; type is not null; type = type.ContainingType)
        {
            bool partial = type.DeclaringSyntaxReferences.Any(r =>
                r.GetSyntax(ct) is TypeDeclarationSyntax t && t.Modifiers.Any(SyntaxKind.PartialKeyword));
            if (!partial || type.TypeKind != TypeKind.Class || type.IsGenericType)
                Report(Diagnostics.BadDeclaration, syntax.Identifier.GetLocation(), method.Name,
                    $"it must be declared in non-generic partial classes, and '{type.Name}' is not one");
            containers.Insert(0, new ContainingType("class", type.Name, type.IsStatic));
        }
        if (!method.IsStatic || !method.ReturnsVoid || method.IsGenericMethod)
            Report(Diagnostics.BadDeclaration, syntax.Identifier.GetLocation(), method.Name,
                "it must be a static, non-generic method returning void");

        var parameters = new List<ParamModel>();
        foreach (var p in method.Parameters)
        {
            var kind = Classify(p);
            if (kind is null)
            {
                Report(Diagnostics.BadParameter, p.Locations.FirstOrDefault() ?? syntax.GetLocation(), p.Name,
                    $"its type is '{(p.RefKind == RefKind.None ? "" : p.RefKind.ToString().ToLowerInvariant() + " ")}{p.Type.ToDisplayString()}'; use ReadOnlyRow, Row, float, in float, in int, out float, out int or ref double");
                continue;
            }
            CheckName(p.Name, p.Locations.FirstOrDefault() ?? syntax.GetLocation());
            _params[p.Name] = kind.Value;
            string rowFrom = "";
            var attribute = p.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == RowFromType);
            if (attribute is not null)
            {
                rowFrom = attribute.ConstructorArguments.FirstOrDefault().Value as string ?? "";
                if (kind != ParamKind.InRow)
                    Report(Diagnostics.BadParameter, p.Locations.FirstOrDefault() ?? syntax.GetLocation(), p.Name, "[RowFrom] applies to ReadOnlyRow inputs only");
            }
            parameters.Add(new ParamModel(p.Name, kind.Value, rowFrom));
        }
        foreach (var p in parameters.Where(p => p.RowFrom.Length > 0))
            if (!parameters.Any(q => q.Name == p.RowFrom && q.Kind == ParamKind.RowInt))
                Report(Diagnostics.BadParameter, syntax.ParameterList.GetLocation(), p.Name, $"[RowFrom(\"{p.RowFrom}\")] must name an in int parameter of the kernel");
        if (parameters.Count(p => p.Kind == ParamKind.Total) > 1)
            Report(Diagnostics.BadParameter, syntax.ParameterList.GetLocation(), parameters.Last(p => p.Kind == ParamKind.Total).Name, "a row kernel may have at most one ref double total");
        if (!parameters.Any(p => p.Kind is ParamKind.InRow or ParamKind.OutRow))
            Report(Diagnostics.BadParameter, syntax.ParameterList.GetLocation(), syntax.ParameterList.ToString(), "a row kernel needs at least one ReadOnlyRow or Row parameter");

        var stages = new List<Stage>();
        if (syntax.ExpressionBody is { } arrow)
        {
            // an expression body (=> Rows.Map(...)) is one expression statement
            var stage = ParseExpressionStatement(arrow.Expression);
            if (stage is not null) stages.Add(stage);
        }
        foreach (var statement in syntax.Body?.Statements ?? default)
        {
            ct.ThrowIfCancellationRequested();
            var stage = ParseStatement(statement);
            if (stage is not null) stages.Add(stage);
        }

        string ns = method.ContainingNamespace.IsGlobalNamespace ? "" : method.ContainingNamespace.ToDisplayString();
        return new KernelModel(ns, containers.ToEquatable(), method.Name, parameters.ToEquatable(),
            stages.ToEquatable(), _diagnostics.ToEquatable());
    }

    private static ParamKind? Classify(IParameterSymbol p)
    {
        string type = p.Type.ToDisplayString();
        return (p.RefKind, type) switch
        {
            (RefKind.None, ReadOnlyRowType) => ParamKind.InRow,
            (RefKind.None, RowType) => ParamKind.OutRow,
            (RefKind.None, "float") => ParamKind.Uniform,
            (RefKind.Out, "float") => ParamKind.OutFloat,
            (RefKind.Out, "int") => ParamKind.OutInt,
            (RefKind.Ref, "double") => ParamKind.Total,
            (RefKind.In, "float") => ParamKind.RowFloat,
            (RefKind.In, "int") => ParamKind.RowInt,
            _ => null,
        };
    }

    private Stage? ParseStatement(StatementSyntax statement)
    {
        switch (statement)
        {
            case LocalDeclarationStatementSyntax { Declaration.Variables.Count: 1 } local
                when local.Declaration.Variables[0].Initializer is { } init:
                return ParseLocal(local, local.Declaration.Variables[0], init.Value);
            case ExpressionStatementSyntax { Expression: InvocationExpressionSyntax or AssignmentExpressionSyntax } expression:
                return ParseExpressionStatement(expression.Expression);
            default:
                Report(Diagnostics.BadStatement, statement.GetLocation(), Short(statement), StatementRule);
                return null;
        }
    }

    private Stage? ParseExpressionStatement(ExpressionSyntax expression)
    {
        switch (expression)
        {
            case InvocationExpressionSyntax call:
                return ParseRowsCall(call, target: null, targetIsInt: false);
            case AssignmentExpressionSyntax assignment:
                return ParseAssignment(assignment);
            default:
                Report(Diagnostics.BadStatement, expression.GetLocation(), Short(expression), StatementRule);
                return null;
        }
    }

    private Stage? ParseLocal(LocalDeclarationStatementSyntax local, VariableDeclaratorSyntax variable, ExpressionSyntax value)
    {
        string name = variable.Identifier.Text;
        CheckName(name, variable.Identifier.GetLocation());
        var symbol = _model.GetDeclaredSymbol(variable) as ILocalSymbol;
        string type = symbol?.Type.ToDisplayString() ?? "?";
        if (type is not ("float" or "int"))
        {
            Report(Diagnostics.BadStatement, local.GetLocation(), Short(local), $"local '{name}' has type '{type}'; row kernel locals are float (or int from Rows.ArgMax)");
            return null;
        }
        bool isInt = type == "int";
        Stage? stage;
        if (value is InvocationExpressionSyntax call && IsRowsCall(call))
            stage = ParseRowsCall(call, name, isInt);
        else if (isInt)
        {
            Report(Diagnostics.BadStatement, local.GetLocation(), Short(local), $"int local '{name}' must be initialised by Rows.ArgMax");
            stage = null;
        }
        else
        {
            var body = ParseExpression(value, lambdaParams: null);
            stage = body is null ? null : new Stage(StageKind.Let, name, "", default, default, body, "", false);
        }
        _locals[name] = isInt;
        return stage;
    }

    private Stage? ParseAssignment(AssignmentExpressionSyntax assignment)
    {
        if (assignment.Left is not IdentifierNameSyntax left || !_params.TryGetValue(left.Identifier.Text, out var kind))
        {
            Report(Diagnostics.BadStatement, assignment.GetLocation(), Short(assignment), "assign out parameters or add to a ref double");
            return null;
        }
        string name = left.Identifier.Text;
        if (assignment.IsKind(SyntaxKind.SimpleAssignmentExpression) && kind == ParamKind.OutInt)
        {
            if (assignment.Right is IdentifierNameSyntax id && IsIntName(id.Identifier.Text))
                return new Stage(StageKind.AssignOut, name, "", default, default, null, id.Identifier.Text, true);
            Report(Diagnostics.BadStatement, assignment.GetLocation(), Short(assignment), $"out int '{name}' must be assigned an int local from Rows.ArgMax or an in int parameter");
            return null;
        }
        if (assignment.IsKind(SyntaxKind.SimpleAssignmentExpression) && kind == ParamKind.OutFloat)
        {
            var body = ParseExpression(assignment.Right, null);
            return body is null ? null : new Stage(StageKind.AssignOut, name, "", default, default, body, "", false);
        }
        if (assignment.IsKind(SyntaxKind.AddAssignmentExpression) && kind == ParamKind.Total)
        {
            var body = ParseExpression(assignment.Right, null);
            return body is null ? null : new Stage(StageKind.AddTotal, name, "", default, default, body, "", false);
        }
        Report(Diagnostics.BadStatement, assignment.GetLocation(), Short(assignment), "use 'outParam = value' or 'total += value'");
        return null;
    }

    private bool IsRowsCall(InvocationExpressionSyntax call) =>
        _model.GetSymbolInfo(call).Symbol is IMethodSymbol m && m.ContainingType.ToDisplayString() == RowsType;

    private Stage? ParseRowsCall(InvocationExpressionSyntax call, string? target, bool targetIsInt)
    {
        if (_model.GetSymbolInfo(call).Symbol is not IMethodSymbol method || method.ContainingType.ToDisplayString() != RowsType)
        {
            Report(Diagnostics.BadCall, call.GetLocation(), Short(call), "statements call the Rows patterns (Max, Min, Sum, ArgMax, At, Map, MapSum)");
            return null;
        }
        var args = call.ArgumentList.Arguments;
        string name = method.Name;
        bool returnsValue = name != "Map";
        if (returnsValue != (target is not null))
        {
            Report(Diagnostics.BadStatement, call.GetLocation(), Short(call), returnsValue
                ? $"the result of Rows.{name} must initialise a local"
                : "Rows.Map returns nothing; call it as a statement");
            return null;
        }
        if (name == "At")
        {
            var row = RowArgument(args[0].Expression, mustBeOutput: false);
            if (args[1].Expression is not IdentifierNameSyntax index || !IsIntName(index.Identifier.Text))
            {
                Report(Diagnostics.BadName, args[1].GetLocation(), Short(args[1]), "Rows.At takes an int local produced by Rows.ArgMax or an in int parameter");
                return null;
            }
            return row is null ? null : new Stage(StageKind.At, target!, "", new[] { row }.ToEquatable(), default, null, index.Identifier.Text, false);
        }

        var kind = name switch
        {
            "Max" => StageKind.Max,
            "Min" => StageKind.Min,
            "Sum" => StageKind.Sum,
            "ArgMax" => StageKind.ArgMax,
            "MapSum" => StageKind.MapSum,
            _ => StageKind.Map,
        };
        bool hasOutput = kind is StageKind.Map or StageKind.MapSum;
        string output = "";
        int first = 0;
        if (hasOutput)
        {
            output = RowArgument(args[0].Expression, mustBeOutput: true) ?? "";
            first = 1;
        }
        var inputs = new List<string>();
        for (int i = first; i < args.Count - 1; i++)
        {
            var input = RowArgument(args[i].Expression, mustBeOutput: false);
            if (input is not null) inputs.Add(input);
        }
        var lambdaSyntax = args[args.Count - 1].Expression;
        var (lambdaParams, bodySyntax) = lambdaSyntax switch
        {
            SimpleLambdaExpressionSyntax s => (new List<string> { s.Parameter.Identifier.Text }, s.ExpressionBody),
            ParenthesizedLambdaExpressionSyntax p => (p.ParameterList.Parameters.Select(x => x.Identifier.Text).ToList(), p.ExpressionBody),
            _ => (new List<string>(), null),
        };
        if (bodySyntax is null)
        {
            Report(Diagnostics.BadLambda, lambdaSyntax.GetLocation(), Short(lambdaSyntax), "the element function must be a lambda with an expression body, e.g. v => MathF.Exp(v - max)");
            return null;
        }
        foreach (var p in lambdaParams)
            if (_params.ContainsKey(p) || _locals.ContainsKey(p) || p.StartsWith("__"))
            {
                Report(Diagnostics.BadName, lambdaSyntax.GetLocation(), p, "this lambda parameter reuses the name of a parameter or local (or starts with the reserved '__'); give it its own name");
                return null;
            }
        var body = ParseExpression(bodySyntax, new HashSet<string>(lambdaParams));
        if (body is null || inputs.Count != args.Count - 1 - first) return null;
        if (hasOutput) _writtenRows.Add(output);
        return new Stage(kind, target ?? "", output, inputs.ToEquatable(), lambdaParams.ToEquatable(), body, "", targetIsInt);
    }

    private string? RowArgument(ExpressionSyntax expression, bool mustBeOutput)
    {
        if (expression is IdentifierNameSyntax id && _params.TryGetValue(id.Identifier.Text, out var kind)
            && kind is ParamKind.InRow or ParamKind.OutRow)
        {
            string name = id.Identifier.Text;
            if (mustBeOutput && kind != ParamKind.OutRow)
            {
                Report(Diagnostics.BadName, expression.GetLocation(), name, "it is a ReadOnlyRow; the first argument of Map and MapSum is the Row written");
                return null;
            }
            if (!mustBeOutput && kind == ParamKind.OutRow && !_writtenRows.Contains(name))
            {
                Report(Diagnostics.BadName, expression.GetLocation(), name, "this row is read before any statement writes it");
                return null;
            }
            return name;
        }
        Report(Diagnostics.BadName, expression.GetLocation(), Short(expression), "it is not a row parameter; Rows patterns take ReadOnlyRow or Row parameters of the kernel");
        return null;
    }

    /// <summary>Names the generated entry points use for their own parameters and locals (listed on RowKernelAttribute.ReservedNames).</summary>
    internal static readonly HashSet<string> Reserved = new() { "rows", "cols", "simd", "vectorWidth", "maxThreads", "stream", "accelerator", "kernel", "tile", "options", "operation" };

    private void CheckName(string name, Location location)
    {
        if (name.StartsWith("__"))
            Report(Diagnostics.BadName, location, name, "names starting with '__' are reserved for generated code");
        else if (Reserved.Contains(name))
            Report(Diagnostics.BadName, location, name, $"the name is used by the generated code; choose another (reserved: {string.Join(", ", Reserved)})");
    }

    private void Report(DiagnosticDescriptor descriptor, Location location, string subject, string rule) =>
        _diagnostics.Add(DiagnosticInfo.Of(descriptor, subject, rule, location));

    private const string StatementRule = "a row kernel is made of local declarations with an initializer, Rows.Map calls, assignments to out parameters and '+=' to a ref double";

    private static string Short(SyntaxNode node)
    {
        string text = node.ToString().Replace("\r", " ").Replace("\n", " ");
        return text.Length <= 60 ? text : text.Substring(0, 57) + "...";
    }

    internal static string FloatLiteral(float value)
    {
        if (float.IsNaN(value)) return "float.NaN";
        if (float.IsPositiveInfinity(value)) return "float.PositiveInfinity";
        if (float.IsNegativeInfinity(value)) return "float.NegativeInfinity";
        return value.ToString("R", CultureInfo.InvariantCulture) + "f";
    }
}
