"""Layering: an environment's file merged over the base file of the same relative path.

Maps merge key by key; lists, scalars and the one-of choices (CHOICES, CHOICES_BY_KIND) replace, except the lists
of KEYED_LISTS, which merge item by item on a key (an environment overrides one variable of a base workload's env
and keeps the rest; an item `{name, remove: true}` stays in the list, so resolve drops the variable from the
layers below files too: the Environment's spec.nim.env and nimgen's own defaults). Positions travel
with the values, so an error in the merged document still points at the file and line that wrote the offending value,
and `explain` can say where each value came from. Validation runs on the merged document: an environment override
alone is usually partial (the reader validates a gallery override merged over the shared entry it overrides, too).
"""

from __future__ import annotations

from typing import Any

from .load import Document, PathKey

# Maps that hold a choice (exactly one of several keys) are replaced as a whole, not merged: an environment that
# switches a base workload from `store: {ngc: ...}` to `store: {pvc: ...}` means the switch, not both.
# (spec.model stays a map that merges: bumping only `version` per environment is the common override.)
CHOICES: set[PathKey] = {("spec", "profile"), ("spec", "store")}
# The same rule for the other kinds: a DataSource's spec is one of pvc or existingClaim, so an environment's
# override of a data source restates its spec.
CHOICES_BY_KIND: dict[str, set[PathKey]] = {"DataSource": {("spec",)}}


# Lists whose items merge by a key field: the item of the environment's file replaces the base's item of the same
# key in place, a new key is appended.
KEYED_LISTS: dict[str, dict[PathKey, str]] = {
    "InferenceWorkload": {("spec", "env"): "name"},
    "Environment": {("spec", "nim", "env"): "name"},
}


def keyed_lists_of(doc: Document) -> dict[PathKey, str]:
    kind = doc.data.get("kind") if isinstance(doc.data, dict) else None
    return KEYED_LISTS.get(kind, {}) if isinstance(kind, str) else {}


def choices_of(doc: Document) -> set[PathKey]:
    kind = doc.data.get("kind") if isinstance(doc.data, dict) else None
    return CHOICES_BY_KIND.get(kind, CHOICES) if isinstance(kind, str) else CHOICES


def _under(path: PathKey, prefix: PathKey) -> bool:
    return path[: len(prefix)] == prefix


def merge(base: Document, over: Document) -> Document:
    choices = choices_of(base)
    keyed = keyed_lists_of(base)
    positions = dict(base.positions)
    key_positions = dict(base.key_positions)

    def replace_subtree(path: PathKey) -> None:
        for table in (positions, key_positions):
            for stale in [p for p in table if _under(p, path) and p != path]:
                del table[stale]

    def walk(left: Any, right: Any, path: PathKey) -> Any:
        if isinstance(left, list) and isinstance(right, list) and path in keyed:
            return merge_keyed(left, right, path, keyed[path])
        if isinstance(left, dict) and isinstance(right, dict) and path not in choices:
            result = dict(left)
            for key, value in right.items():
                child = path + (key,)
                key_positions[child] = over.key_positions.get(child, over.where(child))
                result[key] = walk(left.get(key), value, child) if key in left else take(value, child)
            return result
        return take(right, path)

    def take(value: Any, path: PathKey) -> Any:
        replace_subtree(path)
        for table, source in ((positions, over.positions), (key_positions, over.key_positions)):
            for p, pos in source.items():
                if _under(p, path):
                    table[p] = pos
        return value

    def merge_keyed(left: list[Any], right: list[Any], path: PathKey, key: str) -> list[Any]:
        result = list(left)
        index: dict[Any, int] = {}
        for i, item in enumerate(left):
            if isinstance(item, dict) and isinstance(item.get(key), str):
                index.setdefault(item[key], i)
        replaced: set[int] = set()
        for j, item in enumerate(right):
            name = item.get(key) if isinstance(item, dict) else None
            found = index.get(name) if isinstance(name, str) else None
            if found is None or found in replaced:
                # a new name, or a name the same file sets twice: appended, for resolve to report the duplicate
                found = len(result)
                result.append(item)
            else:
                replaced.add(found)
                result[found] = item
            moved(path + (j,), path + (found,))
        if path in over.positions:
            positions[path] = over.positions[path]
        return result

    def moved(source: PathKey, target: PathKey) -> None:
        """The positions of the over document's item at `source`, now at `target` of the merged list."""
        for table, origin in ((positions, over.positions), (key_positions, over.key_positions)):
            for stale in [p for p in table if _under(p, target)]:
                del table[stale]
            for p, pos in origin.items():
                if _under(p, source):
                    table[target + p[len(source):]] = pos

    data = walk(base.data, over.data, ())
    positions[()] = over.positions.get((), (over.file, 1, 1))
    return Document(file=over.file, data=data, positions=positions, key_positions=key_positions)

