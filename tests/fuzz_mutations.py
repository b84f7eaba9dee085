"""Mutations of valid inputs for the robustness suite (tests/test_fuzz.py) and the fuzz script (tools/fuzz.py).

One engine serves both: every random decision goes through a Chooser, backed by Hypothesis (`HypothesisChooser`,
shrinkable and reproducible) or by `random.Random` (`RandomChooser`, for tools/fuzz.py). A mutation rewrites ONE
input file of a copy of tests/fixtures/repo (plus the product's templates/models, as conftest.make_repo does):

- data-level families change the parsed document and dump it again (type swaps, deletions, unicode, special
  numbers, DNS-invalid names, long values, Kubernetes fields, NGC-key-looking strings, plausible edits);
- node-level families change PyYAML's node graph and serialize it (aliases, merge keys, recursion, duplicate keys);
- text-level families work on the text or the bytes (BOMs, junk bytes, encodings, tags, deep nesting).

The properties checked on each run (see `problems_of`): exit 0 or 1, never a traceback nor an exception escaping
the CLI, no hang, no NGC-key-looking string echoed; after a build: out/ byte-identical when it failed, and every
accepted output passes `verify_out` (strict Kubernetes schemas, nimgen's CRD schemas, ../shared/crds/jsonschema
when present) and the API-server rules no JSON schema expresses (`admission_problems`).

This module imports neither pytest nor hypothesis at import time.
"""

from __future__ import annotations

import copy
import datetime
import difflib
import re
import shutil
import signal
import string
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

PROJECT = Path(__file__).resolve().parent.parent
FIXTURE = PROJECT / "tests" / "fixtures" / "repo"
UPSTREAM_SCHEMAS = PROJECT.parent / "shared" / "crds" / "jsonschema"
MERGE_TAG = "tag:yaml.org,2002:merge"
STR_TAG = "tag:yaml.org,2002:str"


def make_fuzz_repo(dest: Path) -> Path:
    """The fixture's environments and gallery with the product's NIM catalog (what conftest.make_repo builds)."""
    shutil.copytree(FIXTURE, dest, dirs_exist_ok=True)
    shutil.copytree(PROJECT / "templates" / "models", dest / "templates" / "models", dirs_exist_ok=True)
    return dest


def input_files(root: Path) -> list[str]:
    """Every input file of a repository (relative paths), the mutation targets."""
    found = []
    for top in ("environments", "templates"):
        for path in sorted((root / top).rglob("*")):
            if path.is_file() and path.suffix in (".yaml", ".yml"):
                found.append(path.relative_to(root).as_posix())
    return found


def env_of(relpath: str) -> str | None:
    """The one environment a file belongs to (None: base files and the gallery affect every environment)."""
    parts = relpath.split("/")
    if parts[0] == "environments" and len(parts) > 2 and parts[1] != "base":
        return parts[1]
    return None


def category_of(relpath: str) -> str:
    parts = relpath.split("/")
    if parts[0] == "templates":
        return "models" if parts[1] == "models" else "gallery"
    if parts[-1] == "environment.yaml":
        return "environment"
    return parts[2] if len(parts) > 3 else "other"        # workloads, projects


# How often each kind of file is the target: workloads carry most of the schema, the catalog is big and slow.
CATEGORY_WEIGHTS = {"workloads": 6, "environment": 3, "projects": 2, "gallery": 2, "models": 1}


# ---------------------------------------------------------------------------------------------------------------
# Choosers


class Chooser:
    """Every random decision of a mutation."""

    def choice(self, seq: Sequence[Any]) -> Any:
        raise NotImplementedError

    def integer(self, lo: int, hi: int) -> int:
        raise NotImplementedError

    def boolean(self) -> bool:
        return bool(self.integer(0, 1))


class RandomChooser(Chooser):
    def __init__(self, rng):
        self.rng = rng

    def choice(self, seq):
        seq = list(seq)
        return seq[self.rng.randrange(len(seq))]

    def integer(self, lo, hi):
        return self.rng.randint(lo, hi)


class HypothesisChooser(Chooser):
    def __init__(self, data):
        from hypothesis import strategies as st
        self.data, self.st = data, st

    def choice(self, seq):
        seq = list(seq)     # draw an index: Hypothesis prints it instead of the (maybe huge) element
        return seq[self.data.draw(self.st.integers(0, len(seq) - 1))]

    def integer(self, lo, hi):
        return self.data.draw(self.st.integers(lo, hi))

    def boolean(self):
        return self.data.draw(self.st.booleans())


# ---------------------------------------------------------------------------------------------------------------
# Data paths

PathT = tuple


def all_paths(data: Any, prefix: PathT = ()) -> list[PathT]:
    out: list[PathT] = []
    if isinstance(data, dict):
        for key, value in data.items():
            out.append(prefix + (key,))
            out.extend(all_paths(value, prefix + (key,)))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            out.append(prefix + (index,))
            out.extend(all_paths(value, prefix + (index,)))
    return out


def get_at(data: Any, path: PathT) -> Any:
    for part in path:
        data = data[part]
    return data


def set_at(data: Any, path: PathT, value: Any) -> None:
    """Set a value, creating missing mappings on the way (a list index past the end appends)."""
    for part in path[:-1]:
        if isinstance(data, dict):
            if not isinstance(data.get(part), (dict, list)):
                data[part] = {}
            data = data[part]
        else:
            data = data[part]
    last = path[-1]
    if isinstance(data, list) and isinstance(last, int) and last >= len(data):
        data.append(value)
    else:
        data[last] = value


def delete_at(data: Any, path: PathT) -> None:
    parent = get_at(data, path[:-1])
    del parent[path[-1]]


def rename_key(data: Any, path: PathT, new: str) -> None:
    parent = get_at(data, path[:-1])
    items = [(new if k == path[-1] else k, v) for k, v in parent.items()]
    parent.clear()
    parent.update(items)


def fmt_path(path: PathT) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (("." if text else "") + short(part, 40))
    return text or "$"


def short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = text.encode("unicode_escape", "backslashreplace").decode("ascii")
    return text if len(text) <= limit else f"{text[:limit // 2]}...<{len(text)} chars>...{text[-limit // 4:]}"


# ---------------------------------------------------------------------------------------------------------------
# Value pools

NGC_ALPHABET = string.ascii_letters + string.digits + "-_"


def ngc_key(ch: Chooser) -> str:
    """A string shaped like an NGC API key: 'nvapi-' and 64 characters (never a real key)."""
    seed = ch.integer(1, 10**6)
    return "nvapi-" + "".join(NGC_ALPHABET[(seed * 7 + i * 13 + i * i) % 64] for i in range(64))


TYPE_POOL: list[Any] = [
    "", "x", "1", "true", "null", "~", " ", "0.5",
    0, 1, -1, 1.5, 0.0, True, False, None,
    [], {}, ["a", 1], [None], {"a": 1}, {"name": "x"}, [{"a": None}], [[1]],
    2**63, -(2**63) - 1, 10**30, 1e308, float("inf"), float("-inf"), float("nan"),
    datetime.date(2001, 1, 1), datetime.datetime(2001, 1, 1, 12, 0, 0), b"\x00\xff", {"set-member"},
]

UNICODE_PIECES = [
    "\u202e", "\u202d", "\u200f", "\u061c",                       # right-to-left overrides and marks
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff",            # zero-width characters and the BOM
    "\U0001f999", "\U0001f468\u200d\U0001f469\u200d\U0001f467", "\U0001f600",   # emoji (with joiners)
    "e\u0301", "\u0130", "\u00df", "\uff21", "\u01c5",          # combining, Turkish I, sharp s, full width
    "\u0645\u0631\u062d\u0628\u0627", "\u05e9\u05dc\u05d5\u05dd", "\u540d\u524d",
    "\x00", "\x01", "\x07", "\x08", "\x1b[31m", "\x7f", "\x85", "\x9b", "\r", "\t", "\n", "\r\n",
    "\u2028", "\u2029", "\ud800", "\udfff", "\uffff", "\ufffe", "\U0010ffff",
    "'", '"', "\\", "{", "}", "#", ": ", "- ", "%", "&a", "*a", "!x", "|", ">", "`", "$(id)", "${X}",
]

NUMBER_VALUES: list[Any] = [
    1e308, -1e308, float("inf"), float("-inf"), float("nan"), -1, 0, -0.0, 0.1, 1e-300, 5e-324,
    2**31 - 1, 2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63), 10**100, True,
    "8Ei", "9Ei", "8E", "16Ei", "1e308", "1E309", "-1", "0", "1m", "0.1m", "1n", "1u", "100000000000000000000Ti",
    ".5", "+1", "1e-9", "1e18", "1Ki", "0.5Ki", "1.5Gi", "9223372036854775807", "9223372036854775808",
    "0x10", "1_000", "0o17", "NaN", "Infinity", "-Inf", "1k", "1K", "1 Gi", "1Gi ", "١٢٣",
]

NUMBER_RAW = [  # YAML 1.1 plain scalars PyYAML reads as numbers, timestamps or worse
    ".inf", "-.inf", "+.inf", ".NaN", ".nan", "1.0e+309", "-1.0e+309", "1.7976931348623157e+308", "4.9e-324",
    "0x7fffffffffffffff", "0xffffffffffffffffff", "0b1010", "0o777", "0777", "1_000_000", "190:20:30",
    "-190:20:30.15", "99999999999999999999999999", "2001-02-30", "2001-13-01", "2001-12-14t21:59:43.10-05:00",
    "2001-12-14 99:99:99", "0.", "-.5", "+12e03", "1__0", "0x_", "0b",
]

DNS_VALUES = [
    "Upper", "UPPER", "a_b", "a" * 64, "a" * 63, "a" * 54, "a" * 53, "-lead", "trail-", "a..b", "a.b", "", " ",
    "1abc", "0", "x" * 253, "x" * 254, "\u00f1ame", "a b", "a/b", "../x", "..", "a\nb", "default", "kube-system",
    "istio-system", "xn--a", "a-" + "b" * 60 + "c", "nvapi", "-", "a-", "A" * 63,
]

NAME_KEYS = {"name", "project", "secret", "claim", "dataSource", "template", "namespace", "serviceAccount",
             "tokenSecret", "pullSecret", "existingClaim", "revision", "gatewayNamespace", "interceptorNamespace",
             "nodePools", "nodeType", "nodePoolLabel", "nodeTypeLabel", "priorityClassName", "secretKey", "configMap",
             "mirror"}

TAGGED_RAW = [
    "!!int abc", "!!int 1.5", "!!int ''", "!!float abc", "!!float ''", "!!bool maybe", "!!bool ''",
    "!!timestamp x", "!!timestamp 2001-02-30", "!!timestamp 2001-12-14T25:61:61Z", "!!null x", "!!binary '###'",
    "!!binary 'AAA='", "!!str 1", "!!python/object/apply:os.system ['true']", "!!python/name:os.system ''",
    "!custom x", "!<tag:yaml.org,2002:int> z", "!!map {a: 1}", "!!seq [1]", "!!set {a}", "!!omap [a: 1]",
    "!!omap [1]", "!!pairs [a: 1]", "!!merge x", "!!value x", "!!yaml x", "!!int 99999999999999999999999",
    "!!float 1e999", "!!int 0x_", "!!int 0b2", "!!int 1:2:3", "&anchor x", "*undefined", "!! x", "!<> x",
]


# ---------------------------------------------------------------------------------------------------------------
# Mutation


@dataclass
class Mutation:
    family: str
    file: str                          # the input rewritten (relative to the repository root)
    content: bytes                     # what is written
    note: str                          # what was done, in short
    original: bytes = b""
    rename: str | None = None          # the content goes to this file instead, and `file` is removed
    secrets: tuple[str, ...] = ()      # NGC-key-looking strings written: never to be echoed nor rendered
    dumped_as: tuple = ()              # how the mutated text was dumped: the snippet diffs against the
                                       # unmutated document dumped the same way (computed only when shown)

    @property
    def env(self) -> str | None:
        return env_of(self.file)

    def snippet(self, lines: int = 12, width: int = 160) -> str:
        """The changed lines (a unified diff, control characters escaped, long lines cut)."""
        old = diff_base(self.original, self.dumped_as).decode("utf-8", "backslashreplace").splitlines()
        new = self.content.decode("utf-8", "backslashreplace").splitlines()
        diff = [line for line in difflib.unified_diff(old, new, lineterm="", n=0)
                if not line.startswith(("---", "+++"))]
        shown = [short(line, width) for line in diff[:lines]]
        if len(diff) > lines:
            shown.append(f"... {len(diff) - lines} more diff lines")
        return "\n".join(shown) or "(no textual change)"

    def describe(self) -> str:
        target = f"{self.file} -> {short(self.rename, 120)}" if self.rename else self.file
        return f"[{self.family}] {target}: {self.note}\n{self.snippet()}"


@dataclass
class DocState:
    """A document being mutated, and what is applied after it is dumped."""

    relpath: str
    data: Any
    kind: str
    raw: dict[str, str] = field(default_factory=dict)            # sentinel -> raw YAML text
    text_ops: list[Callable[[str], str]] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    rename: str | None = None

    def sentinel(self, raw: str) -> str:
        token = f"zqx{len(self.raw)}sentinelzqx"
        self.raw[token] = raw
        return token


def dump_style(ch: Chooser) -> dict:
    return {"default_flow_style": ch.choice([False, None, True]),   # block, flow leaves, all flow
            "allow_unicode": ch.boolean(), "width": ch.choice([80, 100000])}


def dump_data(ch: Chooser, data: Any, style: dict | None = None) -> str:
    return yaml.safe_dump(data, sort_keys=False, **(style or dump_style(ch)))


def finish_text(ch: Chooser, d: DocState, text: str) -> str:
    for token, raw in d.raw.items():
        text = text.replace(f"'{token}'", raw).replace(token, raw)
    for op in d.text_ops:
        text = op(text)
    return text


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def string_paths(data: Any) -> list[PathT]:
    return [p for p in all_paths(data) if isinstance(get_at(data, p), str)]


def key_paths(data: Any) -> list[PathT]:
    return [p for p in all_paths(data) if isinstance(p[-1], str)]


def insert_piece(ch: Chooser, text: str, piece: str) -> str:
    where = ch.choice(["prefix", "suffix", "middle", "replace", "repeat"])
    if where == "prefix":
        return piece + text
    if where == "suffix":
        return text + piece
    if where == "replace":
        return piece
    if where == "repeat":
        return piece * ch.choice([2, 63, 64, 1000])
    cut = ch.integer(0, len(text)) if text else 0
    return text[:cut] + piece + text[cut:]


# --- data-level families ---------------------------------------------------------------------------------------


def m_type_swap(ch: Chooser, d: DocState) -> str:
    path = ch.choice(all_paths(d.data))
    value = copy.deepcopy(ch.choice(TYPE_POOL))
    set_at(d.data, path, value)
    return f"{fmt_path(path)} := {short(value)}"


def m_delete(ch: Chooser, d: DocState) -> str:
    notes = []
    for _ in range(ch.integer(1, 3)):
        paths = all_paths(d.data)
        if not paths:
            break
        path = ch.choice(paths)
        delete_at(d.data, path)
        notes.append(f"del {fmt_path(path)}")
    return "; ".join(notes)


def m_unicode(ch: Chooser, d: DocState) -> str:
    piece = ch.choice(UNICODE_PIECES)
    where = ch.choice(["value", "value", "key", "raw"])
    strings = string_paths(d.data)
    if where == "value" and strings:
        path = ch.choice(strings)
        set_at(d.data, path, insert_piece(ch, get_at(d.data, path), piece))
        return f"{fmt_path(path)} gets {short(piece)}"
    if where == "key":
        path = ch.choice(key_paths(d.data))
        new = insert_piece(ch, path[-1], piece)
        rename_key(d.data, path, new)
        return f"key {fmt_path(path)} -> {short(new)}"
    offset_fraction = ch.integer(0, 1000)
    d.text_ops.append(lambda text: text[:len(text) * offset_fraction // 1000] + piece
                      + text[len(text) * offset_fraction // 1000:])
    return f"raw {short(piece)} at {offset_fraction / 10:.1f}% of the text"


def m_numbers(ch: Chooser, d: DocState) -> str:
    numeric = [p for p in all_paths(d.data)
               if (isinstance(get_at(d.data, p), (int, float)) and not isinstance(get_at(d.data, p), bool))
               or (isinstance(p[-1], str) and p[-1] in ("cpu", "memory", "sharedMemory", "size", "target",
                                                        "weight", "gpuLimit", "perNode", "afterSeconds"))]
    path = ch.choice(numeric if numeric and ch.integer(0, 3) else all_paths(d.data))
    if ch.boolean():
        raw = ch.choice(NUMBER_RAW)
        set_at(d.data, path, d.sentinel(raw))
        return f"{fmt_path(path)} := raw {raw}"
    value = ch.choice(NUMBER_VALUES)
    set_at(d.data, path, value)
    return f"{fmt_path(path)} := {short(value)}"


def m_dns_names(ch: Chooser, d: DocState) -> str:
    named = [p for p in all_paths(d.data)
             if any(isinstance(part, str) and part in NAME_KEYS for part in p[-2:])
             and isinstance(get_at(d.data, p), str)]
    path = ch.choice(named or string_paths(d.data))
    value = ch.choice(DNS_VALUES)
    set_at(d.data, path, value)
    return f"{fmt_path(path)} := {short(value)}"


def long_label_key(ch: Chooser) -> str:
    prefix_len = ch.choice([1, 62, 63, 64, 200, 252, 253, 254, 300])
    labels = []
    while sum(len(s) + 1 for s in labels) < prefix_len:
        labels.append("a" * min(63, prefix_len - sum(len(s) + 1 for s in labels)))
    prefix = ".".join(labels)[:prefix_len].strip(".") or "a"
    name = ch.choice(["n", "x" * 61 + "yz", "x" * 64, "app", "a.b_c-d"])
    return f"{prefix}/{name}"


def m_long_values(ch: Chooser, d: DocState) -> str:
    meta = ("spec", "labels") if d.kind == "Environment" else ("metadata", "labels")
    what = ch.choice(["label-key", "label-value", "annotation-size", "workload-name", "name-63", "long-string"])
    if what == "label-key":
        key = long_label_key(ch)
        set_at(d.data, meta + (key,), ch.choice(["v", "a" * 63]))
        return f"label key {short(key)}"
    if what == "label-value":
        value = ch.choice(["a" * 63, "a" * 64, "a" * 62 + "-", "-a", "a b"])
        set_at(d.data, meta + ("team",), value)
        return f"label team={short(value)}"
    if what == "annotation-size":
        size = ch.choice([200_000, 262_000, 262_100, 262_144, 262_145, 300_000])
        set_at(d.data, ("metadata", "annotations", "note"), "x" * size)
        return f"annotation note of {size} characters"
    if what == "workload-name" and d.kind == "InferenceWorkload":
        size = ch.choice([52, 53, 54, 63])
        name = "w" + "-a" * ((size - 2) // 2) + "z" * (size - 1 - 2 * ((size - 2) // 2))
        set_at(d.data, ("metadata", "name"), name[:size])
        return f"workload name of {len(name[:size])} characters"
    named = [p for p in all_paths(d.data) if p[-1] in NAME_KEYS and isinstance(get_at(d.data, p), str)]
    if what == "name-63" and named:
        path = ch.choice(named)
        value = "n" + "a" * 61 + "z"
        set_at(d.data, path, value)
        return f"{fmt_path(path)} := 63-character name"
    strings = string_paths(d.data)
    path = ch.choice(strings)
    value = ch.choice(["a", "\u00e9", "\U0001f999", "a b"]) * ch.choice([255, 256, 4096, 70_000])
    set_at(d.data, path, value)
    return f"{fmt_path(path)} := {short(value)}"


STORAGE_CLASSES = ["", "UPPER", "a_b", "a" * 253, "a" * 254, "\u00f1", "standard rwo", "../x", "a/b", "-x", "x."]
TOLERATIONS = [
    {"key": "k", "operator": "Exists", "effect": "NoSchedule"},
    {"operator": "Exists"}, {"key": "", "operator": "Exists"}, {"key": "", "operator": "Equal", "value": "v"},
    {"key": "k", "operator": "Equal", "value": "a" * 64}, {"key": "k", "value": "v b"},
    {"key": "a" * 300, "operator": "Exists"}, {"key": "UPPER/x_y", "operator": "Exists"},
    {"key": "k", "operator": "In", "value": "v"}, {"key": "k", "operator": "exists"},
    {"key": "k", "operator": "Exists", "value": "v"}, {"key": "k", "effect": "NoExecute", "tolerationSeconds": 2**63},
    {"key": "k", "effect": "NoExecute", "tolerationSeconds": -1}, {"key": "k", "effect": "NoSchedule",
                                                                   "tolerationSeconds": 5},
    {"key": "k", "operator": "Gt", "value": "1"}, {"key": "k", "effect": ""}, {"key": "k", "effect": "Foo"},
]
EXPRESSIONS = [
    {"key": "k", "operator": op, "values": values}
    for op in ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt", "in", "Equal", "")
    for values in ([], ["1"], ["a", "b"], ["a" * 64], ["x y"], ["-1"], ["NaN"])
] + [{"key": "", "operator": "In", "values": ["a"]}, {"key": "a" * 300, "operator": "Exists"},
     {"key": "k", "operator": "In"}, {"key": "UPPER/_x", "operator": "Exists"}]
SUB_PATHS = ["/..", "/../..", "/a/../../etc", "../..", "/", "//", "/a\nb", "/" + "a" * 5000, "/nim-cache/../../../x",
             "/a/./b", "/\u202ex", "relative", "/a:b", "/a b", "C:\\x"]


def m_k8s_fields(ch: Chooser, d: DocState) -> str:
    options: list[tuple[PathT, list[Any]]] = []
    if d.kind == "Environment":
        options += [(("spec", "storage", "defaultClass"), STORAGE_CLASSES),
                    (("spec", "storage", "sharedClass"), STORAGE_CLASSES),
                    (("spec", "nodePools", 0, "taints"), [[t] for t in TOLERATIONS] + [[{"key": "", "effect": "NoSchedule"}]]),
                    (("spec", "nodePools", 0, "gpu", "product"), ["NVIDIA H100", "a" * 64, "x/y", "\u00f1", "-x"]),
                    (("spec", "scheduler", "priorityClassName"), DNS_VALUES),
                    (("spec", "scheduler", "nodePoolLabel"), ["a" * 64, "UPPER", "a/b/c", "-x", "x" * 253 + "/y"]),
                    (("spec", "monitoring", "podMonitorLabels"), [{"a" * 64: "x"}, {"x": "a b"}, {"": ""}]),
                    (("spec", "identity", "audiences"), [["\u202eaud"], ["a" * 5000], [""], ['"quoted"']])]
    if d.kind == "DataSource":
        options += [(("spec", "pvc", "storageClass"), STORAGE_CLASSES),
                    (("spec", "pvc", "accessMode"), ["ReadWriteOncePod", "ReadOnlyMany", "rwx", ""]),
                    (("spec", "pvc", "size"), ["0", 0, "8Ei", 1e308, "1e308", "0.5", "1m"])]
    if d.kind == "InferenceWorkload":
        options += [(("spec", "scheduling", "tolerations"), [[t] for t in TOLERATIONS]),
                    (("spec", "scheduling", "nodeAffinity", "required"), [[e] for e in EXPRESSIONS]),
                    (("spec", "scheduling", "nodeAffinity", "preferred"),
                     [[{"weight": w, "matchExpressions": [e]}] for w in (0, 1, 100, 101) for e in EXPRESSIONS[::7]]),
                    (("spec", "scheduling", "nodeType"), ["UPPER", "a" * 64, "x y", "\u00f1", "../..", ""]),
                    (("spec", "store"), [{"pvc": {"claim": "c", "path": p}} for p in SUB_PATHS]),
                    (("spec", "store"), [{"ngc": {"secret": "s", "secretKey": k}}
                                         for k in ("a/b", "../..", "\u00f1", "k" * 300, " ", "KEY")]),
                    (("spec", "access"), [{"type": "groups", "groups": [g]}
                                          for g in ('"', "\\", "a" * 10_000, "\u202e", "*", "x\ny")])]
    if d.kind == "Project":
        options += [(("spec", "namespace"), DNS_VALUES)]
    if not options:
        return m_numbers(ch, d)
    path, values = ch.choice(options)
    value = copy.deepcopy(ch.choice(values))
    set_at(d.data, path, value)
    return f"{fmt_path(path)} := {short(value, 120)}"


def m_ngc_keys(ch: Chooser, d: DocState) -> str:
    key = ngc_key(ch)
    d.secrets.append(key)
    where = ch.choice(["value", "in-value", "label-key", "annotation-key", "any-key", "comment", "file-name"])
    if where in ("value", "in-value"):
        path = ch.choice(string_paths(d.data))
        set_at(d.data, path, key if where == "value" else f"token {key} here")
        return f"{fmt_path(path)} holds an NGC key"
    if where in ("label-key", "annotation-key"):
        group = "labels" if where == "label-key" else "annotations"
        path = ("spec", "labels", key) if d.kind == "Environment" else ("metadata", group, key)
        set_at(d.data, path, "x")
        return f"{fmt_path(path[:-1])} key is an NGC key"
    if where == "any-key":
        path = ch.choice(key_paths(d.data))
        rename_key(d.data, path, key)
        return f"key {fmt_path(path)} renamed to an NGC key"
    if where == "comment":
        d.text_ops.append(lambda text: text + f"# token: {key}\n")
        return "NGC key in a comment"
    folder, _, name = d.relpath.rpartition("/")
    d.rename = f"{folder}/{ch.choice(['', 'x-'])}{key}{ch.choice(['', '-' + name.rsplit('.', 1)[0]])}.yaml"
    return "file renamed to hold an NGC key"


def m_yaml_tags(ch: Chooser, d: DocState) -> str:
    raw = ch.choice(TAGGED_RAW)
    path = ch.choice(all_paths(d.data))
    set_at(d.data, path, d.sentinel(raw))
    return f"{fmt_path(path)} := raw {raw}"


def m_deep_nesting(ch: Chooser, d: DocState) -> str:
    depth = ch.integer(200, 2000)
    style = ch.choice(["seq", "map", "mixed", "unclosed", "block", "key"])
    if style == "seq":
        raw = "[" * depth + "1" + "]" * depth
    elif style == "map":
        raw = "{a: " * depth + "1" + "}" * depth
    elif style == "mixed":
        raw = "[{a: " * (depth // 2) + "1" + "}]" * (depth // 2)
    elif style == "unclosed":
        raw = "[" * depth
    elif style == "block":
        depth = min(depth, 400)      # the text grows with the square of the depth
        raw = "\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(depth)) + "  " * (depth + 1) + "v"
        set_at(d.data, ("deep",), d.sentinel(raw))
        return f"block nesting of depth {depth} at $.deep"
    else:
        raw = "{? " + "[" * depth + "1" + "]" * depth + " : 1}"
    path = ch.choice(all_paths(d.data))
    set_at(d.data, path, d.sentinel(raw))
    return f"{fmt_path(path)} := {style} nesting of depth {depth}"


PLAUSIBLE: dict[str, list[tuple[PathT, list[Any]]]] = {
    "InferenceWorkload": [
        (("metadata", "labels", "LONG"), ["v", "a" * 63]),
        (("metadata", "annotations", "note"), ["x" * 200_000, "x" * 262_000, "x" * 262_144, "\u202e\u200b\U0001f999",
                                              "a\x00b", "line\nbreak", "a" * 70_000]),
        (("metadata", "name"), ["w" + "a" * 51 + "z", "w" + "-a" * 25 + "z", "llama-8b-chat-" + "x" * 39]),
        (("spec", "scaling"), [{"minReplicas": 1, "maxReplicas": m, "metric": "concurrency", "target": t}
                               for m in (2, 2**31 - 1, 2**31, 2**53) for t in (1, 1e308, 1e-300, 5e-324, 2**63)]),
        (("spec", "scaling"), [{"minReplicas": 0, "maxReplicas": 2, "metric": "concurrency", "target": 4,
                                "scaleToZero": {"afterSeconds": s}} for s in (0, 1, 3600)]),
        (("spec", "compute"), [{"template": "small", k: v} for k in ("cpu", "memory", "sharedMemory")
                               for v in ("8Ei", "1e308", 1e308, "0.001m", "1n", "9223372036854775807", "1e18",
                                         2**63, "0", 0, "7.999Ei")]),
        (("spec", "scheduling", "tolerations"), [[t] for t in TOLERATIONS[:8]]),
        (("spec", "scheduling", "nodeAffinity", "required"), [[e] for e in EXPRESSIONS]),
        (("spec", "scheduling", "nodeType"), ["UPPER", "a" * 64, "x y", "\u00f1", "../..", "v" * 63]),
        (("spec", "store"), [{"pvc": {"claim": c, "path": p}} for c in ("c", "c" * 63) for p in SUB_PATHS]),
        (("spec", "store"), [{"ngc": {"secret": "s", "secretKey": k, "cache": {"dataSource": "nim-cache"}}}
                             for k in ("a/b", "../..", "\u00f1", "k" * 300, " ", "KEY")]),
        (("spec", "access"), [{"type": "groups", "groups": [g]}
                              for g in ('"', "\\", "a" * 10_000, "\u202e", "*", "x\ny", "\x00")]),
        (("spec", "access"), [{"type": "users", "users": [u]} for u in ("a@b", "'", "\U0001f999", "a" * 300)]),
    ],
    "Environment": [
        (("spec", "storage"), [{"defaultClass": c, "sharedClass": c} for c in STORAGE_CLASSES]),
        (("spec", "labels", "LONG"), ["v", "a" * 63]),
        (("spec", "scheduler", "priorityClassName"), DNS_VALUES),
        (("spec", "nodePools", 0, "gpu", "product"), ["NVIDIA H100", "a" * 64, "x/y", "\u00f1", "-x", "a" * 63]),
        (("spec", "monitoring", "podMonitorLabels"), [{"LONG": "x"}, {"a": "a" * 63}]),
        (("spec", "mesh", "revision"), ["r" * 63, "1-30", "a" * 60 + "-b"]),
        (("spec", "identity", "audiences"), [["\u202eaud"], ["a" * 5000], ['"quoted"'], ["\\"]]),
        (("spec", "autoscaling", "metrics", "concurrency", "query"), ["\u202e", "a\nb", "{namespace}" * 1000, '"']),
    ],
    "Project": [
        (("spec", "namespace"), ["n" * 63, "kube-system", "default", "istio-system"]),
        (("spec", "labels", "LONG"), ["v", "a" * 63]),
        (("spec", "quota"), [{"gpus": g, "cpu": c, "memory": m, "workloads": w}
                             for g in (0, 2**31, 2**63) for c, m in (("8Ei", 1e308), ("1e308", "8Ei"), ("1n", "1"))
                             for w in (0, 2**63)]),
        (("spec", "overQuota"), [{"weight": w, "gpuLimit": g} for w in (0, 2**63) for g in (-1, 0, 2**63)]),
    ],
    "ComputeTemplate": [
        (("spec", k), ["8Ei", "1e308", 1e308, "0.001m", "1n", "9223372036854775807", 2**63, "0", 0])
        for k in ("cpu", "memory", "sharedMemory")
    ] + [(("spec", "gpuProduct"), ["NVIDIA H100", "a" * 64, "\u00f1"]), (("spec", "gpus"), [2**31, 2**63, 1000])],
    "DataSource": [
        (("spec", "pvc", "storageClass"), STORAGE_CLASSES),
        (("spec", "pvc", "size"), ["8Ei", 1e308, "1e308", "0", "1m", "7.5Ei"]),
    ],
}


def m_plausible(ch: Chooser, d: DocState) -> str:
    """Edits a user could mean, at the edge of what is valid: what most often reaches a whole build."""
    options = PLAUSIBLE.get(d.kind)
    if not options:
        return m_numbers(ch, d)
    path, values = ch.choice(options)
    value = copy.deepcopy(ch.choice(values))
    if path[-1] == "LONG":
        path = path[:-1] + (long_label_key(ch),)
    set_at(d.data, path, value)
    return f"{fmt_path(path)} := {short(value, 120)}"


DATA_FAMILIES: dict[str, Callable[[Chooser, DocState], str]] = {
    "type-swap": m_type_swap,
    "delete-key": m_delete,
    "unicode": m_unicode,
    "numbers": m_numbers,
    "dns-names": m_dns_names,
    "long-values": m_long_values,
    "k8s-fields": m_k8s_fields,
    "ngc-keys": m_ngc_keys,
    "yaml-tags": m_yaml_tags,
    "deep-nesting": m_deep_nesting,
    "plausible": m_plausible,
}


def m_combo(ch: Chooser, d: DocState) -> str:
    names = ["type-swap", "delete-key", "unicode", "numbers", "dns-names", "long-values", "k8s-fields", "ngc-keys",
             "plausible"]
    notes = []
    for _ in range(ch.integer(2, 3)):
        step = ch.choice(names)
        try:
            notes.append(DATA_FAMILIES[step](ch, d))
        except (TypeError, KeyError, IndexError, AttributeError, ValueError):
            notes.append(f"({step} does not apply after the previous step)")   # e.g. metadata became a list
    return " + ".join(notes)


DATA_FAMILIES["combo"] = m_combo


# --- node-level families ---------------------------------------------------------------------------------------


def to_node(data: Any) -> yaml.Node:
    return yaml.representer.SafeRepresenter(sort_keys=False).represent_data(data)


def node_slots(root: yaml.Node) -> list[tuple[yaml.Node, int, yaml.Node]]:
    """(container, index, child) of every value reachable from root, each container visited once (aliases make
    the node graph a DAG, recursion makes it cyclic)."""
    out = []
    seen = {id(root)}
    stack = [root]
    while stack:
        node = stack.pop()
        children = (node.value if isinstance(node, SequenceNode)
                    else [v for _, v in node.value] if isinstance(node, MappingNode) else [])
        for i, value in enumerate(children):
            out.append((node, i, value))
            if id(value) not in seen:
                seen.add(id(value))
                stack.append(value)
    return out


def set_slot(container: yaml.Node, index: int, new: yaml.Node) -> None:
    if isinstance(container, MappingNode):
        container.value[index] = (container.value[index][0], new)
    else:
        container.value[index] = new


def collections(root: yaml.Node) -> list[yaml.Node]:
    found, seen = [root], {id(root)}
    for _, _, child in node_slots(root):
        if isinstance(child, (MappingNode, SequenceNode)) and id(child) not in seen:
            seen.add(id(child))
            found.append(child)
    return found


def ancestors_of(root: yaml.Node, target: yaml.Node) -> list[yaml.Node]:
    """target and the collections above it (the graph is a tree when this is called)."""
    parent = {id(child): container for container, _, child in node_slots(root)}
    chain = [target]
    while id(chain[-1]) in parent:
        chain.append(parent[id(chain[-1])])
    return chain


def n_aliases(ch: Chooser, root: yaml.Node) -> str:
    slots = node_slots(root)
    mappings = [n for n in collections(root) if isinstance(n, MappingNode)]
    how = ch.choice(["share", "recursive", "merge", "merge-recursive", "merge-list", "merge-scalar", "laughs",
                     "alias-key", "collection-key"])
    if how == "share":
        (_, _, source), (container, index, _) = ch.choice(slots), ch.choice(slots)
        set_slot(container, index, source)
        return "a value replaced by an alias of another"
    if how == "recursive":
        target = ch.choice(collections(root))
        inner = node_slots(target)
        if inner and ch.boolean():
            container, index, _ = ch.choice(inner)
            set_slot(container, index, target)
        elif isinstance(target, MappingNode):
            target.value.append((ScalarNode(STR_TAG, "loop"), target))
        else:
            target.value.append(target)
        return "a collection holds an alias of itself"
    if how == "laughs":
        node: yaml.Node = ScalarNode(STR_TAG, "lol")
        levels, fan = ch.integer(2, 4), ch.integer(2, 6)
        for _ in range(levels):
            node = SequenceNode("tag:yaml.org,2002:seq", [node] * fan)
        container, index, _ = ch.choice(slots)
        set_slot(container, index, node)
        return f"alias fan-out {fan}^{levels} = {fan ** levels} leaves"
    if how == "alias-key":
        scalars = [child for _, _, child in slots if isinstance(child, ScalarNode)]
        host = ch.choice(mappings)
        host.value.append((ch.choice(scalars), ScalarNode(STR_TAG, "x")))
        return "an alias of a scalar used as a mapping key"
    if how == "collection-key":
        host = ch.choice(mappings)
        host.value.append((ch.choice(collections(root)), ScalarNode(STR_TAG, "x")))
        return "a collection used as a mapping key"
    host = ch.choice(mappings)
    if how == "merge":
        source = ch.choice(mappings)
    elif how == "merge-recursive":
        source = ch.choice([n for n in ancestors_of(root, host) if isinstance(n, MappingNode)])
    elif how == "merge-list":
        source = SequenceNode("tag:yaml.org,2002:seq", [ch.choice(mappings), ch.choice(mappings)])
    else:
        source = ch.choice([ScalarNode(STR_TAG, "x"), SequenceNode("tag:yaml.org,2002:seq", [ScalarNode(STR_TAG, "1")])])
    pair = (ScalarNode(MERGE_TAG, "<<"), source)
    if ch.boolean():
        host.value.insert(0, pair)
    else:
        host.value.append(pair)
    return f"merge key ({how})"


def n_duplicates(ch: Chooser, root: yaml.Node) -> str:
    mappings = [n for n in collections(root) if isinstance(n, MappingNode) and n.value]
    host = ch.choice(mappings)
    index = ch.integer(0, len(host.value) - 1)
    key, value = host.value[index]
    how = ch.choice(["same", "other", "copy", "mapping", "twice"])
    new_value = {"same": value, "other": ScalarNode(STR_TAG, "dup"), "copy": copy.deepcopy(value),
                 "mapping": MappingNode("tag:yaml.org,2002:map", [(ScalarNode(STR_TAG, "a"), ScalarNode(STR_TAG, "b"))]),
                 "twice": value}[how]
    for _ in range(2 if how == "twice" else 1):
        host.value.insert(ch.integer(0, len(host.value)), (ScalarNode(key.tag, key.value), new_value))
    return f"duplicate key {short(key.value)} ({how})"


NODE_FAMILIES = {"aliases-merge": n_aliases, "duplicate-keys": n_duplicates}


# --- text-level families ---------------------------------------------------------------------------------------


def t_bom_junk(ch: Chooser, text: str) -> tuple[bytes, str]:
    how = ch.choice(["bom-start", "bom-twice", "bom-middle", "utf16", "utf32", "latin1", "junk-insert",
                     "junk-overwrite", "truncate", "cut-slice", "dup-slice", "tabs", "crlf", "cr", "eof-char",
                     "nul-tail", "empty", "comments-only", "doc-markers", "directive", "two-docs", "indent-shift",
                     "invalid-utf8", "overlong-utf8", "whitespace-only"])
    data = encode(text)
    pos = ch.integer(0, len(data))
    if how == "bom-start":
        return b"\xef\xbb\xbf" + data, how
    if how == "bom-twice":
        return b"\xef\xbb\xbf\xef\xbb\xbf" + data, how
    if how == "bom-middle":
        lines = text.split("\n")
        at = ch.integer(0, len(lines) - 1)
        lines[at] = "\ufeff" + lines[at]
        return encode("\n".join(lines)), f"{how} (line {at + 1})"
    if how == "utf16":
        return text.encode("utf-16", "surrogatepass"), how
    if how == "utf32":
        return text.encode("utf-32", "surrogatepass"), how
    if how == "latin1":
        return (text + "# caf\u00e9\n").encode("latin-1", "replace"), how
    if how in ("junk-insert", "junk-overwrite"):
        junk = bytes(ch.integer(0, 255) for _ in range(ch.integer(1, 8)))
        end = pos if how == "junk-insert" else min(len(data), pos + len(junk))
        return data[:pos] + junk + data[end:], f"{how} {junk!r} at byte {pos}"
    if how == "truncate":
        return data[:pos], f"truncated at byte {pos}"
    if how == "cut-slice":
        end = min(len(data), pos + ch.integer(1, 40))
        return data[:pos] + data[end:], f"bytes {pos}..{end} removed"
    if how == "dup-slice":
        end = min(len(data), pos + ch.integer(1, 80))
        return data[:end] + data[pos:], f"bytes {pos}..{end} repeated"
    if how == "tabs":
        return encode(re.sub(r"(?m)^  ", "\t", text)), how
    if how == "crlf":
        return encode(text.replace("\n", "\r\n")), how
    if how == "cr":
        return encode(text.replace("\n", "\r")), how
    if how == "eof-char":
        return data + b"\x1a", how
    if how == "nul-tail":
        return data + b"\x00" * ch.integer(1, 4), how
    if how == "empty":
        return b"", how
    if how == "whitespace-only":
        return ch.choice([b" ", b"\n\n", b"\t", b"  \n  "]), how
    if how == "comments-only":
        return b"# nothing\n# here\n", how
    if how == "doc-markers":
        return encode(ch.choice(["---\n", "...\n", "--- |\n", "--- >\n"]) + text + ch.choice(["", "...\n", "---\n"])), how
    if how == "directive":
        return encode(ch.choice(["%YAML 1.2\n---\n", "%YAML 9.9\n---\n", "%TAG ! tag:x,2000:\n---\n",
                                 "%YAML 1.1\n%YAML 1.1\n---\n", "%FOO bar\n---\n"]) + text), how
    if how == "two-docs":
        return encode(text + "---\n" + text), how
    if how == "indent-shift":
        lines = text.split("\n")
        at = ch.integer(0, len(lines) - 1)
        lines[at] = ch.choice([" ", "   ", ""]) + lines[at].lstrip(" " if ch.boolean() else "")
        return encode("\n".join(lines)), f"{how} (line {at + 1})"
    if how == "invalid-utf8":
        return data[:pos] + ch.choice([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80"]) + data[pos:], how
    return data[:pos] + b"\xc0\xaf" + data[pos:], how                # overlong '/'


TEXT_FAMILIES = {"bom-junk": t_bom_junk}

FAMILIES = sorted([*DATA_FAMILIES, *NODE_FAMILIES, *TEXT_FAMILIES])
# Families whose mutations are likely to be accepted: the ones worth a whole build.
BUILD_FAMILIES = ["plausible", "plausible", "plausible", "long-values", "k8s-fields", "numbers", "unicode",
                  "combo", "dns-names", "aliases-merge", "ngc-keys"]


def flow_leaves(root: yaml.Node) -> None:
    """Flow style for the collections that hold only scalars (as the fixture files are written)."""
    for node in collections(root):
        if not any(isinstance(c, (MappingNode, SequenceNode)) for c in
                   (node.value if isinstance(node, SequenceNode) else [v for _, v in node.value])):
            node.flow_style = True


def diff_base(original: bytes, dumped_as: tuple) -> bytes:
    """The unmutated document, dumped as the mutated one was."""
    if not dumped_as:
        return original
    data = yaml.safe_load(original.decode("utf-8"))
    if dumped_as[0] == "data":
        return encode(yaml.safe_dump(data, sort_keys=False, **dumped_as[1]))
    root = to_node(data)
    if dumped_as[1]:
        flow_leaves(root)
    return encode(yaml.serialize(root, Dumper=yaml.SafeDumper, allow_unicode=True, width=100000))


class Mutator:
    """Makes mutations of the input files of one repository (the originals are read once)."""

    def __init__(self, root: Path):
        self.root = root
        self.files = input_files(root)
        self.originals = {rel: (root / rel).read_bytes() for rel in self.files}
        self._parsed: dict[str, Any] = {}
        by_category: dict[str, list[str]] = {}
        for rel in self.files:
            by_category.setdefault(category_of(rel), []).append(rel)
        self.by_category = by_category
        self.weighted = [c for c, w in CATEGORY_WEIGHTS.items() if c in by_category for _ in range(w)]

    def parsed(self, rel: str) -> Any:
        if rel not in self._parsed:
            self._parsed[rel] = yaml.safe_load(self.originals[rel].decode("utf-8"))
        return copy.deepcopy(self._parsed[rel])

    def pick_file(self, ch: Chooser) -> str:
        return ch.choice(self.by_category[ch.choice(self.weighted)])

    def mutate(self, ch: Chooser, family: str | None = None, rel: str | None = None) -> Mutation:
        family = family or ch.choice(FAMILIES)
        rel = rel or self.pick_file(ch)
        original = self.originals[rel]
        text = original.decode("utf-8")
        data = self.parsed(rel)
        kind = data.get("kind", "") if isinstance(data, dict) else ""
        d = DocState(rel, data, str(kind))
        if family in DATA_FAMILIES:
            note = DATA_FAMILIES[family](ch, d)
            if family == "deep-nesting" and "block nesting" in note:
                style = {"default_flow_style": False, "width": 100000}
            else:
                style = dump_style(ch)
            content = encode(finish_text(ch, d, dump_data(ch, d.data, style)))
            dumped_as: tuple = ("data", style)
        elif family in NODE_FAMILIES:
            root = to_node(d.data)
            note = NODE_FAMILIES[family](ch, root)
            flow = ch.boolean()
            if flow:
                flow_leaves(root)
            content = encode(yaml.serialize(root, Dumper=yaml.SafeDumper, allow_unicode=True, width=100000))
            dumped_as = ("node", flow)
        else:
            style = None if ch.boolean() else dump_style(ch)
            base = text if style is None else dump_data(ch, d.data, style)
            content, note = TEXT_FAMILIES[family](ch, base)
            dumped_as = ("data", style) if style is not None else ()
        return Mutation(family, rel, content, note, original, d.rename, tuple(d.secrets), dumped_as)


# ---------------------------------------------------------------------------------------------------------------
# Running the CLI in-process


class Hang(BaseException):
    """A run took longer than its time limit (a BaseException: the CLI's last line of defence must not catch it)."""


@dataclass
class Outcome:
    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    exception: str | None = None       # a traceback of an exception that escaped the CLI
    hang: bool = False
    seconds: float = 0.0

    @property
    def output(self) -> str:
        return self.stdout + self.stderr + (self.exception or "")


@contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    usable = (seconds and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def expired(signum, frame):
        raise Hang(f"no result after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_cli(root: Path, *args: str, timeout: float | None = 20.0) -> Outcome:
    """`nimgen --root ROOT ARGS` in this process (click's CliRunner), as conftest.run does."""
    from click.testing import CliRunner

    from nimgen.cli import main

    start = time.perf_counter()
    try:
        with time_limit(timeout):
            result = CliRunner().invoke(main, ["--root", str(root), *args], catch_exceptions=False)
    except Hang:
        return Outcome(None, hang=True, seconds=time.perf_counter() - start)
    except BaseException:   # noqa: BLE001 - whatever escapes the CLI is a finding
        return Outcome(None, exception=traceback.format_exc(), seconds=time.perf_counter() - start)
    return Outcome(result.exit_code, result.stdout, result.stderr, seconds=time.perf_counter() - start)


def echoed(secrets: Sequence[str], text: str) -> list[str]:
    """The NGC-key-looking strings (or 16 characters of their secret part) that appear in text."""
    return [s for s in secrets if s in text or s[6:22] in text]


def problems_of(outcome: Outcome, secrets: Sequence[str] = ()) -> list[str]:
    """What is wrong with one run: an empty list means exit 0 or 1, no traceback, no echoed key."""
    found = []
    if outcome.hang:
        found.append(f"hang: no result after {outcome.seconds:.1f} s")
    if outcome.exception:
        found.append("exception escaped the CLI: " + outcome.exception.strip().splitlines()[-1])
    if outcome.exit_code not in (0, 1, None):
        found.append(f"exit code {outcome.exit_code}")
    if "Traceback (most recent call last)" in outcome.stdout + outcome.stderr:
        found.append("traceback printed")
    if echoed(secrets, outcome.stdout + outcome.stderr):
        found.append("NGC-key-looking string echoed")
    return found


_FRAME = re.compile(r'File "([^"]*?(generator/[^"]+))", line (\d+), in (\S+)')


def signature(text: str) -> str:
    """'ExcType @ generator/file.py:LINE in func' of the last traceback in text (the frame nearest the raise)."""
    frames = _FRAME.findall(text)
    lines = [line for line in text.splitlines() if line.strip()]
    exc = ""
    for i, line in enumerate(lines):
        if line.startswith("nimgen: internal error") and i:
            exc = lines[i - 1]
    if not exc:
        candidates = [line for line in lines if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Hang)\b", line)]
        exc = candidates[-1] if candidates else ""
    exc_type = exc.split(":", 1)[0].strip()
    where = f"{frames[-1][1]}:{frames[-1][2]} in {frames[-1][3]}" if frames else "(no generator frame)"
    return f"{exc_type or '?'} @ {where}"


def stderr_tail(outcome: Outcome, lines: int = 6, width: int = 200) -> str:
    text = (outcome.exception or outcome.stderr or outcome.stdout).strip().splitlines()
    return "\n".join(short(line, width) for line in text[-lines:])


# ---------------------------------------------------------------------------------------------------------------
# A repository for many cases


class FuzzRepo:
    """One repository copy for many cases: each case rewrites one file and restores it afterwards."""

    def __init__(self, root: Path):
        self.root = root
        self.mutator = Mutator(root)

    @contextmanager
    def applied(self, m: Mutation) -> Iterator[None]:
        path = self.root / m.file
        try:
            if m.rename:
                path.unlink()
                (self.root / m.rename).write_bytes(m.content)
            else:
                path.write_bytes(m.content)
            yield
        finally:
            if m.rename:
                try:
                    (self.root / m.rename).unlink()
                except OSError:
                    pass
            path.write_bytes(self.mutator.originals[m.file])

    def validate(self, m: Mutation, timeout: float | None = 20.0) -> Outcome:
        with self.applied(m):
            return run_cli(self.root, "validate", *(["--env", m.env] if m.env else []), timeout=timeout)


@contextmanager
def reuse_unchanged_parses(originals: dict[Path, bytes]) -> Iterator[None]:
    """Speed: reuse the parsed and validated Document of every input whose bytes are the original ones.

    The Reader already shares one parsed Document among the environments of a run (documents are never mutated),
    so sharing it among runs of unchanged files is the same contract; the mutated file always takes the real path
    (its bytes differ). Falls back to no reuse when the seams (reader.load_file, reader.validate_document) move.
    """
    try:
        from nimgen.inputs import reader
        real_load, real_validate = reader.load_file, reader.validate_document
    except (ImportError, AttributeError):
        yield
        return
    parsed: dict[tuple, Any] = {}
    cached_ids: set[int] = set()
    validated: dict[tuple, list] = {}
    wanted = {str(p): b for p, b in originals.items()}

    def load_file(path, *args, **kwargs):
        key = str(path)
        if key not in wanted:
            return real_load(path, *args, **kwargs)
        try:
            data = Path(path).read_bytes() if Path(path).is_file() and not Path(path).is_symlink() else None
        except OSError:
            data = None
        if data != wanted[key]:
            return real_load(path, *args, **kwargs)
        cache_key = (key, data, args, tuple(sorted(kwargs.items())))
        if cache_key not in parsed:
            doc, problems = real_load(path, *args, **kwargs)
            parsed[cache_key] = (doc, problems)
            if doc is not None:
                cached_ids.add(id(doc))
        doc, problems = parsed[cache_key]
        return doc, list(problems)

    def validate_document(doc, *args, **kwargs):
        if id(doc) not in cached_ids:
            return real_validate(doc, *args, **kwargs)
        key = (id(doc), args, tuple(sorted(kwargs.items())))
        if key not in validated:
            validated[key] = real_validate(doc, *args, **kwargs)
        return list(validated[key])

    reader.load_file, reader.validate_document = load_file, validate_document
    try:
        yield
    finally:
        reader.load_file, reader.validate_document = real_load, real_validate


# ---------------------------------------------------------------------------------------------------------------
# What an accepted build must satisfy beyond the JSON schemas (rules the API server applies)

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
LABEL_NAMED_KINDS = {"Namespace", "Service", "InferenceService"}   # names that must be DNS labels
ANNOTATIONS_LIMIT = 256 * 1024


def _key_problem(key: Any) -> str | None:
    if not isinstance(key, str):
        return f"key {key!r} is not a string"
    prefix, _, name = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > 253 or not DNS_SUBDOMAIN.match(prefix)):
        return f"key prefix {short(prefix, 60)} is not a DNS subdomain of at most 253 characters"
    if not name or len(name) > 63 or not QUALIFIED_NAME.match(name):
        return f"key name {short(name, 60)} is not a qualified name of at most 63 characters"
    return None


def admission_problems(obj: dict) -> list[str]:
    """What the API server would refuse in one object although its JSON schema passes."""
    found: list[str] = []
    kind = obj.get("kind")
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    pattern, limit = (DNS_LABEL, 63) if kind in LABEL_NAMED_KINDS else (DNS_SUBDOMAIN, 253)
    if not isinstance(name, str) or len(name) > limit or not pattern.match(name):
        found.append(f"metadata.name {short(name, 80)} is not a DNS {'label' if limit == 63 else 'subdomain'}")
    namespace = meta.get("namespace")
    if namespace is not None and (not isinstance(namespace, str) or len(namespace) > 63
                                  or not DNS_LABEL.match(namespace)):
        found.append(f"metadata.namespace {short(namespace, 80)} is not a DNS label")

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                where = f"{path}.{key}"
                if key in ("labels", "matchLabels") and isinstance(child, dict):
                    for k, v in child.items():
                        problem = _key_problem(k)
                        if problem:
                            found.append(f"{where}: label {problem}")
                        if not isinstance(v, str) or len(v) > 63 or not LABEL_VALUE.match(v):
                            found.append(f"{where}[{short(k, 60)}]: label value {short(v, 60)} is invalid")
                if key == "annotations" and isinstance(child, dict):
                    size = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in child.items())
                    if size > ANNOTATIONS_LIMIT:
                        found.append(f"{where}: annotations total {size} bytes, more than 256 KiB")
                    for k in child:
                        problem = _key_problem(k)
                        if problem:
                            found.append(f"{where}: annotation {problem}")
                if key == "volumeMounts" and isinstance(child, list):
                    for mount in child:
                        sub = mount.get("subPath") if isinstance(mount, dict) else None
                        if isinstance(sub, str) and (sub.startswith("/") or ".." in sub.split("/")):
                            found.append(f"{where}: subPath {short(sub, 60)} must be relative without '..'")
                if key == "storageClassName" and isinstance(child, str) and (
                        len(child) > 253 or not DNS_SUBDOMAIN.match(child)):
                    found.append(f"{where}: storageClassName {short(child, 60)} is not a DNS subdomain")
                if key == "matchExpressions" and isinstance(child, list) and "nodeAffinity" in path:
                    for expr in child:
                        if isinstance(expr, dict):
                            problem = _requirement_problem(expr)
                            if problem:
                                found.append(f"{where}: {problem}")
                if key == "tolerations" and isinstance(child, list):
                    for tol in child:
                        if isinstance(tol, dict):
                            problem = _toleration_problem(tol)
                            if problem:
                                found.append(f"{where}: {problem}")
                walk(child, where)
        elif isinstance(value, list):
            for i, child in enumerate(value):
                walk(child, f"{path}[{i}]")

    walk(obj, kind or "?")
    return found


def _requirement_problem(expr: dict) -> str | None:
    op, values = expr.get("operator"), expr.get("values") or []
    if _key_problem(expr.get("key")):
        return f"node selector key {short(expr.get('key'), 60)}: {_key_problem(expr.get('key'))}"
    if op in ("In", "NotIn") and not values:
        return f"operator {op} needs values"
    if op in ("Exists", "DoesNotExist") and values:
        return f"operator {op} takes no values"
    if op in ("Gt", "Lt") and (len(values) != 1 or not re.fullmatch(r"-?[0-9]+", str(values[0]))):
        return f"operator {op} needs one integer value, found {values!r}"
    if op not in ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"):
        return f"unknown node selector operator {op!r}"
    for v in values:
        if not isinstance(v, str) or len(v) > 63 or not LABEL_VALUE.match(v):
            return f"node selector value {short(v, 60)} is not a label value"
    return None


def _toleration_problem(tol: dict) -> str | None:
    op = tol.get("operator", "Equal")
    if op not in ("Equal", "Exists"):
        return f"toleration operator {op!r}"
    if op == "Exists" and tol.get("value"):
        return "toleration operator Exists with a value"
    if not tol.get("key") and op != "Exists":
        return "toleration with an empty key needs operator Exists"
    if tol.get("key") and _key_problem(tol["key"]):
        return f"toleration key: {_key_problem(tol['key'])}"
    if tol.get("effect") not in (None, "", "NoSchedule", "PreferNoSchedule", "NoExecute"):
        return f"toleration effect {tol.get('effect')!r}"
    if "tolerationSeconds" in tol and tol.get("effect") != "NoExecute":
        return "tolerationSeconds without effect NoExecute"
    return None


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def verify_accepted(root: Path, secrets: Sequence[str] = ()) -> list[str]:
    """Problems of an accepted build's out/: verify (strict Kubernetes schemas, nimgen's CRD schemas and the upstream
    schemas when ../shared/crds/jsonschema exists), the API server's rules, and no NGC-key-looking string."""
    from nimgen.diagnostics import BuildFailed
    from nimgen.output.read import out_manifests
    from nimgen.usecases import verify_out

    locations = [UPSTREAM_SCHEMAS] if UPSTREAM_SCHEMAS.is_dir() else []
    found: list[str] = []
    try:
        problems = verify_out(root, schema_locations=locations).problems
        found += [d.text() for d in problems if d.severity == "error"]
        objects = {env: {rel: m.objects for rel, m in files.items()} for env, files in out_manifests(root).items()}
    except BuildFailed as failed:
        return found + [d.text() for d in failed.diagnostics if d.severity == "error"]
    for env, files in objects.items():
        for relpath, objs in files.items():
            for obj in objs:
                name = (obj.get("metadata") or {}).get("name") if isinstance(obj, dict) else None
                found += [f"out/{env}/{relpath}: {obj.get('kind')} {short(name, 60)}: {p}"
                          for p in admission_problems(obj)]
    for rel, data in snapshot(root / "out").items():
        text = data.decode("utf-8", "replace")
        if echoed(secrets, text):
            found.append(f"out/{rel}: holds an NGC-key-looking string")
        lines = text.split("\n")
        if rel.endswith(".yaml") and "---" in lines:      # a manifest: only comments before its first object
            for number, line in enumerate(lines[:lines.index("---")], 1):
                if line.strip() and not line.startswith("#"):
                    found.append(f"out/{rel}:{number}: the header holds a line that is not a comment: "
                                 f"{short(line, 80)}")
                    break
    return found
