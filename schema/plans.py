"""Compiled plans for query documents the server has already answered once.

graphql-core completes one field of one object at a time: on the Order Center page about
2,200 of them, each through Strawberry's resolver wrapper, a new info object and an
awaitable check, which was half the CPU of a request. A plan resolves each field of the
selection for every object at that place in the answer at once: a plain attribute read
where the field has no resolver, one call of the resolver per object where it has, with
the leaf serializers and the argument conversion chosen when the plan is built.

A plan only takes the happy path. Anything else (an exception from a resolver, a null
where the schema says non-null, a value of an unexpected type, variables that do not
coerce, a refused cost) sends the request to the generic executor, which answers it
exactly as it always has; queries change nothing, so running one again is safe.
Documents with directives or introspection are never compiled; an interface's value
(``node``/``nodes``) is completed with the selection of the type each object is. A
document is compiled only once the generic executor has answered it without an error, so
parsing, validation and the document limits have all been passed.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeAlias, TypeGuard, cast

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLBoolean,
    GraphQLError,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLSchema,
    GraphQLString,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_operation_ast,
    is_abstract_type,
    is_leaf_type,
    parse,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.pyutils import Path
from strawberry.schema.schema_converter import CustomGraphQLEnumType, get_arguments
from strawberry.types import ExecutionResult
from strawberry.types.field import StrawberryField

import internals
from schema import sql_plans
from schema.bounded import WeighedLRU
from schema.common import Loaded
from schema.cost import operation_cost, sizing_variables
from schema.documents import Documents, estimated_bytes
from schema.limits import charge, cost_results

if TYPE_CHECKING:
    import strawberry

    from resolvers.context import Context
    from schema.limits import Limits

log = logging.getLogger("ordercenter.plans")

MAX_PLANS = 256
PLAN_BYTES = 8 * 1024 * 1024  # see schema.documents.CACHE_BYTES
COSTS_PER_PLAN = 64
MAX_REMEMBERED_VARIABLES_BYTES = 512
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


class NotCompilable(Exception):
    """The document uses something plans do not do; the generic executor runs it."""


class Detour(Exception):
    """This request left the happy path; the generic executor answers it."""


@dataclass(slots=True)
class Leaf:
    nullable: bool
    serialize: Callable[[Any], Any]


@dataclass(slots=True)
class ListOf:
    nullable: bool
    item: Completion


@dataclass(slots=True)
class Selection:
    nullable: bool
    keys: tuple[str, ...]
    typename_keys: tuple[str, ...]
    type_name: str
    steps: list[FieldStep]
    is_type_of: Callable[[Any, Any], Any] | None
    # Instances of the type's own class pass is_type_of without asking it.
    origin: type | None


@dataclass(slots=True)
class OneOf:
    """An interface's value: completed with the selection of the type it is."""

    nullable: bool
    by_name: dict[str, Selection]  # every type it may be, by GraphQL name
    by_class: dict[type, Selection]  # the same, by the Strawberry class of its objects


Completion: TypeAlias = Leaf | ListOf | Selection | OneOf


@dataclass(slots=True, eq=False)
class FieldStep:
    """One response key of a selection: how to get its values and how to complete them."""

    key: str
    attribute: str | None  # a field without resolver: read this attribute
    field: StrawberryField
    definition: GraphQLField
    nodes: list[FieldNode]
    parent: GraphQLObjectType
    completion: Completion
    has_arguments: bool
    is_async: bool
    # A field written with schema.common.loaded: resolved for all objects by one load each.
    loaded: Loaded | None


def _leaf_serializer(leaf_type: Any) -> Callable[[Any], Any]:
    """The type's own serializer, with the common cases answered without a call into it."""
    serialize: Callable[[Any], Any] = leaf_type.serialize

    def checked(value: Any) -> Any:
        result = serialize(value)
        if result is None:
            raise Detour
        return result

    if isinstance(leaf_type, CustomGraphQLEnumType):
        names = {member.value: name for name, member in leaf_type.values.items()}
        enum_class = cast(type[Enum], leaf_type.wrapped_cls)

        def enum_name(value: Any) -> Any:
            if isinstance(value, enum_class):
                return names[value.value]
            return checked(value)

        return enum_name
    exact: type | None = {
        GraphQLString.name: str,
        GraphQLID.name: str,
        GraphQLBoolean.name: bool,
    }.get(leaf_type.name)
    if leaf_type.name == GraphQLInt.name:

        def int_value(value: Any) -> Any:
            if type(value) is int and _INT_MIN <= value <= _INT_MAX:
                return value
            return checked(value)

        return int_value
    if exact is not None:
        exact_type = exact

        def same(value: Any) -> Any:
            if type(value) is exact_type:
                return value
            return checked(value)

        return same
    return checked


class _Compiler:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.schema = schema
        self.fragments = fragments

    def completion(self, output: GraphQLOutputType, nodes: list[FieldNode]) -> Completion:
        nullable = True
        if isinstance(output, GraphQLNonNull):
            nullable = False
            output = output.of_type
        if isinstance(output, GraphQLList):
            return ListOf(nullable, self.completion(output.of_type, nodes))
        if is_leaf_type(output):
            return Leaf(nullable, _leaf_serializer(output))
        sets = [n.selection_set for n in nodes if n.selection_set]
        if isinstance(output, GraphQLInterfaceType):
            return self.one_of(output, sets, nullable)
        if not isinstance(output, GraphQLObjectType):
            raise NotCompilable(f"abstract type {output}")
        return self.selection(output, sets, nullable)

    def one_of(
        self, interface: GraphQLInterfaceType, sets: list[SelectionSetNode], nullable: bool
    ) -> OneOf:
        by_name: dict[str, Selection] = {}
        by_class: dict[type, Selection] = {}
        for object_type in self.schema.get_possible_types(interface):
            selection = self.selection(object_type, sets, nullable)
            if selection.origin is None:
                raise NotCompilable(f"{object_type.name} has no Strawberry class")
            by_name[object_type.name] = by_class[selection.origin] = selection
        return OneOf(nullable, by_name, by_class)

    def selection(
        self, object_type: GraphQLObjectType, sets: list[SelectionSetNode], nullable: bool
    ) -> Selection:
        grouped: dict[str, list[FieldNode]] = {}
        for selection_set in sets:
            self._collect(object_type, selection_set, grouped, set())
        steps: list[FieldStep] = []
        typename_keys: list[str] = []
        for key, nodes in grouped.items():
            name = nodes[0].name.value
            if name == "__typename":
                typename_keys.append(key)
                continue
            if name.startswith("__"):
                raise NotCompilable("introspection")
            definition = object_type.fields[name]
            strawberry_field = (definition.extensions or {}).get("strawberry-definition")
            if not isinstance(strawberry_field, StrawberryField):
                raise NotCompilable(f"{object_type.name}.{name} is not a Strawberry field")
            if strawberry_field.extensions or strawberry_field.permission_classes:
                raise NotCompilable(f"{object_type.name}.{name} has field extensions")
            resolver = strawberry_field.base_resolver
            if resolver is not None and not callable(resolver.wrapped_func):
                raise NotCompilable(f"{object_type.name}.{name} has no plain resolver")
            steps.append(
                FieldStep(
                    key=key,
                    attribute=strawberry_field.python_name if resolver is None else None,
                    field=strawberry_field,
                    definition=definition,
                    nodes=nodes,
                    parent=object_type,
                    completion=self.completion(definition.type, nodes),
                    has_arguments=bool(definition.args),
                    is_async=resolver is not None and resolver.is_async,
                    loaded=None if resolver is None else _loaded(resolver.wrapped_func),
                )
            )
        return Selection(
            nullable=nullable,
            keys=tuple(grouped),
            typename_keys=tuple(typename_keys),
            type_name=object_type.name,
            steps=steps,
            is_type_of=object_type.is_type_of,
            origin=getattr(
                (object_type.extensions or {}).get("strawberry-definition"), "origin", None
            ),
        )

    def _collect(
        self,
        object_type: GraphQLObjectType,
        selection_set: SelectionSetNode,
        grouped: dict[str, list[FieldNode]],
        visited: set[str],
    ) -> None:
        for node in selection_set.selections:
            if node.directives:
                raise NotCompilable("directives")
            if isinstance(node, FieldNode):
                key = node.alias.value if node.alias else node.name.value
                grouped.setdefault(key, []).append(node)
            elif isinstance(node, InlineFragmentNode):
                if self._applies(object_type, node.type_condition):
                    self._collect(object_type, node.selection_set, grouped, visited)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                if name in visited:
                    continue
                visited.add(name)
                fragment = self.fragments[name]
                if self._applies(object_type, fragment.type_condition):
                    self._collect(object_type, fragment.selection_set, grouped, visited)

    def _applies(self, object_type: GraphQLObjectType, condition: Any) -> bool:
        """Whether a fragment's type condition takes in objects of ``object_type``, as
        graphql-core's field collection decides it."""
        if condition is None:
            return True
        conditional = self.schema.get_type(condition.name.value)
        if conditional is object_type:
            return True
        return is_abstract_type(conditional) and self.schema.is_sub_type(
            cast(Any, conditional), object_type
        )


@dataclass
class Plan:
    """One operation of one document, compiled; ``run`` answers it or declines."""

    schema: strawberry.Schema
    operation: OperationDefinitionNode
    fragments: dict[str, FragmentDefinitionNode]
    root: Selection
    limits: Limits
    document: DocumentNode
    costs: OrderedDict[bytes, int] = field(default_factory=OrderedDict)
    sizing: frozenset[str] = field(init=False)
    # By SQL dialect: the statement in which the database builds the whole answer (every
    # field derives its SQL, schema.sql_plans), or None.
    sql: dict[str, sql_plans.SqlPlan | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.sizing = sizing_variables(self.document)

    def sql_plan(self, dialect: str) -> sql_plans.SqlPlan | None:
        if dialect not in self.sql:
            self.sql[dialect] = sql_plans.compile_sql(self.root, dialect)
        return self.sql[dialect]

    def cost(self, variables: Mapping[str, Any]) -> int:
        """The operation's cost with these variables, remembered for small ones."""
        sizing = {name: variables[name] for name in self.sizing if name in variables}
        key = orjson.dumps(sizing, option=orjson.OPT_SORT_KEYS)
        found = self.costs.get(key)
        if found is not None:
            return found
        found = operation_cost(
            internals.graphql_schema(self.schema),
            self.document,
            self.operation.name.value if self.operation.name else None,
            sizing,
            self.limits.cost_model,
        )
        # Bounded in count and size: variables are the client's, up to a megabyte.
        if len(key) <= MAX_REMEMBERED_VARIABLES_BYTES:
            self.costs[key] = found
            if len(self.costs) > COSTS_PER_PLAN:
                self.costs.popitem(last=False)
        return found

    async def run(
        self, context: Context, variables: Mapping[str, Any] | None, *, sql: str | None = None
    ) -> tuple[ExecutionResult | None, bool]:
        """The answer, or None when the generic executor must give it; and whether the
        caller's cost budget was spent (the generic run must then not spend it again).

        ``sql``: the database's SQL dialect, when it may build the answer itself.
        """
        raw = dict(variables or {})
        coerced = get_variable_values(
            internals.graphql_schema(self.schema), self.operation.variable_definitions or (), raw
        )
        if isinstance(coerced, list):
            return None, False
        try:
            cost = self.cost(raw)
        except (TypeError, orjson.JSONEncodeError):
            return None, False
        charged = await charge(context, cost, self.limits)
        if charged.refusal is not None:
            return None, False  # graphql-core asks again and gives the refusal
        spent = charged.spent
        scheduler = context.loaders.scheduler
        scheduler.keep_reads(True)
        try:
            data = None
            sql_plan = None if sql is None else self.sql_plan(sql)
            if sql_plan is not None:
                data = await sql_plan.answer(context, coerced)
            in_sql = data is not None
            if data is None:
                data = await _Execution(self, context, coerced).root()
        except Exception:
            # Whatever went wrong, the generic executor reports it as it always has.
            scheduler.abandon()
            return None, spent
        finally:
            scheduler.keep_reads(False)
            await scheduler.aclose()
        extensions = cost_results(cost, self.limits)
        return PlanAnswer(data=data, errors=None, extensions=extensions, in_sql=in_sql), spent


@dataclass
class PlanAnswer(ExecutionResult):
    """A plan's answer, and whether PostgreSQL built it: the pipeline names the execution
    path from it (app/vocabulary.py) for its metrics and traces."""

    in_sql: bool = False


class _Execution:
    """One request's run of a plan."""

    def __init__(self, plan: Plan, context: Context, variables: VariableValues) -> None:
        self.plan = plan
        self.context = context
        self.variables = variables
        self.config = plan.schema.config
        self.scalars = plan.schema.schema_converter.scalar_registry

    async def root(self) -> dict[str, Any]:
        out: dict[str, Any] = dict.fromkeys(self.plan.root.keys)
        await self.fill(self.plan.root, [None], [out])
        return out

    async def fill(
        self, selection: Selection, sources: list[Any], outs: list[dict[str, Any]]
    ) -> None:
        for key in selection.typename_keys:
            for out in outs:
                out[key] = selection.type_name
        waiting = []
        for step in selection.steps:
            completion = step.completion
            if step.attribute is not None:
                attribute = step.attribute
                values: list[Any] = [getattr(source, attribute) for source in sources]
                if type(completion) is Leaf:
                    _write(step.key, self.leaves(completion, values), outs)
                else:
                    waiting.append(self.complete_into(step, values, outs))
            else:
                waiting.append(self.resolve_into(step, sources, outs))
        if len(waiting) == 1:
            await waiting[0]
        elif waiting:
            await _together(waiting)

    async def resolve_into(
        self, step: FieldStep, sources: list[Any], outs: list[dict[str, Any]]
    ) -> None:
        if step.loaded is not None:
            await self.complete_into(step, await self.load(step.loaded, sources), outs)
            return
        call = self.caller(step)
        results = [call(source) for source in sources]
        if step.is_async:
            results = await _together(results)
        elif any(inspect.isawaitable(r) for r in results):
            raise Detour  # a sync resolver returning awaitables: leave it to graphql-core
        await self.complete_into(step, results, outs)

    async def complete_into(
        self, step: FieldStep, values: list[Any], outs: list[dict[str, Any]]
    ) -> None:
        _write(step.key, await self.complete(step.completion, values), outs)

    def leaves(self, leaf: Leaf, values: list[Any]) -> list[Any]:
        serialize = leaf.serialize
        if leaf.nullable:
            return [None if v is None else serialize(v) for v in values]
        if None in values:
            raise Detour
        return [serialize(v) for v in values]

    async def complete(self, completion: Completion, values: list[Any]) -> list[Any]:
        if type(completion) is Leaf:
            return self.leaves(completion, values)
        if type(completion) is ListOf:
            flat: list[Any] = []
            sizes: list[int] = []
            for value in values:
                if value is None:
                    if not completion.nullable:
                        raise Detour
                    sizes.append(-1)
                    continue
                if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
                    raise Detour
                items = list(value)
                sizes.append(len(items))
                flat.extend(items)
            done = await self.complete(completion.item, flat)
            lists: list[Any] = []
            at = 0
            for size in sizes:
                if size < 0:
                    lists.append(None)
                else:
                    lists.append(done[at : at + size])
                    at += size
            return lists
        if type(completion) is OneOf:
            return await self.complete_each(completion, values)
        if type(completion) is not Selection:
            raise Detour
        keys = completion.keys
        is_type_of = completion.is_type_of
        origin = completion.origin
        outs: list[Any] = []
        objects: list[Any] = []
        targets: list[dict[str, Any]] = []
        for value in values:
            if value is None:
                if not completion.nullable:
                    raise Detour
                outs.append(None)
                continue
            if is_type_of is not None and type(value) is not origin and not is_type_of(value, None):
                raise Detour
            out: dict[str, Any] = dict.fromkeys(keys)
            outs.append(out)
            objects.append(value)
            targets.append(out)
        if objects:
            await self.fill(completion, objects, targets)
        return outs

    async def complete_each(self, one_of: OneOf, values: list[Any]) -> list[Any]:
        """An interface's values, each completed with the selection of its own type (the
        values of one type together, as one level of the answer)."""
        outs: list[Any] = [None] * len(values)
        groups: dict[str, tuple[Selection, list[int], list[Any]]] = {}
        for index, value in enumerate(values):
            if value is None:
                if not one_of.nullable:
                    raise Detour
                continue
            selection = one_of.by_class.get(type(value))
            if selection is None:
                raise Detour
            group = groups.setdefault(selection.type_name, (selection, [], []))
            group[1].append(index)
            group[2].append(value)
        done = await _together([self.complete(s, items) for s, _, items in groups.values()])
        for (_, indices, _), completed in zip(groups.values(), done, strict=True):
            for index, out in zip(indices, completed, strict=True):
                outs[index] = out
        return outs

    async def load(self, spec: Loaded, sources: list[Any]) -> list[Any]:
        """What the field's resolver returns for each source, with one load per source
        (all in the same wave, as the resolvers would make them) and no coroutine."""
        loader = getattr(self.context.loaders, spec.loader)
        key = spec.key
        futures = [None if (k := key(source)) is None else loader.load(k) for source in sources]
        # One batch settles all of them at once: waiting on each in turn suspends once
        # or twice, where a callback per future cost a loop turn each.
        for future in futures:
            if future is not None and not future.done():
                await future
        values = [None if f is None else f.result() for f in futures]
        finish = spec.finish
        if spec.with_context:
            context = self.context
            return [finish(s, v, context) for s, v in zip(sources, values, strict=True)]
        return [finish(s, v) for s, v in zip(sources, values, strict=True)]

    def caller(self, step: FieldStep) -> Callable[[Any], Any]:
        strawberry_field = step.field
        resolver = strawberry_field.base_resolver
        if resolver is None:
            raise Detour
        raw_info = GraphQLResolveInfo(
            step.nodes[0].name.value,
            step.nodes,
            step.definition.type,
            step.parent,
            Path(None, step.key, step.parent.name),
            internals.graphql_schema(self.plan.schema),
            self.plan.fragments,
            None,
            self.plan.operation,
            self.variables,
            self.context,
            _is_awaitable,
            None,
            None,  # type: ignore[arg-type]
        )
        info = self.config.info_class(_raw_info=raw_info, _field=strawberry_field)
        function = cast(Callable[..., Any], resolver.wrapped_func)
        if step.has_arguments:
            raw = get_argument_values(step.definition, step.nodes[0], self.variables)
            _, kwargs = get_arguments(
                field=strawberry_field,
                source=None,
                info=info,
                kwargs=raw,
                config=self.config,
                scalar_registry=self.scalars,
            )
        else:
            kwargs = {}
            if resolver.info_parameter is not None:
                kwargs[resolver.info_parameter.name] = info
        source_names = [
            p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p is not None
        ]
        takes_self = resolver.self_parameter is not None
        if not source_names:
            if takes_self:
                return lambda source: function(source, **kwargs)
            return lambda _: function(**kwargs)

        def with_source(source: Any) -> Any:
            named = {**kwargs, **dict.fromkeys(source_names, source)}
            return function(source, **named) if takes_self else function(**named)

        return with_source


async def _together(coroutines: list[Any]) -> list[Any]:
    """The results of resolver coroutines run side by side, without a Task each.

    Each coroutine runs to its next suspension, for a resolver nearly always a loader's
    future, and is resumed once that future is done, as a Task would do it; one waiter
    per round wakes on the first of them. A Task per coroutine, as asyncio.gather makes,
    cost about as much as the resolvers themselves on the Order Center page.
    """
    results: list[Any] = [None] * len(coroutines)
    # (index, coroutine, the future it waits for; None: ready to run)
    waiting: list[tuple[int, Any, Any]] = [(i, c, None) for i, c in enumerate(coroutines)]
    try:
        while waiting:
            suspended: list[tuple[int, Any, Any]] = []
            for entry in waiting:
                index, coroutine, future = entry
                if future is not None and not future.done():
                    suspended.append(entry)
                    continue
                try:
                    yielded = coroutine.send(None)
                except StopIteration as stop:
                    results[index] = stop.value
                    continue
                if yielded is not None:
                    # What a Task does with a future its coroutine awaits.
                    internals.await_by_hand(yielded)
                suspended.append((index, coroutine, yielded))
            waiting = suspended
            blocked = [f for _, _, f in waiting if f is not None and not f.done()]
            if waiting and len(blocked) == len(waiting):
                await _first_done(blocked)
            elif any(f is None for _, _, f in waiting):
                await asyncio.sleep(0)  # a bare yield asks for one loop turn
    except BaseException:
        for _, coroutine, _ in waiting:
            coroutine.close()
        raise
    return results


def _loaded(function: Any) -> Loaded | None:
    spec = getattr(function, "loaded", None)
    return spec if isinstance(spec, Loaded) else None


async def _first_done(futures: list[asyncio.Future[Any]]) -> None:
    wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def done(_: asyncio.Future[Any]) -> None:
        if not wake.done():
            wake.set_result(None)

    for future in futures:
        future.add_done_callback(done)
    try:
        await wake
    finally:
        for future in futures:
            future.remove_done_callback(done)


def _is_awaitable(value: Any) -> TypeGuard[Awaitable[Any]]:
    return inspect.isawaitable(value)


def _write(key: str, values: list[Any], outs: list[dict[str, Any]]) -> None:
    for out, value in zip(outs, values, strict=True):
        out[key] = value


def compile_plan(
    schema: strawberry.Schema,
    query: str | DocumentNode,
    operation_name: str | None,
    limits: Limits,
) -> Plan:
    """The plan of a query operation (its text, or the document already read from it);
    NotCompilable when it uses what plans do not do."""
    if isinstance(query, DocumentNode):
        document = query
    else:
        try:
            document = parse(query, no_location=True)
        except GraphQLError as error:
            raise NotCompilable("syntax") from error
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation is not OperationType.QUERY:
        raise NotCompilable("not a query")
    if operation.directives or any(d.directives for d in operation.variable_definitions or ()):
        raise NotCompilable("directives")
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    graphql_schema = internals.graphql_schema(schema)
    root_type = graphql_schema.query_type
    if root_type is None:
        raise NotCompilable("no query type")
    root = _Compiler(graphql_schema, fragments).selection(
        root_type, [operation.selection_set], nullable=False
    )
    return Plan(schema, operation, fragments, root, limits, document)


class Plans:
    """Compiled plans by (document, operation name), least recently used out first.

    A document that cannot be compiled is remembered as such, so it is tried once.
    """

    def __init__(
        self, schema: strawberry.Schema, limits: Limits, max_plans: int = MAX_PLANS
    ) -> None:
        self.schema = schema
        self.limits = limits
        self.max_plans = max_plans
        self._plans: WeighedLRU[tuple[str, str | None], Plan | None] = WeighedLRU(
            max_entries=max_plans, max_bytes=PLAN_BYTES
        )
        # The database's SQL dialect when plans may be answered in one statement there.
        self.sql_dialect: str | None = None
        # How requests went: answered by a plan, or sent on to the generic executor.
        self.answered = 0
        self.declined = 0

    def __len__(self) -> int:
        return len(self._plans)

    def get(self, query: str, operation_name: str | None) -> Plan | None:
        return self._plans.get((query, operation_name))

    def knows(self, query: str, operation_name: str | None) -> bool:
        return (query, operation_name) in self._plans

    def learn(self, query: str, operation_name: str | None) -> Plan | None:
        """Compile a document the generic executor has just answered without an error."""
        # The pipeline read this text already: its document is in the schema's cache.
        documents: Documents | None = getattr(self.schema, "documents", None)
        read = None if documents is None else documents.read(query).document
        try:
            plan: Plan | None = compile_plan(
                self.schema, read or query, operation_name, self.limits
            )
        except NotCompilable:
            plan = None
        except Exception:
            # A document graphql-core ran but this compiler trips on: a bug here, and
            # no reason to fail a request that has its answer already.
            log.exception("could not compile a plan for operation %s", operation_name)
            plan = None
        # A plan holds its document and a tree of selections: about what the parsed
        # document weighs, twice over.
        self._plans.put((query, operation_name), plan, 2 * estimated_bytes(query))
        return plan
