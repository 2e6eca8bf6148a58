using System;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;

namespace FastCalib.Generators;

/// <summary>
/// Writes a kernel expression as C# for one execution model: scalar (CPU with MathF, or GPU with GpuMath) or
/// vector (Vector128/256/512 with SimdMath). <c>name</c> maps each identifier to the variable that holds it there.
/// </summary>
internal static class ExprEmitter
{
    public static string Scalar(Expr e, Func<string, string> name, string math) => e.Kind switch
    {
        ExprKind.Literal => e.Text,
        ExprKind.Name => name(e.Text),
        ExprKind.Negate => $"(-{Scalar(e.Args[0], name, math)})",
        ExprKind.Not => $"(!{Scalar(e.Args[0], name, math)})",
        ExprKind.Binary => $"({Scalar(e.Args[0], name, math)} {e.Text} {Scalar(e.Args[1], name, math)})",
        ExprKind.Call => $"{math}.{e.Text}({string.Join(", ", e.Args.Select(a => Scalar(a, name, math)))})",
        ExprKind.Conditional => $"({Scalar(e.Args[0], name, math)} ? {Scalar(e.Args[1], name, math)} : {Scalar(e.Args[2], name, math)})",
        ExprKind.IntCompare => $"({name(e.Args[0].Text)} {e.Text} {name(e.Args[1].Text)})",
        _ => throw new InvalidOperationException(e.Kind.ToString()),
    };

    /// <param name="normal">Names known, where this expression's value is used, to be a normal positive float or +∞.</param>
    public static string Vector(Expr e, Func<string, string> name, int width, ImmutableHashSet<string>? normal = null)
    {
        normal ??= ImmutableHashSet<string>.Empty;
        string v = Names.Vector(width);
        string Arg(int i) => Vector(e.Args[i], name, width, normal);
        switch (e.Kind)
        {
            case ExprKind.Literal: return $"{v}.Create({e.Text})";
            case ExprKind.Name: return name(e.Text);
            case ExprKind.Negate: return $"(-{Arg(0)})";
            case ExprKind.Not: return $"{v}.OnesComplement({Arg(0)})";
            case ExprKind.Conditional:
            {
                string whenTrue = Vector(e.Args[1], name, width, NormalWhenTrue(e, normal));
                // c ? a : 0 and c ? 0 : b are masks (+0 is all bits clear): one AND instead of the blend, or the three
                // bitwise operations the JIT otherwise emits for a select against zero
                if (IsZero(e.Args[2])) return $"({Arg(0)} & {whenTrue})";
                if (IsZero(e.Args[1])) return $"{v}.AndNot({Arg(2)}, {Arg(0)})";
                return $"{v}.ConditionalSelect({Arg(0)}, {whenTrue}, {Arg(2)})";
            }
            case ExprKind.IntCompare:
            {
                string equal = $"{v}.AsSingle({v}.Equals({name(e.Args[0].Text)}, {name(e.Args[1].Text)}))";
                return e.Text == "==" ? equal : $"{v}.OnesComplement({equal})";
            }
            case ExprKind.Call:
                return e.Text switch
                {
                    "Exp" => $"{Names.SimdMath(width)}.Exp({Arg(0)})",
                    "Log" when e.Args[0].Kind == ExprKind.Name && normal.Contains(e.Args[0].Text) => $"{Names.SimdMath(width)}.LogOfNormal({Arg(0)})",
                    "Log" => $"{Names.SimdMath(width)}.Log({Arg(0)})",
                    "Min" or "Max" => $"{v}.{e.Text}({Arg(0)}, {Arg(1)})",
                    _ => $"{v}.{e.Text}({Arg(0)})",
                };
            case ExprKind.Binary:
                return e.Text switch
                {
                    "+" or "-" or "*" or "/" => $"({Arg(0)} {e.Text} {Arg(1)})",
                    "&&" => $"({Arg(0)} & {Arg(1)})",
                    "||" => $"({Arg(0)} | {Arg(1)})",
                    "<" => $"{v}.LessThan({Arg(0)}, {Arg(1)})",
                    "<=" => $"{v}.LessThanOrEqual({Arg(0)}, {Arg(1)})",
                    ">" => $"{v}.GreaterThan({Arg(0)}, {Arg(1)})",
                    ">=" => $"{v}.GreaterThanOrEqual({Arg(0)}, {Arg(1)})",
                    "==" => $"{v}.Equals({Arg(0)}, {Arg(1)})",
                    "!=" => $"{v}.OnesComplement({v}.Equals({Arg(0)}, {Arg(1)}))",
                    _ => throw new InvalidOperationException(e.Text),
                };
            default:
                throw new InvalidOperationException(e.Kind.ToString());
        }
    }

    /// <summary>
    /// The names known to be normal in the true branch of the conditional <paramref name="e"/>: the lanes that take the
    /// true branch of x >= c (c at least the smallest normal float) hold a normal x or +inf there, so a logarithm of x
    /// in that branch skips the subnormal and special-value work.
    /// </summary>
    public static ImmutableHashSet<string> NormalWhenTrue(Expr e, ImmutableHashSet<string>? normal = null)
    {
        normal ??= ImmutableHashSet<string>.Empty;
        return NormalWhenTrue(e.Args[0]) is { } guarded ? normal.Add(guarded) : normal;
    }

    /// <summary>Whether the expression is the literal +0.</summary>
    public static bool IsZero(Expr e) => e.Kind == ExprKind.Literal && e.Text == "0f";

    /// <summary>The smallest normal float, 2^-126.</summary>
    private const float SmallestNormal = 1.17549435e-38f;

    /// <summary>x when <paramref name="condition"/> is x &gt;= c or x &gt; c with a literal c ≥ 2^-126 (true only for normal positive x and +∞).</summary>
    private static string? NormalWhenTrue(Expr condition)
    {
        if (condition.Kind != ExprKind.Binary || condition.Text is not (">=" or ">")) return null;
        var (x, c) = (condition.Args[0], condition.Args[1]);
        if (x.Kind != ExprKind.Name || c.Kind != ExprKind.Literal) return null;
        string text = c.Text.EndsWith("f", StringComparison.Ordinal) ? c.Text.Substring(0, c.Text.Length - 1) : c.Text;
        return float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float bound) && bound >= SmallestNormal
            ? x.Text
            : null;
    }
}
