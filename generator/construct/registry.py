"""Which construct renders which model type. A type that renders nothing is listed as such, so a new model
variant without a construct fails loudly instead of silently rendering nothing."""

from __future__ import annotations

from typing import Any, Callable

from constructs import Construct

Renderer = Callable[[Construct, Any], Any]
_RENDERERS: dict[type, Renderer | None] = {}


def renders(*model_types: type) -> Callable[[Renderer], Renderer]:
    def register(construct: Renderer) -> Renderer:
        for model_type in model_types:
            _RENDERERS[model_type] = construct
        return construct
    return register


def renders_nothing(*model_types: type) -> None:
    for model_type in model_types:
        _RENDERERS[model_type] = None


def render(scope: Construct, part: Any) -> None:
    try:
        construct = _RENDERERS[type(part)]
    except KeyError:
        raise TypeError(f"no construct registered for {type(part).__name__}") from None
    if construct is not None:
        construct(scope, part)
