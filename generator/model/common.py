"""Shapes shared by every part of the resolved model."""

from __future__ import annotations

from dataclasses import dataclass

Labels = tuple[tuple[str, str], ...]  # sorted (key, value) pairs: hashable, ordered, JSON-able


def labels_of(mapping: dict[str, str] | None) -> Labels:
    return tuple(sorted((mapping or {}).items()))


@dataclass(frozen=True)
class Meta:
    """Name, labels and annotations of one rendered object.

    The namespace and the labels every object of a file shares are the chart's (see Workload.labels and
    Project.labels); `labels` here are only the ones this object adds.
    """

    name: str
    labels: Labels = ()
    annotations: Labels = ()


@dataclass(frozen=True)
class Provenance:
    """For `nimgen explain`: one effective value of a workload and where it came from."""

    path: str
    value: str            # already rendered for display (JSON for structures)
    origin: str
