"""Provider files in, `ProviderSpec`s out; a bad file fails with its path and the key that is wrong.

The shipped providers live in the package; `PAYMENTS_PROVIDERS_DIR` (one or more folders,
separated like PATH) adds providers from outside it, or overrides a shipped one with a file of
the same name, so a team that installs the project keeps its provider YAMLs in its own repository.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .dialect import Located, UrlValue
from .provider import ProviderSpec

PROVIDERS_DIR = Path(__file__).resolve().parents[1] / "providers"
PROVIDERS_DIR_VARIABLE = "PAYMENTS_PROVIDERS_DIR"
# libyaml's safe loader when PyYAML was built with it (its wheels are): the pure-Python one was
# a fifth of the definitions' load time.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ProviderSpecError(ValueError):
    """A provider file that cannot be used, with the file and the key that is wrong."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        self.file, self.key, self.problem = file, key, problem
        where = f"{file}: {key}" if key else file
        super().__init__(f"{where}: {problem}")


def _describe_location(loc: Iterable[Any], raw: Mapping[str, Any]) -> str:
    """`('resources', 1, 'endpoint')` → `resources[invoices].endpoint`, as a reader names it.

    Pydantic puts union tags (`'cursor'`) and member names (`'EnvRef'`) in locations; they are
    not keys of the file, so they are left out.
    """
    parts: list[str] = []
    node: Any = raw
    items = list(loc)
    for position, item in enumerate(items):
        if isinstance(item, int):
            label = str(item)
            if isinstance(node, list) and item < len(node):
                name = node[item].get("name") if isinstance(node[item], dict) else None
                label = str(name) if name else label
                node = node[item]
            parts[-1:] = [f"{parts[-1]}[{label}]"] if parts else [f"[{label}]"]
            continue
        last = position == len(items) - 1
        if isinstance(node, dict) and node.get("type") == item and not last:
            continue  # the discriminator's value, not a key
        if not last and (not isinstance(node, dict) or item not in node):
            continue  # a union member's name, not a key
        parts.append(str(item))
        node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts)


def _errors(exc: ValidationError, raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    found = []
    for error in exc.errors():
        loc = error["loc"]
        message = error["msg"]
        ctx_error = error.get("ctx", {}).get("error")
        if isinstance(ctx_error, Located):
            loc = (*loc, *ctx_error.loc)
            message = str(ctx_error)
        elif error["type"] == "model_type" and "EnvRef" in message:
            message = "write secrets and URLs as {env: VARIABLE_NAME}, never as literal values"
        elif error["type"] == "missing":
            message = "missing: this key is required here"
        elif error["type"] == "extra_forbidden":
            message = "unknown key (not part of the provider dialect)"
        elif error["type"] == "union_tag_invalid":
            given, expected = error["input"].get("type"), error["ctx"]["expected_tags"]
            message = f"unknown type {given!r}; expected one of {expected}"
        message = message.removeprefix("Value error, ")
        found.append((_describe_location(loc, raw), message))
    return found


def parse_provider(text: str, file: str, name: str) -> ProviderSpec:
    """Validate one provider document; `file` and `name` say where it came from."""
    try:
        raw = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        raise ProviderSpecError(
            file, where, f"not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from None
    if not isinstance(raw, dict):
        raise ProviderSpecError(file, "", "a provider file must be a mapping of keys to values")
    if raw.get("name", name) != name:
        raise ProviderSpecError(
            file, "name", f"'{raw['name']}' differs from the file name '{name}'"
        )
    try:
        spec = ProviderSpec.model_validate({**raw, "name": name})
    except ValidationError as exc:
        key, problem = _errors(exc, raw)[0]
        raise ProviderSpecError(file, key, problem) from None
    spec._file = file
    return spec


def load_provider(path: Path) -> ProviderSpec:
    return parse_provider(path.read_text(encoding="utf-8"), file=_display(path), name=path.stem)


def provider_folders(environ: Mapping[str, str] | None = None) -> list[Path]:
    """The package's providers, then each folder of `PAYMENTS_PROVIDERS_DIR` in order."""
    environ = os.environ if environ is None else environ
    extra = [Path(p) for p in environ.get(PROVIDERS_DIR_VARIABLE, "").split(os.pathsep) if p]
    for folder in extra:
        if not folder.is_dir():
            raise ProviderSpecError(
                str(folder), "", f"{PROVIDERS_DIR_VARIABLE} names a folder that does not exist"
            )
    return [PROVIDERS_DIR, *extra]


def load_providers(
    directory: Path | None = None, environ: Mapping[str, str] | None = None
) -> list[ProviderSpec]:
    """Every `*.yaml` of `directory`, or of the package and `PAYMENTS_PROVIDERS_DIR` (a later
    folder's file replaces a same-named one), sorted by name: a provider is a file."""
    folders = [directory] if directory is not None else provider_folders(environ)
    paths = {path.stem: path for folder in folders for path in sorted(folder.glob("*.yaml"))}
    return [load_provider(paths[name]) for name in sorted(paths)]


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def resolve_url(value: UrlValue, environ: Mapping[str, str]) -> str:
    if isinstance(value, str):
        return value
    if environ.get(value.env):
        return environ[value.env]
    if value.default is None:
        raise KeyError(value.env)
    return value.default
