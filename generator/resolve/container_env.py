"""The NIM container's environment: what nimgen sets from other fields (owned), what it only defaults, and the
user's `env` layered over the defaults: nimgen's defaults < the Environment's spec.nim.env < the base workload's
spec.env < the environment's workload's spec.env (the last two merged by name in layering).

An owned name is refused wherever a user sets it, with the field that sets it: nimgen's probes, volumes, policies
and checks depend on its value, so a second value would break them silently. A literal value that looks like a
credential is refused: it would be committed to out/ and git.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, assert_never

from ..diagnostics import CREDENTIAL_PATTERN, Diagnostic
from ..inputs.load import Document, PathKey
from ..model import ConfigMapKeyRef, EnvRemoval, EnvSetting, EnvValue, EnvVar, SecretKeyRef
from . import nim
from .context import WorkloadContext
from .outbound import CA_ENV_NAMES, PROXY_NAMES

# Names nimgen sets from other fields, and the field a user changes instead. Sources for each name's meaning:
# research/issue15-nim-facts.md.
OWNED: dict[str, str] = {
    "NIM_MODEL_PROFILE": "spec.profile (nimgen pins the profile it checked against the node pool's GPUs)",
    "NIM_TAGS_SELECTOR": "spec.profile (nimgen pins the profile it checked with NIM_MODEL_PROFILE; a tag selector "
                         "beside it would select another or be ignored: use profile.auto, name or id)",
    "NIM_CACHE_PATH": "spec.store (the cache volume is mounted there)",
    "NGC_API_KEY": "spec.store.ngc.secret (a Secret reference)",
    "NIM_SERVER_PORT": "nimgen (probes, Services, network and mesh policies and the scrape all use port 8000)",
    "NIM_HTTP_API_PORT": "nimgen (NIM 1.x's name for the API port: probes, Services and policies use port 8000)",
    "NIM_HEALTH_PORT": "nimgen (the probes ask for health on port 8000)",
    "NIM_SDK_USE_NATIVE_TLS": "spec.network (set with a proxy or a CA bundle)",
    "NIM_MODEL_NAME": "spec.store.uri (a Hugging Face model is served from where KServe downloads it)",
    "NIM_MODEL_PATH": "spec.store (the model is read from the store's mount)",
    "HF_TOKEN": "spec.store.uri.tokenSecret (a Secret reference)",
    "STORAGE_URI": "spec.store.uri (KServe's storage initializer reads it)",
    "NIM_PEFT_SOURCE": "spec.lora.source (the adapters' volume is mounted there)",
    "NIM_MAX_GPU_LORAS": "spec.lora.maxAdapters",
    "NIM_MAX_CPU_LORAS": "spec.lora.maxCpuAdapters",
    "NIM_PEFT_REFRESH_INTERVAL": "spec.lora.refreshSeconds",
    **{name: "spec.network.proxy (on the Environment, or the workload's own)" for name in PROXY_NAMES},
    **{name: "spec.network.caBundle (the bundle is mounted and every client pointed at it)" for name in CA_ENV_NAMES},
}
# Parts of a variable's name that say it holds a credential; a literal value there is refused (a name ending in
# _PATH, _FILE or _DIR holds where a credential is, not the credential).
SECRET_WORDS = frozenset({"KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "CREDENTIALS", "APIKEY"})
LOCATION_WORDS = frozenset({"PATH", "FILE", "DIR", "ID", "NAME"})


def names_a_secret(name: str) -> bool:
    parts = name.upper().replace("-", "_").replace(".", "_").split("_")
    return bool(SECRET_WORDS & set(parts)) and parts[-1] not in LOCATION_WORDS


def _value(item: dict[str, Any]) -> EnvValue:
    if "value" in item:
        return str(item["value"])
    source = item["valueFrom"]
    if "secretKeyRef" in source:
        return SecretKeyRef(source["secretKeyRef"]["name"], source["secretKeyRef"]["key"])
    return ConfigMapKeyRef(source["configMapKeyRef"]["name"], source["configMapKeyRef"]["key"])


def env_settings(doc: Document, path: PathKey) -> tuple[tuple[EnvSetting, ...], list[Diagnostic]]:
    """The settings of one `env` list (already layered by file), with a located problem for each entry that sets
    an owned name, repeats a name, or writes a credential as a literal."""
    node: Any = doc.data
    for part in path:
        node = node.get(part) if isinstance(node, dict) else None
    settings: list[EnvSetting] = []
    problems: list[Diagnostic] = []
    first: dict[str, int] = {}
    for i, item in enumerate(node or ()):
        name, at = item["name"], path + (i,)
        if name in first:
            line = doc.where(path + (first[name],))[1]
            problems.append(doc.diagnostic(at + ("name",), f"{name} is set twice in this env list",
                                           f"keep one entry (the other is at line {line})"))
            continue
        first[name] = i
        if name in OWNED:
            problems.append(doc.diagnostic(at + ("name",), f"nimgen sets {name} itself, from {OWNED[name]}",
                                           "drop this entry and set that field instead"))
            continue
        if item.get("remove"):
            settings.append(EnvRemoval(name))
            continue
        value = _value(item)
        if isinstance(value, str) and (CREDENTIAL_PATTERN.search(value) or (value and names_a_secret(name))):
            problems.append(doc.diagnostic(at + ("value",), f"{name} holds a credential written as a literal value, "
                                           "which would land in out/ and in git",
                                           "store it in a Secret and write valueFrom: {secretKeyRef: {name, key}}; "
                                           "if it was a real credential, revoke it: it is in git history now"))
            continue
        settings.append(EnvVar(name, value))
    return tuple(settings), problems


def layered(defaults: tuple[EnvVar, ...], layers: tuple[tuple[EnvSetting, ...], ...]) -> tuple[tuple[EnvVar, ...], tuple[EnvVar, ...]]:
    """nimgen's defaults with each layer applied in turn: a variable replaces one of the same name in place, a
    removal drops it. Returns the defaults as they end up (in their order) and the user's other variables (in the
    order first set), which go last in the container so that their $(VAR) references see every other variable."""
    found: dict[str, EnvVar] = {v.name: v for v in defaults}
    for layer in layers:
        for setting in layer:
            match setting:
                case EnvRemoval(name):
                    found.pop(name, None)
                case EnvVar(name):
                    found[name] = setting
    default_names = {v.name for v in defaults}
    return (tuple(v for v in found.values() if v.name in default_names),
            tuple(v for v in found.values() if v.name not in default_names))


WORKLOAD_ENV = ("spec", "env")


@dataclass(frozen=True)
class UserEnv:
    """nimgen's defaults as the user's layers leave them, and the user's other variables (in the order first set):
    the server gets them, and so does its warm-up, which runs the same image's downloader (a variable such as
    NIM_REPOSITORY_OVERRIDE must apply to both)."""

    defaults: tuple[EnvVar, ...]
    extras: tuple[EnvVar, ...]
    settings: tuple[EnvSetting, ...]     # the workload's own layer, as written

    @property
    def all(self) -> tuple[EnvVar, ...]:
        return self.defaults + self.extras


def user_env(ctx: WorkloadContext) -> UserEnv:
    settings, problems = env_settings(ctx.doc, WORKLOAD_ENV)
    ctx.problems.extend(problems)
    defaults, extras = layered(nim.DEFAULT_ENV, (ctx.env.nim_env, settings))
    written = {item["name"]: i for i, item in enumerate(ctx.spec.get("env", ()))}
    for var in defaults + extras:
        origin = (ctx.from_doc(WORKLOAD_ENV + (written[var.name],)) if var.name in written
                  else f"environment ({ctx.env.source})" if any(s.name == var.name for s in ctx.env.nim_env)
                  else "default")
        ctx.record(f"env.{var.name}", shown(var.value), origin)
    return UserEnv(defaults, extras, settings)


def server_env(ctx: WorkloadContext, head: tuple[EnvVar, ...], owned: tuple[EnvVar, ...], user: UserEnv) -> tuple[EnvVar, ...]:
    """The NIM container's variables: nimgen's own (`head`), its defaults as the user's layers leave them, what
    the workload's other fields set (`owned`), then the user's other variables, so that a $(VAR) in a user's
    value sees all of nimgen's. A layer that sets a variable nimgen sets for this workload only (a GPU share's
    memory bound, LoRA limits) is an error where it is written."""
    fields = {v.name for v in head + owned} - set(OWNED)      # OWNED names: refused by env_settings already
    for i, item in enumerate(ctx.spec.get("env", ())):
        if item["name"] in fields and not item.get("remove"):
            ctx.error(WORKLOAD_ENV + (i, "name"), f"nimgen sets {item['name']} for this workload itself (a GPU "
                      "share's memory bound, or LoRA limits)", "drop this entry; set the field that decides it instead")
    removed = {s.name for s in user.settings if isinstance(s, EnvRemoval)}
    inherited = sorted(({s.name for s in ctx.env.nim_env if isinstance(s, EnvVar)} & fields) - removed)
    if inherited:
        ctx.error(WORKLOAD_ENV if "env" in ctx.spec else ("spec",), f"the environment's spec.nim.env "
                  f"({ctx.env.source}) sets {', '.join(inherited)}, which nimgen sets for this workload itself",
                  f"drop it for this workload: spec.env: [{{name: {inherited[0]}, remove: true}}]", key=True)
    return head + user.defaults + owned + user.extras


def shown(value: EnvValue) -> str:
    """A variable's value as `explain` prints it (a reference by what it names)."""
    match value:
        case str(text):
            return text
        case SecretKeyRef(name, key):
            return f"Secret {name}, key {key}"
        case ConfigMapKeyRef(name, key):
            return f"ConfigMap {name}, key {key}"
        case _:
            assert_never(value)
