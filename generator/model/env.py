"""A container's environment variables: a literal or a reference the kubelet resolves, and the removal of a
variable a lower layer set (spec.env)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union


@dataclass(frozen=True)
class SecretKeyRef:
    name: str
    key: str


@dataclass(frozen=True)
class ConfigMapKeyRef:
    name: str
    key: str


EnvValue = Union[str, SecretKeyRef, ConfigMapKeyRef]


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: EnvValue                      # a literal, or a reference the kubelet reads when the pod starts


@dataclass(frozen=True)
class EnvRemoval:
    """`{name, remove: true}`: drops a variable a lower layer set (nimgen's default, the environment's, the base
    workload's)."""

    name: str


EnvSetting = Union[EnvVar, EnvRemoval]
