"""Input validation asks jsonschema-rs (with nimgen's own keywords) first whether a document is valid, and lets
jsonschema report the errors of one it finds invalid: both must agree on what is valid, or an input error could
pass unreported."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import given, settings, strategies as st

from meaning import value_paths

from conftest import FIXTURE
from nimgen.inputs import validate

DOCUMENTS = {
    "InferenceWorkload": FIXTURE / "environments/base/workloads/llama-8b-chat.yaml",
    "Environment": FIXTURE / "environments/base/environment.yaml",
    "Project": FIXTURE / "environments/base/projects/chat.yaml",
}
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 10**6), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["1Gi", "1.5Gi", "0.5", "100m", "1e3", "-1", "", " ", "a\nb", "x" * 300, "nvidia.com/gpu", "1.33",
                     "1.99", "Standard", "keda", "ngc-api", "UPPER", "a_b", "s3://b/p", "hf://o/m", "8Gi ", "Ki"]),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.sampled_from(["name", "value", "type", "gpus", "x"]), st.integers(0, 3), max_size=2),
)


def document(kind: str) -> dict[str, Any]:
    data = yaml.safe_load(Path(DOCUMENTS[kind]).read_text())
    return data


def agree(kind: str, data: dict[str, Any]) -> None:
    fast = validate.fast_validator_for(kind)
    assert fast is not None                                   # the fast path is in use for this kind
    python_valid = next(iter(validate.validator_for(kind).iter_errors(data)), None) is None
    assert fast.is_valid(data) == python_valid, data


def test_the_unchanged_documents_are_valid_for_both():
    for kind in DOCUMENTS:
        agree(kind, document(kind))


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(sorted(DOCUMENTS)), data=st.data(), value=VALUES, add=st.booleans())
def test_jsonschema_rs_and_jsonschema_agree_on_mutated_inputs(kind, data, value, add):
    doc = copy.deepcopy(document(kind))
    path = data.draw(st.sampled_from(value_paths(doc)))
    node = doc
    for part in path[:-1]:
        node = node[part]
    if add and isinstance(node, dict):
        node[data.draw(st.sampled_from(["extra", "name", "quota", "gpus", "env"]))] = value
    else:
        node[path[-1]] = value
    agree(kind, doc)


def put(doc: dict[str, Any], path: tuple, value: Any) -> None:
    node = doc
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value


def test_nimgens_own_keywords_refuse_alike():
    """A value only nimgen's keywords refuse (its pattern and type are fine) is invalid for jsonschema-rs too."""
    cases = [("Environment", ("spec", "kubernetesVersion"), "1.99"),                       # x-kubernetes-version
             ("InferenceWorkload", ("spec", "compute", "memory"), "9" * 40 + "Ei"),          # x-quantity
             ("InferenceWorkload", ("metadata", "annotations"), {"a": "x" * 300_000})]        # x-max-total-bytes
    for kind, path, value in cases:
        doc = copy.deepcopy(document(kind))
        put(doc, path, value)
        assert next(iter(validate.validator_for(kind).iter_errors(doc)), None) is not None, path
        agree(kind, doc)
