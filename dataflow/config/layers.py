"""Plugin config layering: CONFIG_SCHEMA defaults, then YAML, then stored updates."""
from __future__ import annotations

import copy


def schema_defaults(schema: dict) -> dict:
    """The `default` of every property (nested objects too) of a JSON Schema."""
    defaults = {}
    for name, prop in (schema.get("properties") or {}).items():
        if "default" in prop:
            defaults[name] = copy.deepcopy(prop["default"])
        elif prop.get("type") == "object" and prop.get("properties"):
            nested = schema_defaults(prop)
            if nested:
                defaults[name] = nested
    return defaults


def deep_merge(base: dict, override: dict) -> dict:
    """`override` on top of `base`; nested mappings merge, everything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def merge_layers(layers) -> dict:
    """Merge `(label, mapping)` layers, lowest first, into one config."""
    config: dict = {}
    for _, layer in layers:
        config = deep_merge(config, layer or {})
    return config


def layer_sources(layers) -> dict[str, str]:
    """For each top-level key, the label of the highest layer that sets it."""
    sources: dict[str, str] = {}
    for label, layer in layers:
        for key in layer or {}:
            sources[key] = label
    return sources
