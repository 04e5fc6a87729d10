"""The record-shape keys checked against the provider's other resources, at definitions load.

A dependent resource must name another resource of the same provider (one that is not itself
dependent: children are fetched for their parent's records in the same run) and is windowed
through it; nested lists and never-land fields must name each field once.
"""

from __future__ import annotations

from collections.abc import Mapping

from .dialect import Located, ResourceSpec
from .record_shapes import parent_references
from .resolved import ResourceView

Where = tuple[str | int, ...]


def check_record_shapes(
    provider: str,
    view: ResourceView,
    resource: ResourceSpec,
    views: Mapping[str, ResourceView],
    where: Where,
) -> None:
    _check_parent(provider, view, resource, views, where)
    _unique([nested.field for nested in view.nested_lists], (*where, "nested_lists"), "nested list")
    _unique([hidden.field for hidden in view.never_land], (*where, "never_land"), "field")


def _check_parent(
    provider: str,
    view: ResourceView,
    resource: ResourceSpec,
    views: Mapping[str, ResourceView],
    where: Where,
) -> None:
    path_key = (*where, "endpoint", "path")
    if view.parent is None:
        if resource.include_from_parent:
            raise Located(
                (*where, "include_from_parent"),
                "only a dependent resource (a path or parameter with {resources.<parent>.<field>})"
                " has a parent to include fields from",
            )
        return
    parent = views.get(view.parent.resource)
    if parent is None or parent is view:
        raise Located(
            path_key,
            f"'{view.parent.resource}' is not another resource of {provider}: a dependent "
            "resource names its parent as {resources.<parent>.<field>}",
        )
    if parent.parent is not None:
        raise Located(
            path_key,
            f"'{parent.name}' is itself a dependent resource: a parent must be listed on its own",
        )
    endpoint = view.endpoint
    named = parent_references(endpoint.path or "", dict(endpoint.params))
    others = {reference.resource for reference in named} - {parent.name}
    if others:
        raise Located(path_key, f"one parent per resource: also names {sorted(others)}")
    if resource.endpoint.incremental is not None:
        raise Located(
            (*where, "endpoint", "incremental"),
            f"a dependent resource is windowed through its parent '{parent.name}': remove it",
        )


def _unique(names: list[str], where: Where, noun: str) -> None:
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise Located(where, f"each {noun} once: {repeated} named twice")
