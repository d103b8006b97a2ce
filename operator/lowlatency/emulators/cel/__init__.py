"""CEL validation rules (``x-kubernetes-validations``) as kube-apiserver compiles, prices and runs them.

The Kubernetes API emulator calls this when a CustomResourceDefinition is created or updated (compile every rule
against the type its schema node declares, estimate its cost) and when a custom resource, or a CRD's ``default``, is
validated (run the rules). Sources: the Kubernetes documentation on CRD validation rules ("Validation rules",
"Resource use by validation functions",
https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#validation-rules)
and the code behind it: apiextensions-apiserver ``pkg/apiserver/schema/cel`` (``compilation.go``, ``validation.go``),
k8s.io/apiserver ``pkg/cel/common/schemas.go`` (the declared types and their sizes), ``pkg/cel/library/cost.go``
(the cost of Kubernetes' own functions) and cel-go ``checker/cost.go`` (the estimator itself).

Modules: :mod:`.syntax` (parsing), :mod:`.schema_types` (the types a schema declares, with their sizes), :mod:`.cost`
(type checking and cost: :func:`.cost.compile_rule`), :mod:`.rules` (running rules: :class:`.rules.Validator`).

Compiling a rule:

* Parsing uses cel-python's CEL grammar, plus cel-go's escape rules for string literals (``'\\.'`` is "unable to
  unescape string", as cel-go says; cel-python would accept it). Syntax errors are worded ``Syntax error: ...`` at
  cel-go's position but not with ANTLR's exact text.
* Type checking covers what a schema declares: ``self`` and ``oldSelf`` have the node's type (objects with their
  properties, escaped as Kubernetes escapes them, maps, lists, strings, numbers, int-or-string as ``dyn``; at a
  resource root ``apiVersion``, ``kind`` and ``metadata.name``/``generateName`` too). Selecting a field the schema
  does not declare is ``undefined field 'x'``, an unknown identifier ``undeclared reference to 'x'``, a field of a
  scalar ``type 'int' does not support field selection``, ``==`` or ``<`` between a string, bool or bytes and a
  value of another known type ``found no matching overload``, macros need a simple variable name, and a rule must
  evaluate to a bool (a ``messageExpression`` to a string).
* Not checked: the names and argument types of functions (any call is accepted here, and one cel-python lacks, such
  as Kubernetes' ``lowerAscii``, fails when it runs), regular expressions (RE2 syntax), and the libraries' version
  gates.
* The cost is cel-go's worst-case estimate on these types: a schema string is ``maxLength`` x 4 bytes long, a list
  has ``maxItems`` items and a map ``maxProperties`` entries; without them, as many as fit in a 3 MiB request (a
  string 3 MiB, a list of strings over a million items); a map's keys count as 0 bytes (kube-apiserver declares no
  size for them). Literals, ``&&``/``||``/``?:``, comparisons and ``==`` (0.1 per byte of the shorter side),
  ``in`` (per list item), ``+`` of strings, ``matches`` ((length+1) x 0.1 x pattern length x 0.25),
  ``contains``, ``startsWith``/``endsWith``, the Kubernetes string and list functions, and the macros (``all``,
  ``exists``, ``exists_one``, ``map``, ``filter``: the range's size times the cost of one iteration, as cel-go
  expands them) follow cel-go's and Kubernetes' formulas; any other call costs 1 plus its arguments; a presence
  test (``has``) costs what its operand costs (kube-apiserver sets cel-go's presence cost to 0). This is an
  approximation of cel-go's estimator, not a port: sizes follow values through the operators and functions above,
  anything else (another function's result) has an unknown size, as in cel-go where it has no estimate. On the
  cases of kube-apiserver's own cost tests it gives their figures exactly
  (``tests/test_crd_on_emulator.py::test_the_estimate_is_kube_apiservers``); elsewhere it may differ by a few
  units per operation. A rule's cost is multiplied by how many times it can run: the product of ``maxItems``/
  ``maxProperties`` of the lists and maps above it (or, under an unbounded one, the request size over the node's
  smallest serialized size). The limits are Kubernetes': 10,000,000 per rule (and per ``messageExpression``, not
  multiplied), 100,000,000 for all the rules of a schema.

Running rules: each rule at its node, once per instance of the node (each list item, each map
value), with ``self`` bound to the node's value converted as Kubernetes converts it (declared fields only, escaped;
``null`` fields absent; ``date``/``date-time`` strings as timestamps, ``duration`` as durations, ``byte`` as bytes,
``number`` as double), evaluated by cel-python. A rule using ``oldSelf`` (a transition rule) runs only on update
where the old object has the node (correlated by property name, map key or list-map key; never through other lists
or atomic maps). Failures are worded as kube-apiserver words them: ``<path><fieldPath>: Invalid value: "<type>":
<message>`` (or ``messageExpression``'s result, ``failed rule: <rule>`` without a message; ``Forbidden``,
``Required value`` or ``Duplicate value`` with a ``reason``), evaluation errors as ``<path>: Invalid value:
"<type>": <error> evaluating rule: <message or rule>`` with cel-go's wording of the common errors (``no such key:
x``, ``no such overload``, ``division by zero``, ``integer overflow``). Validation ratcheting (GA in 1.33): on
update, a non-transition rule is not run on a value equal to its old value (kube-apiserver runs it and drops its
failure; here an evaluation error on an unchanged value is not reported either). Not modeled: the runtime cost
budget, ``optionalOldSelf``.
"""
