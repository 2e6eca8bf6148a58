using System.Collections.Generic;
using System.Globalization;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace FastCalib.Generators;

// Expressions: the subset of C# accepted in element functions and per-row statements.
internal sealed partial class KernelParser
{
    /// <summary>Converts an expression; <paramref name="lambdaParams"/> is null outside element functions.</summary>
    private Expr? ParseExpression(ExpressionSyntax syntax, HashSet<string>? lambdaParams)
    {
        var constant = _model.GetConstantValue(syntax);
        if (constant.HasValue && constant.Value is float or double or int or long)
            return Expr.Leaf(ExprKind.Literal, FloatLiteral(System.Convert.ToSingle(constant.Value, CultureInfo.InvariantCulture)));

        switch (syntax)
        {
            case ParenthesizedExpressionSyntax p:
                return ParseExpression(p.Expression, lambdaParams);
            case PrefixUnaryExpressionSyntax u when u.IsKind(SyntaxKind.UnaryMinusExpression):
                return Unary(ExprKind.Negate, u.Operand, lambdaParams, wantBoolean: false);
            case PrefixUnaryExpressionSyntax u when u.IsKind(SyntaxKind.UnaryPlusExpression):
                return ParseExpression(u.Operand, lambdaParams);
            case PrefixUnaryExpressionSyntax u when u.IsKind(SyntaxKind.LogicalNotExpression):
                return Unary(ExprKind.Not, u.Operand, lambdaParams, wantBoolean: true);
            case BinaryExpressionSyntax b:
                return Binary(b, lambdaParams);
            case ConditionalExpressionSyntax c:
            {
                var condition = ParseExpression(c.Condition, lambdaParams);
                var whenTrue = ParseExpression(c.WhenTrue, lambdaParams);
                var whenFalse = ParseExpression(c.WhenFalse, lambdaParams);
                if (condition is null || whenTrue is null || whenFalse is null) return null;
                if (!condition.IsBoolean || whenTrue.IsBoolean || whenFalse.IsBoolean)
                    return Unsupported(c, "a conditional needs a comparison as its condition and numbers in both branches");
                return new Expr(ExprKind.Conditional, "?:", new[] { condition, whenTrue, whenFalse }.ToEquatable());
            }
            case InvocationExpressionSyntax call:
                return Call(call, lambdaParams);
            case IdentifierNameSyntax id:
                return Name(id, lambdaParams);
            default:
                return Unsupported(syntax, "allowed are float literals and constants, parameters, locals, + - * /, unary minus, comparisons and && || ! inside c ? a : b, and MathF.Exp/Log/Sqrt/Abs/Min/Max");
        }
    }

    private Expr? Unary(ExprKind kind, ExpressionSyntax operand, HashSet<string>? lambdaParams, bool wantBoolean)
    {
        var inner = ParseExpression(operand, lambdaParams);
        if (inner is null) return null;
        if (inner.IsBoolean != wantBoolean)
            return Unsupported(operand, wantBoolean ? "'!' applies to comparisons" : "unary minus applies to numbers");
        return new Expr(kind, "", new[] { inner }.ToEquatable());
    }

    /// <summary>An int local (from Rows.ArgMax) or an in int parameter.</summary>
    private bool IsIntName(string name) =>
        (_locals.TryGetValue(name, out bool isInt) && isInt) || (_params.TryGetValue(name, out var kind) && kind == ParamKind.RowInt);

    private Expr? Binary(BinaryExpressionSyntax b, HashSet<string>? lambdaParams)
    {
        string op = b.OperatorToken.Text;
        // ints compare only with each other, by == and !=, outside element functions (e.g. predicted == label)
        if (op is "==" or "!=" && b.Left is IdentifierNameSyntax li && b.Right is IdentifierNameSyntax ri
            && IsIntName(li.Identifier.Text) && IsIntName(ri.Identifier.Text))
        {
            if (lambdaParams is not null)
                return Unsupported(b, "int comparisons belong in per-row statements, not in element functions");
            return new Expr(ExprKind.IntCompare, op, new[] { Expr.Leaf(ExprKind.Name, li.Identifier.Text), Expr.Leaf(ExprKind.Name, ri.Identifier.Text) }.ToEquatable());
        }
        bool arithmetic = op is "+" or "-" or "*" or "/";
        bool comparison = op is "<" or "<=" or ">" or ">=" or "==" or "!=";
        bool logical = op is "&&" or "||";
        if (!arithmetic && !comparison && !logical)
            return Unsupported(b, $"operator '{op}' is not in the subset (+ - * / < <= > >= == != && ||)");
        var left = ParseExpression(b.Left, lambdaParams);
        var right = ParseExpression(b.Right, lambdaParams);
        if (left is null || right is null) return null;
        if (left.IsBoolean != logical || right.IsBoolean != logical)
            return Unsupported(b, logical ? $"'{op}' combines comparisons" : $"'{op}' applies to numbers");
        return new Expr(ExprKind.Binary, op, new[] { left, right }.ToEquatable());
    }

    private Expr? Call(InvocationExpressionSyntax call, HashSet<string>? lambdaParams)
    {
        if (_model.GetSymbolInfo(call).Symbol is not IMethodSymbol m
            || m.ContainingType.ToDisplayString() != "System.MathF" || !MathFunctions.Contains(m.Name))
        {
            Report(Diagnostics.BadCall, call.GetLocation(), Short(call), "row kernel expressions may call MathF.Exp, Log, Sqrt, Abs, Min and Max");
            return null;
        }
        var args = new List<Expr>();
        foreach (var arg in call.ArgumentList.Arguments)
        {
            var e = ParseExpression(arg.Expression, lambdaParams);
            if (e is null) return null;
            if (e.IsBoolean) return Unsupported(arg.Expression, "math functions take numbers");
            args.Add(e);
        }
        return new Expr(ExprKind.Call, m.Name, args.ToEquatable());
    }

    private Expr? Name(IdentifierNameSyntax id, HashSet<string>? lambdaParams)
    {
        string name = id.Identifier.Text;
        if (lambdaParams is not null && lambdaParams.Contains(name)) return Expr.Leaf(ExprKind.Name, name);
        if (_locals.TryGetValue(name, out bool isInt))
        {
            if (!isInt) return Expr.Leaf(ExprKind.Name, name);
            Report(Diagnostics.BadName, id.GetLocation(), name, "an int local can only be passed to Rows.At, compared with == or != to another int, or assigned to an out int");
            return null;
        }
        if (_params.TryGetValue(name, out var kind))
        {
            if (kind == ParamKind.Uniform) return Expr.Leaf(ExprKind.Name, name);
            if (kind == ParamKind.RowFloat)
            {
                if (lambdaParams is null) return Expr.Leaf(ExprKind.Name, name);
                Report(Diagnostics.BadName, id.GetLocation(), name, $"a per-row input cannot be used in an element function; copy it into a local first (float v = {name};)");
                return null;
            }
            if (kind == ParamKind.RowInt)
            {
                Report(Diagnostics.BadName, id.GetLocation(), name, "an in int can only be passed to Rows.At, compared with == or != to another int, or assigned to an out int");
                return null;
            }
            Report(Diagnostics.BadName, id.GetLocation(), name, kind is ParamKind.InRow or ParamKind.OutRow
                ? "a row cannot be used as a value; read its elements through a Rows pattern's lambda"
                : "it is an output and cannot be read");
            return null;
        }
        Report(Diagnostics.BadName, id.GetLocation(), name, "it is not a parameter, local or lambda parameter of this kernel");
        return null;
    }

    private Expr? Unsupported(SyntaxNode node, string why)
    {
        Report(Diagnostics.BadExpression, node.GetLocation(), Short(node), why);
        return null;
    }
}
