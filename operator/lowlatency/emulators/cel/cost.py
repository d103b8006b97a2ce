"""Type checking and cost estimation of a rule as kube-apiserver compiles it when a CRD is written.

Sources: cel-go ``checker/cost.go`` (the estimator), k8s.io/apiserver ``pkg/cel/library/cost.go`` (Kubernetes'
functions), apiextensions-apiserver ``pkg/apiserver/schema/cel/compilation.go``; see the package docstring.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from lowlatency.emulators.cel.schema_types import DYN, MAP_KEY, UNBOUNDED, DeclType, scalar
from lowlatency.emulators.cel.syntax import (
    Call,
    CompileError,
    Comprehension,
    Expr,
    Ident,
    ListLiteral,
    Literal,
    MapLiteral,
    Select,
    StructLiteral,
    mentions,
    parse,
)

PER_RULE_COST_LIMIT = 10_000_000  # apiextensions validation: StaticEstimatedCostLimit
PER_SCHEMA_COST_LIMIT = 100_000_000  # StaticEstimatedCRDCostLimit
STRING_TRAVERSAL = 0.1  # cel-go common.StringTraversalCostFactor
REGEX_LENGTH = 0.25  # cel-go common.RegexStringLengthCostFactor
LIST_CREATE_COST, MAP_CREATE_COST, STRUCT_CREATE_COST = 10, 30, 40
TYPE_NAMES = frozenset({"int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type"})


def saturated(value: float) -> int:
    """cel-go's uint64 arithmetic: never past math.MaxUint64."""
    return UNBOUNDED if value >= UNBOUNDED else int(value)


def times(size: int, factor: float) -> int:
    """SizeEstimate.MultiplyByCostFactor: rounded up."""
    return saturated(math.ceil(size * factor)) if size < UNBOUNDED else UNBOUNDED


@dataclasses.dataclass(frozen=True)
class Estimate:
    """What the checker knows of an expression: its type, its largest size and its largest cost."""

    type: DeclType
    size: int
    cost: int


BOOL, INT, STRING = scalar("bool"), scalar("int"), scalar("string")
_RESULT_KINDS = {
    "bool": {"matches", "startsWith", "endsWith", "contains", "isSorted", "isURL", "isIP", "isCIDR", "isQuantity"},
    "int": {"size", "int", "indexOf", "lastIndexOf", "getMonth", "getFullYear", "getDayOfMonth", "getDayOfWeek"},
    "string": {"string", "lowerAscii", "upperAscii", "trim", "replace", "substring", "charAt", "join", "format"},
    "double": {"double"},
    "uint": {"uint"},
    "bytes": {"bytes"},
    "duration": {"duration"},
    "timestamp": {"timestamp"},
    "type": {"type"},
}
_SCALARS = {"bool", "int", "uint", "double", "duration", "timestamp"}  # cel-go's isScalar: size 1 without a path
_COMPARABLE = {"string", "bool", "bytes"}  # types ==/< refuse to mix with another known type at compile time


class _Checker:
    def __init__(self, self_type: DeclType) -> None:
        root = Estimate(self_type, self_type.max_elements, 1)
        self.scopes: list[dict[str, Estimate]] = [{"self": root, "oldSelf": root}]
        self.problems: list[tuple[int, str]] = []

    def lookup(self, name: str) -> Estimate | None:
        return next((scope[name] for scope in reversed(self.scopes) if name in scope), None)

    def problem(self, offset: int, message: str) -> Estimate:
        self.problems.append((offset, message))
        return Estimate(DYN, UNBOUNDED, 0)

    def check(self, expr: Expr) -> Estimate:
        if isinstance(expr, Literal):
            size = len(expr.value) if expr.kind in ("string", "bytes") else 1
            return Estimate(scalar(expr.kind).sized(size), size, 0)
        if isinstance(expr, Ident):
            if (found := self.lookup(expr.name)) is not None:
                return Estimate(found.type, found.size, 1)
            if expr.name in TYPE_NAMES:
                return Estimate(scalar("type"), 1, 1)
            return self.problem(expr.offset, f"undeclared reference to '{expr.name}' (in container '')")
        if isinstance(expr, Select):
            return self.select(expr)
        if isinstance(expr, Call):
            return self.call(expr)
        if isinstance(expr, ListLiteral):
            items = [self.check(item) for item in expr.items]
            return Estimate(self.collection("list", items, None), len(items), self.total(items) + LIST_CREATE_COST)
        if isinstance(expr, MapLiteral):
            keys = [self.check(key) for key, _ in expr.entries]
            values = [self.check(value) for _, value in expr.entries]
            map_type = self.collection("map", values, keys)
            return Estimate(map_type, len(values), self.total(keys + values) + MAP_CREATE_COST)
        if isinstance(expr, StructLiteral):
            values = [self.check(value) for value in expr.values]
            return Estimate(DYN, UNBOUNDED, self.total(values) + STRUCT_CREATE_COST)
        if isinstance(expr, Comprehension):
            return self.comprehension(expr)
        raise TypeError(expr)

    @staticmethod
    def total(estimates: Sequence[Estimate]) -> int:
        return saturated(sum(estimate.cost for estimate in estimates))

    @staticmethod
    def collection(kind: str, values: Sequence[Estimate], keys: Sequence[Estimate] | None) -> DeclType:
        def joined(parts: Sequence[Estimate]) -> DeclType:
            kinds = {part.type.kind for part in parts}
            base = parts[0].type if len(kinds) == 1 else DYN
            return base.sized(max(part.size for part in parts)) if parts else DYN

        elem = joined(values)
        if kind == "list":
            return DeclType("list", len(values), 2, elem=elem)
        return DeclType("map", len(values), 2, key=joined(keys or []), elem=elem)

    def select(self, expr: Select) -> Estimate:
        operand = self.check(expr.operand)
        kind = operand.type.kind
        if kind == "object" and operand.type.fields is not None:
            field = operand.type.fields.get(expr.field)
            if field is None:
                return self.problem(expr.offset, f"undefined field '{expr.field}'")
            result = Estimate(field, field.max_elements, operand.cost + 1)
        elif kind == "map" and operand.type.elem is not None:  # no size on this path in kube-apiserver's estimator
            elem = operand.type.elem
            result = Estimate(elem, 1 if elem.kind in _SCALARS else UNBOUNDED, operand.cost + 1)
        elif kind == "dyn":
            result = Estimate(DYN, UNBOUNDED, operand.cost)
        else:
            return self.problem(expr.offset, f"type '{operand.type.name()}' does not support field selection")
        if expr.presence_test:  # kube-apiserver keeps cel-go's presence-test cost at 0 (PresenceTestHasCost(false))
            return Estimate(BOOL, 1, operand.cost)
        return result

    def call(self, expr: Call) -> Estimate:
        args = [self.check(arg) for arg in expr.args]
        namespaced = isinstance(expr.target, Ident) and self.lookup(expr.target.name) is None
        target = self.check(expr.target) if expr.target is not None and not namespaced else None
        operands = ([target] if target is not None else []) + args
        arguments = self.total(operands)
        function = expr.function
        if function in ("_&&_", "_||_"):
            return Estimate(BOOL, 1, arguments)
        if function == "_?_:_":
            condition, then, otherwise = args
            kind = then.type if then.type.kind == otherwise.type.kind else DYN
            cost = saturated(condition.cost + max(then.cost, otherwise.cost))
            return Estimate(kind, max(then.size, otherwise.size), cost)
        if function in ("_==_", "_!=_", "_<_", "_<=_", "_>_", "_>=_"):
            left, right = args
            kinds = {left.type.kind, right.type.kind}
            if "dyn" not in kinds and "null" not in kinds and len(kinds) == 2 and kinds & _COMPARABLE:
                applied = f"({left.type.name()}, {right.type.name()})"
                return self.problem(expr.offset, f"found no matching overload for '{function}' applied to '{applied}'")
            traversal = function in ("_==_", "_!=_") or kinds & {"string", "bytes", "dyn"}
            cost = times(min(left.size, right.size), STRING_TRAVERSAL) if traversal else 1
            return Estimate(BOOL, 1, saturated(cost + arguments))
        if function == "@in":
            container = args[1]
            cost = container.size if container.type.kind in ("list", "dyn") else 1
            return Estimate(BOOL, 1, saturated(cost + arguments))
        if function in ("!_", "-_", "_-_", "_*_", "_/_", "_%_"):
            kind = operands[0].type if operands[0].type.kind != "dyn" else operands[-1].type
            return Estimate(scalar(kind.kind) if kind.kind != "dyn" else DYN, 1, saturated(1 + arguments))
        if function == "_+_":
            left, right = args
            size = saturated(left.size + right.size)
            if left.type.kind in ("string", "bytes"):
                return Estimate(left.type.sized(size), size, saturated(times(size, STRING_TRAVERSAL) + arguments))
            if left.type.kind == "list":
                return Estimate(left.type.sized(size), size, saturated(1 + arguments))
            kind = left.type if left.type.kind != "dyn" else right.type
            return Estimate(scalar(kind.kind) if kind.kind != "dyn" else DYN, 1, saturated(1 + arguments))
        if function == "_[_]":
            container, _ = args
            elem = container.type.elem if container.type.kind in ("list", "map") else None
            element = elem if elem is not None else DYN
            return Estimate(element, element.max_elements, saturated(1 + arguments))
        if function == "dyn" and args:
            return Estimate(DYN, args[0].size, saturated(1 + arguments))
        return self.library_call(function, target, args, arguments)

    def library_call(self, function: str, target: Estimate | None, args: list[Estimate], arguments: int) -> Estimate:
        """Strings, regular expressions and Kubernetes' list and string functions; any other call costs 1."""
        subject = target if target is not None else (args[0] if args else None)
        size = subject.size if subject is not None else UNBOUNDED
        first = args[0].size if args else 0
        cost, result = 1, None
        if function == "matches" and args:
            subject_size = size if target is not None else first
            pattern = args[-1].size
            cost = saturated(times(saturated(subject_size + 1), STRING_TRAVERSAL) * times(pattern, REGEX_LENGTH))
        elif function in ("find", "findAll") and target is not None and args:
            cost = saturated(times(saturated(size + 1), STRING_TRAVERSAL) * times(first, REGEX_LENGTH))
            result = DeclType("list", size, 2, elem=STRING.sized(size)) if function == "findAll" else STRING.sized(size)
        elif function == "contains" and target is not None and args:
            cost = saturated(times(size, STRING_TRAVERSAL) * times(first, STRING_TRAVERSAL))
        elif function in ("startsWith", "endsWith") and args:
            cost = times(first, STRING_TRAVERSAL)
        elif function in ("isSorted", "sum", "max", "min", "indexOf", "lastIndexOf") and target is not None:
            elem = target.type.elem
            if target.type.kind == "list" and elem is not None:
                per_item = 1 + (times(elem.max_elements, STRING_TRAVERSAL) if elem.kind in ("string", "bytes") else 0)
                cost = saturated(size * per_item)
                result = elem if function in ("sum", "max", "min") else None
            else:
                cost = times(size, STRING_TRAVERSAL)
        elif function in ("lowerAscii", "upperAscii", "substring", "trim", "format") and target is not None:
            cost, result = times(size, STRING_TRAVERSAL), STRING.sized(size)
        elif function in ("replace", "split") and target is not None:
            cost = times(size, 2 * STRING_TRAVERSAL)
            result = DeclType("list", size, 2, elem=STRING.sized(size)) if function == "split" else STRING.sized(size)
        elif function == "join" and target is not None and target.type.elem is not None:
            joined = saturated(size * target.type.elem.max_elements + first * max(size - 1, 0))
            cost, result = times(joined, STRING_TRAVERSAL), STRING.sized(joined)
        elif function in ("url", "isURL", "quantity", "isQuantity", "ip", "cidr", "isIP", "isCIDR") and args:
            cost = times(first, STRING_TRAVERSAL)
        if result is None:
            kind = next((kind for kind, names in _RESULT_KINDS.items() if function in names), "dyn")
            result = scalar(kind) if kind != "dyn" else DYN
        result_size = result.max_elements if result.kind in ("string", "bytes", "list", "map") else 1
        return Estimate(result, result_size if result.kind != "dyn" else UNBOUNDED, saturated(cost + arguments))

    def comprehension(self, expr: Comprehension) -> Estimate:
        iter_range = self.check(expr.iter_range)
        range_type = iter_range.type
        if range_type.kind == "list":
            element, key = range_type.elem or DYN, INT
        elif range_type.kind == "map":
            element, key = range_type.key or MAP_KEY, range_type.key or MAP_KEY
        else:
            element, key = DYN, DYN
        if len(expr.variables) == 2:  # (index, item) of a list, (key, value) of a map
            value = range_type.elem or DYN if range_type.kind == "map" else element
            bound = {expr.variables[0]: key, expr.variables[1]: value}
        else:
            bound = {expr.variables[0]: element}
        self.scopes.append({name: Estimate(kind, kind.max_elements, 1) for name, kind in bound.items()})
        body = [self.check(part) for part in expr.body]
        self.scopes.pop()
        count = iter_range.size
        # cel-go's expansions: loop condition, step (with the accumulator, an identifier: 1) and result per macro
        if expr.macro == "all":
            step, fixed, result = 2 + 1 + body[0].cost, 1, Estimate(BOOL, 1, 0)
        elif expr.macro == "exists":
            step, fixed, result = 3 + 1 + body[0].cost, 1, Estimate(BOOL, 1, 0)
        elif expr.macro in ("exists_one", "existsOne"):
            step, fixed, result = body[0].cost + 2, 2, Estimate(BOOL, 1, 0)
        elif expr.macro == "filter":
            step, fixed = body[0].cost + 13, LIST_CREATE_COST + 1
            result = Estimate(DeclType("list", count, 2, elem=element), count, 0)
        else:  # map, with an optional filter before the transform
            transform = body[-1]
            append = 1 + 1 + LIST_CREATE_COST + transform.cost
            step = body[0].cost + append if len(body) == 2 else append
            fixed = LIST_CREATE_COST + 1
            elem = transform.type.sized(transform.size)
            result = Estimate(DeclType("list", count, 2, elem=elem), count, 0)
        cost = saturated(iter_range.cost + fixed + saturated(count * saturated(step)))
        return Estimate(result.type, result.size, cost)


def check(expr: Expr, self_type: DeclType) -> tuple[Estimate, list[tuple[int, str]]]:
    """The expression's type and worst-case cost where ``self`` (and ``oldSelf``) have ``self_type``."""
    checker = _Checker(self_type)
    return checker.check(expr), checker.problems


@dataclasses.dataclass(frozen=True)
class CompiledRule:
    """One entry of ``x-kubernetes-validations``: its error (as kube-apiserver reports it), its estimated cost
    (not yet multiplied by how often the node occurs) and whether it uses ``oldSelf``."""

    rule: Mapping[str, Any]
    error: str | None
    cost: int
    uses_old_self: bool
    message_error: str | None = None
    message_cost: int = 0


def compile_rule(rule: Mapping[str, Any], self_type: DeclType) -> CompiledRule:
    source = str(rule.get("rule", ""))
    if not source.strip():
        return CompiledRule(rule, None, 0, False)
    try:
        expr = parse(source)
    except CompileError as error:
        return CompiledRule(rule, f"compilation failed: {error.report()}", 0, False)
    estimate, problems = check(expr, self_type)
    if problems:
        return CompiledRule(rule, f"compilation failed: {CompileError(source, problems).report()}", 0, False)
    if estimate.type.kind not in ("bool", "dyn"):
        return CompiledRule(rule, "cel expression must evaluate to a bool", 0, False)
    compiled = CompiledRule(rule, None, estimate.cost, mentions(expr, "oldSelf"))
    message_expression = str(rule.get("messageExpression") or "")
    if not message_expression.strip():
        return compiled
    try:
        message, problems = check(parse(message_expression), self_type)
    except CompileError as error:
        return dataclasses.replace(compiled, message_error=f"messageExpression compilation failed: {error.report()}")
    if problems:
        report = CompileError(message_expression, problems).report()
        return dataclasses.replace(compiled, message_error=f"messageExpression compilation failed: {report}")
    if message.type.kind not in ("string", "dyn"):
        return dataclasses.replace(compiled, message_error="messageExpression must evaluate to a string")
    return dataclasses.replace(compiled, message_cost=message.cost)
