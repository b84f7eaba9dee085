"""Convert real NIM profile metadata (nim-profiles.yaml) into nimgen's model catalog (templates/models/*.yaml).

Provenance
----------
* ``nim-profiles.yaml`` (kept next to ``NIM_FACTS.md``, outside this repository) holds real profile metadata of six
  LLM NIMs, two releases each (424 profiles). It was extracted from the public registry files of the GitHub
  repository cloudera/Model-Hub (commit d36fc6f); every id also appears, with the same tags, in that repository's
  NIM manifest for the same release. See the header of that file and NIM_FACTS.md.
* ``HAND_ENTERED`` below copies two small profile tables printed in NIM_FACTS.md (``list-model-profiles`` of
  ``meta/llama-3.1-8b-instruct:1.1.2`` and NIM's documentation example for ``meta/llama3-8b-instruct:1.0.0``).
* ``PARAMETERS_BILLIONS`` is the parameter count each model's public name / model card states.

Every ``id`` written comes verbatim from one of those two sources: this script never makes one up.

Derived fields
--------------
* ``name`` of a registry profile is derived from its tags with NIM's naming scheme
  ``{engine}-{gpu lower-case}-{precision}-tp{tp}[-pp{pp} if pp > 1][-{objective}][-lora]``; a GPU-agnostic profile
  (no ``gpu`` tag) has no gpu part, and the objective part is left out when the profile has no objective.
  Hand-entered profiles keep the names exactly as NIM printed them.
* Tags of hand-entered profiles are parsed from their names (engine-gpu-precision-tpN-objective[-lora]); pp is 1,
  the GPU is written in upper case as the registry spells it; their gpuDevice and minVramGB are unknown and omitted.
* ``image`` is the registry's container repository without tag (the release is the tag). Where the source gives no
  image, it is ``nvcr.io/`` + the release's ``ngcRepo``, following NGC's naming convention.
* Renamed tags: ``gpu_device`` -> ``gpuDevice``. ``numGpus`` is NOT copied: the source notes it is wrong (twice tp)
  on 59 profiles; a profile runs on tp x pp GPUs.

Output is deterministic: models alphabetically, releases in source order (hand-entered, older releases first),
profiles sorted by name then id. Usage::

    python tools/import_nim_profiles.py ../shared/nim-profiles.yaml [OUTPUT_DIR]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "templates" / "models"
API_VERSION = "nimgen.dev/v1alpha1"
KIND = "NimModel"

# Parameter count in billions, from each model's public name / model card.
PARAMETERS_BILLIONS = {
    "meta/llama-3.1-70b-instruct": 70,
    "meta/llama-3.1-8b-instruct": 8,
    "meta/llama-3.3-70b-instruct": 70,
    "meta/llama3-8b-instruct": 8,
    "mistralai/mistral-7b-instruct-v0.3": 7.25,
    "mistralai/mixtral-8x7b-instruct-v0.1": 46.7,
    "nvidia/llama-3.3-nemotron-super-49b-v1": 49,
}

# Releases copied by hand from NIM_FACTS.md: (model, image or None, release, [(id, name as printed), ...]).
# They are older than the releases in nim-profiles.yaml and are put first.
HAND_ENTERED = [
    ("meta/llama-3.1-8b-instruct", None, "1.1.2", [
        ("0494aafce0df9eeaea49bbca6b25fc3013d0e8a752ebcf191a2ddeaab19481ee", "tensorrt_llm-l40s-bf16-tp2-latency"),
        ("3807be802a8ab1d999bf280c96dcd8cf77ac44c0a4d72edb9083f0abb89b6a19", "tensorrt_llm-l40s-bf16-tp1-throughput"),
        ("2959f7f0dfeb14631352967402c282e904ff33e1d1fa015f603d9890cf92ca0f", "tensorrt_llm-h100-fp8-tp1-throughput"),
        ("9cff0915527166b2e93c08907afd4f74e168562992034a51db00df802e86518c", "tensorrt_llm-h100-bf16-tp1-throughput"),
        ("40543df47628989c7ef5b16b33bd1f55165dddeb608bf3ccb56cdbb496ba31b0",
         "tensorrt_llm-h100-bf16-tp1-throughput-lora"),
        ("7ea3369b85d7aee24e0739df829da8832b6873803d5f5aca490edad7360830c8", "tensorrt_llm-a100-bf16-tp1-throughput"),
        ("3bb4e8fe78e5037b05dd618cebb1053347325ad6a1e709e0eb18bb8558362ac5", "vllm-fp16-tp1"),
        ("dfd9bee71abb7582246f7fb8c2aedd9119909b9639e1b4b0260ef6865545ede7", "vllm-fp16-tp1-lora"),
    ]),
    ("meta/llama3-8b-instruct", "nvcr.io/nim/meta/llama3-8b-instruct", "1.0.0", [
        ("a93a1a6b72643f2b2ee5e80ef25904f4d3f942a87f8d32da9e617eeccfaae04c", "tensorrt_llm-A100-fp16-tp2-latency"),
        ("751382df4272eafc83f541f364d61b35aed9cce8c7b0c869269cea5a366cd08c", "tensorrt_llm-A100-fp16-tp1-throughput"),
        ("19031a45cf096b683c4d66fff2a072c0e164a24f19728a58771ebfc4c9ade44f", "vllm-fp16-tp2"),
        ("8835c31752fbc67ef658b20a9f78e056914fdef0660206d82f252d62fd96064d", "vllm-fp16-tp1"),
    ]),
]

PRECISIONS = ("fp32", "fp16", "bf16", "fp8", "int8", "int4_awq", "nvfp4", "mxfp4")
NAME_RE = re.compile(
    r"^(?P<engine>tensorrt_llm|vllm|sglang)"
    r"(?:-(?P<gpu>[A-Za-z0-9_]+?))?"
    rf"-(?P<precision>{'|'.join(PRECISIONS)})"
    r"-tp(?P<tp>\d+)"
    r"(?:-(?P<objective>latency|throughput))?"
    r"(?P<lora>-lora)?$"
)

# Field order of a catalog profile, and how each source key is renamed (numGpus is deliberately absent).
FIELDS = ("id", "name", "engine", "gpu", "gpuDevice", "precision", "tp", "pp", "objective", "lora",
          "minVramGB", "downloadSize", "buildable")
RENAME = {"gpu_device": "gpuDevice"}
DROPPED = {"numGpus"}

YAML12_NUMBER = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+")

HEADER = """\
# yaml-language-server: $schema=../../schemas/nim-model.schema.json
# NIM model catalog entry, generated by tools/import_nim_profiles.py -- edit the script, not this file.
# Source: nim-profiles.yaml (real NIM profile metadata from the public registry files of cloudera/Model-Hub,
# commit d36fc6f; see NIM_FACTS.md) and, for releases marked below, profile tables printed in NIM_FACTS.md.
# Every id is a real NIM profile id copied from the source; none is invented.
# Names of registry profiles are derived from their tags with NIM's naming scheme
# {engine}-{gpu}-{precision}-tp{tp}[-pp{pp}]-{objective}[-lora]; hand-entered names are as NIM printed them.
# The source's numGpus is not copied: a profile runs on tp x pp GPUs.
"""


def profile_name(p: dict) -> str:
    """NIM's readable profile name, derived from the profile's tags."""
    parts = [p["engine"]]
    if "gpu" in p:
        parts.append(p["gpu"].lower())
    parts += [p["precision"], f"tp{p['tp']}"]
    if p["pp"] > 1:
        parts.append(f"pp{p['pp']}")
    if "objective" in p:
        parts.append(p["objective"])
    if p["lora"]:
        parts.append("lora")
    return "-".join(parts)


def registry_profile(src: dict) -> dict:
    unknown = set(src) - set(FIELDS) - set(RENAME) - DROPPED
    if unknown:
        raise SystemExit(f"unexpected keys {sorted(unknown)} in profile {src.get('id')}")
    p = {RENAME.get(k, k): v for k, v in src.items() if k not in DROPPED}
    p["name"] = profile_name(p)
    return p


def hand_entered_profile(pid: str, name: str) -> dict:
    m = NAME_RE.match(name)
    if not m:
        raise SystemExit(f"cannot parse hand-entered profile name {name!r}")
    p = {"id": pid, "name": name, "engine": m["engine"]}
    if m["gpu"]:
        p["gpu"] = m["gpu"].upper()
    p.update(precision=m["precision"], tp=int(m["tp"]), pp=1)
    if m["objective"]:
        p["objective"] = m["objective"]
    p["lora"] = bool(m["lora"])
    return p


def sort_profiles(profiles: list[dict]) -> list[dict]:
    ordered = [{k: p[k] for k in FIELDS if k in p} for p in profiles]
    return sorted(ordered, key=lambda p: (p["name"], p.get("id", "")))


def build_catalog(source: dict) -> dict[str, dict]:
    """model name -> {'image', 'imageNote', 'versions': [{'version', 'note', 'profiles'}]}"""
    models: dict[str, dict] = {}
    for m in source["models"]:
        versions = []
        for r in m["releases"]:
            versions.append({
                "version": r["release"],
                "note": f"nim-profiles.yaml, ngcRepo {r['ngcRepo']}",
                "profiles": sort_profiles([registry_profile(p) for p in r["profiles"]]),
            })
        if "image" in m:
            image, note = m["image"], "the registry's container_url"
        else:
            repos = sorted({r["ngcRepo"] for r in m["releases"]})
            if len(repos) != 1:
                raise SystemExit(f"{m['model']}: no image and several ngcRepos {repos}")
            image, note = f"nvcr.io/{repos[0]}", "no image in the source: nvcr.io/ + ngcRepo (NGC's naming convention)"
        models[m["model"]] = {"image": image, "imageNote": note, "versions": versions}

    for model, image, release, table in reversed(HAND_ENTERED):  # reversed + insert(0) keeps table order
        entry = models.setdefault(model, {"image": image, "imageNote": "as in NIM's documentation", "versions": []})
        entry["versions"].insert(0, {
            "version": release,
            "note": "NIM_FACTS.md (list-model-profiles output, hand-entered)",
            "profiles": sort_profiles([hand_entered_profile(pid, name) for pid, name in table]),
        })
    return models


def scalar(v) -> str:
    """A YAML scalar that any YAML 1.1 or 1.2 loader reads back as exactly `v`."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    plain = (re.fullmatch(r"[A-Za-z0-9_/][A-Za-z0-9_./-]*", v)
             and yaml.safe_load(v) == v                    # YAML 1.1 (PyYAML) reads it as this string
             and not YAML12_NUMBER.fullmatch(v))            # and so does a YAML 1.2 core-schema loader
    return v if plain else json.dumps(v)


def render(model: str, entry: dict) -> str:
    lines = [HEADER.rstrip("\n"),
             f"apiVersion: {API_VERSION}",
             f"kind: {KIND}",
             "metadata:",
             f"  name: {scalar(model)}",
             "spec:",
             f"  image: {scalar(entry['image'])}  # {entry['imageNote']}; version = tag",
             f"  parametersBillions: {scalar(PARAMETERS_BILLIONS[model])}  # from the model's public name / card",
             "  versions:"]
    for v in entry["versions"]:
        lines.append(f"    # {len(v['profiles'])} profiles from {v['note']}")
        lines.append(f"    - version: {json.dumps(v['version'])}")
        lines.append("      profiles:")
        for p in v["profiles"]:
            body = ", ".join(f"{k}: {json.dumps(val) if k == 'gpuDevice' else scalar(val)}" for k, val in p.items())
            lines.append(f"        - {{{body}}}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("profiles", type=Path, help="path to nim-profiles.yaml")
    ap.add_argument("out", type=Path, nargs="?", default=DEFAULT_OUT,
                    help="output directory (default: templates/models of this repository)")
    args = ap.parse_args(argv)

    source = yaml.safe_load(args.profiles.read_text(encoding="utf-8"))
    catalog = build_catalog(source)
    args.out.mkdir(parents=True, exist_ok=True)
    for model in sorted(catalog):
        path = args.out / (model.replace("/", "--") + ".yaml")
        path.write_text(render(model, catalog[model]), encoding="utf-8", newline="\n")
        count = sum(len(v["profiles"]) for v in catalog[model]["versions"])
        print(f"{path}: {count} profiles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
