"""Kubernetes quantity arithmetic, just enough to compare and convert the quantities nimgen reads."""

from __future__ import annotations

import re
from decimal import Decimal

_SUFFIX: dict[str, int | Decimal] = {
    "": 1, "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}
_QUANTITY = re.compile(r"^\+?(?P<num>[0-9]+(\.[0-9]*)?|\.[0-9]+)(?P<suffix>[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$")


def parse(value: str | int | float) -> Decimal:
    """'16Gi' -> 17179869184, '500m' -> 0.5. Raises ValueError on anything else (schemas rule that out)."""
    match = _QUANTITY.match(str(value))
    if not match:
        raise ValueError(f"not a quantity: {value!r}")
    number, suffix = Decimal(match["num"]), match["suffix"] or ""
    if suffix not in _SUFFIX:            # an exponent: e3, E-2 ('E' and 'Ei' are suffixes)
        return number * Decimal(10) ** int(suffix[1:])
    return number * Decimal(_SUFFIX[suffix])


# Kubernetes holds a quantity as an int64 count of milli-units (Quantity.MilliValue): what does not fit, or is
# finer than 1m, is not the value a cluster would use.
MAX_MILLI = 2**63 - 1


def problem(value: str | int | float) -> str | None:
    """Why a quantity (one the schema's pattern accepts) cannot be held by Kubernetes, or None when it can."""
    match = _QUANTITY.match(str(value))
    if not match:
        return None                      # not a quantity at all: the schema's pattern says so
    suffix = match["suffix"] or ""
    if suffix not in _SUFFIX and len(suffix.lstrip("eE+-")) > 3:
        return f"{_short(value)} is out of range: Kubernetes quantities are int64 milli-units"
    try:
        milli = parse(value) * 1000
    except ArithmeticError:
        return f"{_short(value)} is out of range: Kubernetes quantities are int64 milli-units"
    if milli > MAX_MILLI:
        return (f"{_short(value)} is too large: Kubernetes holds quantities as int64 milli-units, at most "
                f"{MAX_MILLI // 1000} (about 8 Pi)")
    if milli != milli.to_integral_value():
        return f"{_short(value)} is finer than Kubernetes' smallest unit of a quantity, 1m (one thousandth)"
    return None


def _short(value: str | int | float) -> str:
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def canonical(value: str | int | float) -> str:
    """Quantities as strings, the way they land in manifests (numbers from YAML become '4', '0.5')."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def gigabytes(value: str | int | float) -> float:
    """Decimal gigabytes (10^9 bytes): the unit NIM's min_vram_per_device_gb and GPU data sheets use."""
    return float(parse(value) / Decimal(10**9))


def millicores(value: str | int | float) -> int:
    return int(parse(value) * 1000)


def megabytes(value: str | int | float) -> int:
    return int(parse(value) / Decimal(10**6))


def exact(value: int | float) -> Decimal:
    """A YAML number as the decimal its text says: 0.1 stays 0.1 (sums of shares add up), 4.0 is 4."""
    return Decimal(repr(value)).normalize()


def plain(amount: Decimal) -> str:
    """An amount as a person writes it: 4, 2.5, never an exponent."""
    return format(amount.normalize(), "f")


def json_number(amount: Decimal) -> int | float:
    """An amount for a manifest's number field: an integer where it is whole."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def binary(amount: Decimal) -> str:
    """Bytes as the largest binary suffix that holds them exactly: 154618822656 -> '144Gi'."""
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = Decimal(_SUFFIX[suffix])
        if amount >= unit and amount % unit == 0:
            return f"{plain(amount / unit)}{suffix}"
    return plain(amount)
