"""Edits of nested test data (a manifest, a model's entry) in place."""

from __future__ import annotations


def replace_at(tree, keys, value, remove: bool = False) -> None:
    """``tree[k0][k1]...[kn] = value`` for ``keys`` (k0, ..., kn: dict keys or list indices), or
    that last key deleted when ``remove``."""
    *parents, last = keys
    node = tree
    for key in parents:
        node = node[key]
    if remove:
        del node[last]
    else:
        node[last] = value
