"""verify asks jsonschema-rs first whether an object is valid (hundreds of times faster), and lets jsonschema
word the problems of an invalid one: the two must agree on what is valid, for the strict Kubernetes schemas and
nimgen's CRD schemas alike."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings, strategies as st

from meaning import value_paths

from nimgen.verify import schemas

HPA = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "w", "namespace": "n"},
       "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "w-predictor"},
                "minReplicas": 1, "maxReplicas": 3,
                "behavior": {"scaleUp": {"policies": [{"type": "Pods", "value": 1, "periodSeconds": 420}]}}}}
QUEUE = {"apiVersion": "scheduling.run.ai/v2", "kind": "Queue", "metadata": {"name": "q"},
         "spec": {"resources": {"gpu": {"quota": 1, "limit": 2, "overQuotaWeight": 1},
                                "cpu": {"quota": -1, "limit": -1, "overQuotaWeight": 1},
                                "memory": {"quota": -1, "limit": -1, "overQuotaWeight": 1}}}}
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=4), st.lists(st.integers(0, 2), max_size=2),
                   st.dictionaries(st.sampled_from(["a", "name", "type"]), st.integers(0, 2), max_size=2))


def agree(obj: dict[str, Any], kind_of: dict[str, Any] | None = None) -> None:
    """Both validators of the kind of `kind_of` (the object itself by default) judge `obj` alike."""
    of = kind_of or obj
    check = schemas.validator("1.33", of["apiVersion"], of["kind"])
    assert check is not None
    fast = schemas._fast(check)
    assert fast is not None                                  # the fast path is in use for this kind
    assert fast.is_valid(obj) == (next(iter(check.iter_errors(obj)), None) is None)


@settings(max_examples=150, deadline=None)
@given(which=st.sampled_from([HPA, QUEUE]), data=st.data(), value=VALUES)
def test_jsonschema_rs_and_jsonschema_agree_on_what_is_valid(which, data, value):
    obj = copy.deepcopy(which)
    path = data.draw(st.sampled_from(value_paths(obj)))
    node = obj
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    agree(obj, which)


def test_the_unchanged_objects_are_valid_for_both():
    agree(HPA)
    agree(QUEUE)
