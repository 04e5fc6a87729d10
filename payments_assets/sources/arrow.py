"""Pages become Arrow tables, so most rows skip dlt's per-row normalize of Python dicts.

On a small machine most of a dlt load is its normalize of dict rows, one by one; an Arrow table
is written to parquet as it is. Many pages make one table, flattened the way dlt flattens
(`parent__child`), typed by the YAML's column hints (else by the first value, as dlt types a new
column), card numbers masked, cast to one schema per resource. A batch Arrow cannot hold the way
dlt would — a list (dlt's child tables such as `invoices__lines`), a value that does not fit its
column's type — goes to dlt as masked dicts, so dlt makes child tables and variant columns
exactly as on the dict path; both kinds of item land in the same tables and the same merge.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.normalizers.naming.snake_case import NamingConvention
from dlt.common.normalizers.utils import generate_dlt_ids
from dlt.common.schema.detections import is_iso_timestamp
from dlt.common.schema.utils import dlt_id_column, dlt_load_id_column
from dlt.extract.resource import DltResource

from ..card_numbers import mask_strings, mask_text, numbers_hold_card_number, record_masker
from ..specs import ColumnHint, ResourceView, column_name
from ..specs.resolved import DELETED_AT
from .deletions import Deletion, DeletionNotes, deletion_marker, drops_deleted
from .dlt_internals import AfterIncremental, replace_pages

ROWS_PER_TABLE = 5_000
"""Rows gathered before a table is built: 10-50 pages; per-table costs vanish, memory stays flat."""

DLT_ID, DLT_LOAD_ID = "_dlt_id", "_dlt_load_id"
TIMESTAMP = pa.timestamp("us", tz="UTC")
_HINT_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": TIMESTAMP,
    "date": pa.date32(),
}
_PY_TYPES: dict[type, pa.DataType] = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
}
# What the dict path's root rows carry, declared so a load that mixes both kinds of item (a child
# table from dict rows under Arrow rows) links and merges them exactly: dlt's own definitions,
# which its normalizer gives these columns too.
_DLT_COLUMNS = {DLT_LOAD_ID: dlt_load_id_column(), DLT_ID: dlt_id_column()}
_NAMING = NamingConvention()


class _NeedsDicts(Exception):
    """This batch cannot become a table of the resource's schema; dlt gets it as dicts."""


def arrow_ready(view: ResourceView) -> bool:
    """Whether every hint of the resource has an Arrow type and its cursor is a plain column."""
    if view.max_table_nesting is not None:
        return False  # dlt would keep deep values as JSON; the dict path does that
    if any(hint.data_type == "json" for hint in view.columns.values()):
        return False
    return view.incremental is None or view.incremental.cursor_path.isidentifier()


def _hint_type(hint: ColumnHint) -> pa.DataType | None:
    if hint.data_type == "decimal":
        return pa.decimal128(hint.precision or 38, hint.scale or 9)
    return _HINT_TYPES.get(hint.data_type) if hint.data_type else None


class ArrowPages:
    """One resource's pages as Arrow tables of one growing schema (or dicts, batch by batch)."""

    def __init__(
        self,
        view: ResourceView,
        constants: Mapping[str, Any],
        notes: DeletionNotes | None = None,
        loaded_at: datetime | None = None,
    ) -> None:
        self.view = view
        self.hints = {
            _NAMING.normalize_identifier(name): hint_type
            for name, hint in view.columns.items()
            if (hint_type := _hint_type(hint)) is not None
        }
        self.keys = list(view.primary_key)
        self.cursor = view.incremental.cursor_path if view.incremental else None
        self.constants = dict(constants)
        # Numbers in columns typed as times are epoch times, not card numbers.
        self.times = frozenset(map(_NAMING.normalize_identifier, view.time_columns))
        self.mask_record = record_masker(self.times)
        self.types: dict[str, pa.DataType] = {}  # the resource's schema, in first-seen order
        self.has_lists = False  # once seen, every batch goes to dlt as dicts: no wasted tables
        # Records the provider lists as deleted (`deletes.when`) get `_deleted_at`, and are noted.
        self.notes = notes or DeletionNotes()
        self.loaded_at = loaded_at or datetime.now(timezone.utc)
        when = view.deletes.when if view.deletes else None
        self.deleted_when = when
        self.mark_deleted = deletion_marker(view, self.notes, self.loaded_at)

    def tables(self, pages: Iterable[list[Any]]) -> Iterator[pa.Table | list[dict[str, Any]]]:
        rows: list[Any] = []
        for page in pages:
            rows.extend(page)
            if len(rows) >= ROWS_PER_TABLE:
                yield self._convert(rows)
                rows = []
        if rows:
            yield self._convert(rows)

    def _convert(self, rows: list[Any]) -> pa.Table | list[dict[str, Any]]:
        if self.has_lists:
            return self._dicts(rows)
        try:
            return self._table(rows)
        except _NeedsDicts:
            return self._dicts(rows)

    def _dicts(self, rows: list[Any]) -> list[dict[str, Any]]:
        rows = [self.mark_deleted(self.mask_record(row)) for row in rows]
        for row in rows:
            if isinstance(row, dict):
                row.update(self.constants)
        if drops_deleted(self.view):
            rows = [row for row in rows if DELETED_AT not in row]
        return rows

    def _table(self, rows: list[Any]) -> pa.Table:
        try:
            # Not `from_pylist`: it takes its columns from the first row alone, and would drop a
            # field only later rows carry (a `deleted: true` mark, a sparse attribute).
            raw = pa.Table.from_struct_array(pa.array(rows))
        except (pa.ArrowException, TypeError, ValueError):
            raise _NeedsDicts from None
        columns: dict[str, pa.ChunkedArray] = {}
        for name, array in zip(raw.column_names, raw.columns, strict=True):
            for flat_name, flat in _flatten(name, array):
                if mask_text(flat_name) != flat_name:
                    raise _NeedsDicts  # a card number as a key: the dict path masks keys
                typed = self._typed(flat_name, flat)
                if typed is not None:
                    columns[flat_name] = typed
        size = raw.num_rows
        for name, value in self.constants.items():
            kind = TIMESTAMP if isinstance(value, datetime) else pa.string()
            columns[name] = pa.chunked_array([pa.array([value] * size, kind)])
            self.types.setdefault(name, kind)
        for key in self.keys:
            if key not in columns or columns[key].null_count:
                raise _NeedsDicts  # dlt reports the missing key the way it always does
        deleted = self._deleted(columns, size) if self.deleted_when is not None else None
        arrays = [
            columns[name] if name in columns else pa.nulls(size, self._staged(name, kind))
            for name, kind in self.types.items()
        ]
        fields = [
            pa.field(name, array.type, name not in self.keys)
            for name, array in zip(self.types, arrays, strict=True)
        ]
        table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
        if deleted is not None and drops_deleted(self.view):
            table = table.filter(pc.invert(deleted))
        return table

    def _deleted(self, columns: dict[str, pa.ChunkedArray], size: int) -> pa.ChunkedArray:
        """Marks the rows the provider lists as deleted: `_deleted_at` (the record's update time,
        else the load's) added to `columns`, each noted; the mask is returned."""
        assert self.deleted_when is not None
        field = _NAMING.normalize_identifier(column_name(self.deleted_when.field))
        mask = pa.chunked_array([pa.array([False] * size)])
        if field in columns:
            column = columns[field]
            try:
                wanted = pa.array(list(self.deleted_when.values)).cast(column.type)
                mask = pc.fill_null(pc.is_in(column, value_set=wanted), False)
            except pa.ArrowException:
                pass  # values of another type than the column's: nothing matches
        when = (
            _to_timestamp(columns[self.cursor])
            if self.cursor in columns
            else pa.chunked_array([pa.array([self.loaded_at] * size, TIMESTAMP)])
        )
        columns[DELETED_AT] = pc.if_else(mask, when, pa.scalar(None, TIMESTAMP))
        self.types.setdefault(DELETED_AT, TIMESTAMP)
        key = self.view.record_key
        if key is not None and pc.any(mask).as_py():
            ids = pc.filter(columns[key], mask).to_pylist()
            times = pc.filter(when, mask).to_pylist()
            self.notes.add(
                [
                    Deletion(self.view.name, str(record_id), moment, "record")
                    for record_id, moment in zip(ids, times, strict=True)
                ]
            )
        return mask

    def _typed(self, name: str, array: pa.ChunkedArray) -> pa.ChunkedArray | None:
        """The column in the resource's type for it; None when it holds nothing dlt would keep."""
        if pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
            if pc.max(pc.list_value_length(array)).as_py() in (None, 0):
                return None  # only empty lists: dlt makes no child rows
            self.has_lists = True
            raise _NeedsDicts
        if name not in self.types:
            if array.null_count == len(array):
                return None  # dlt makes no column until a value comes
            self.types[name] = self._first_type(name, array)
        typed = _cast(array, self._staged(name, self.types[name], array.type))
        if typed.type == pa.string():
            return mask_strings(typed)
        if _is_number(array.type) and name not in self.times and numbers_hold_card_number(array):
            raise _NeedsDicts  # a card number sent as a number becomes masked text, as dicts do
        return typed

    def _staged(
        self, name: str, kind: pa.DataType, given: pa.DataType | None = None
    ) -> pa.DataType:
        """The type a column has when it leaves here: the cursor stays as the API wrote it."""
        if name == self.cursor and pa.types.is_timestamp(kind):
            # dlt's incremental filter compares it with window bounds written in the API's format
            # (ISO string or epoch); `typed_cursor` casts it right after that filter.
            return given if given in (pa.string(), pa.int64()) else pa.string()
        return kind

    def _first_type(self, name: str, array: pa.ChunkedArray) -> pa.DataType:
        """dlt types a new column by its hint, else by its first value (ISO text: timestamp)."""
        hinted = self.hints.get(_NAMING.normalize_identifier(name))
        if hinted is not None:
            return hinted
        first = array.drop_null()[0].as_py()
        if isinstance(first, str) and is_iso_timestamp(str, first):
            return TIMESTAMP
        kind = _PY_TYPES.get(type(first))
        if kind is None:
            raise _NeedsDicts
        return kind

    def after_incremental(self, item: Any, meta: Any = None) -> Any:
        """A table dlt's incremental filter has seen: row ids added, the cursor typed."""
        if not isinstance(item, pa.Table):
            return item
        return self.typed_cursor(with_row_ids(item))

    def typed_cursor(self, item: pa.Table) -> pa.Table:
        """Casts the cursor column to its type once dlt's incremental filter has seen it."""
        if self.cursor not in item.column_names:
            return item
        target = self.types.get(self.cursor)
        column = item.column(self.cursor)
        if target is None or column.type == target:
            return item
        try:
            typed = _cast(column, target)
        except _NeedsDicts:
            raise ValueError(
                f"cursor '{self.cursor}' holds values that are not {target}: check its column hint"
            ) from None
        index = item.column_names.index(self.cursor)
        return item.set_column(index, pa.field(self.cursor, target), typed)


def with_row_ids(table: pa.Table) -> pa.Table:
    """`table` with dlt's `_dlt_id` column: random ids from dlt's own generator, as its parquet
    normalizer would add them (`normalize.parquet_normalizer.add_dlt_id`, off in
    `pipelines.RUN_SETTINGS`), so dlt imports the extracted file instead of rewriting it. Added
    after dlt's incremental step, whose row hashes must not see random values.

    `_dlt_load_id` goes in first, empty: dlt's extract fills it in place (`add_dlt_load_id`), so
    the columns keep the order the normalizer gave them (`..., _dlt_load_id, _dlt_id`)."""
    if DLT_ID in table.column_names:
        return table
    if DLT_LOAD_ID not in table.column_names:
        table = table.append_column(
            pa.field(DLT_LOAD_ID, pa.string()), pa.nulls(table.num_rows, pa.string())
        )
    ids = pa.array(generate_dlt_ids(table.num_rows), pa.string())
    return table.append_column(pa.field(DLT_ID, pa.string(), nullable=False), ids)


def _flatten(name: str, array: pa.ChunkedArray) -> Iterator[tuple[str, pa.ChunkedArray]]:
    """Struct fields become `parent__child` columns, as dlt flattens nested objects."""
    if not pa.types.is_struct(array.type):
        yield name, array
        return
    for field, child in zip(array.type, array.flatten(), strict=True):
        yield from _flatten(f"{name}__{field.name}", child)


_TypeTest = Callable[[pa.DataType], bool]
_SAFE_CASTS: tuple[tuple[_TypeTest, _TypeTest], ...] = (
    (pa.types.is_integer, pa.types.is_floating),
    (pa.types.is_integer, pa.types.is_decimal),
    (pa.types.is_floating, pa.types.is_decimal),
    (pa.types.is_string, pa.types.is_decimal),
    (pa.types.is_string, pa.types.is_date),
    (pa.types.is_integer, pa.types.is_string),
)


def _cast(array: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    """`array` as `target` where dlt would coerce the same values alike; else `_NeedsDicts`."""
    source = array.type
    if source == target:
        return array
    try:
        if pa.types.is_null(source):
            return pa.chunked_array([pa.nulls(len(array), target)])
        if pa.types.is_timestamp(target):
            return _to_timestamp(array)
        if any(is_from(source) and is_to(target) for is_from, is_to in _SAFE_CASTS):
            return pc.cast(array, target)
    except pa.ArrowException:
        pass
    raise _NeedsDicts


def _to_timestamp(array: pa.ChunkedArray) -> pa.ChunkedArray:
    """ISO 8601 strings (naive ones read as UTC, as dlt does) or epoch seconds, to UTC."""
    if pa.types.is_string(array.type):
        try:
            return pc.cast(array, TIMESTAMP)
        except pa.ArrowInvalid:
            return pc.assume_timezone(pc.cast(array, pa.timestamp("us")), "UTC")
    if pa.types.is_integer(array.type):
        return pc.cast(pc.multiply(pc.cast(array, pa.int64()), 1_000_000), TIMESTAMP)
    if pa.types.is_floating(array.type):
        micros = pc.round(pc.multiply(array, 1_000_000.0))
        return pc.cast(pc.cast(micros, pa.int64()), TIMESTAMP)
    raise _NeedsDicts


def _is_number(kind: pa.DataType) -> bool:
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)


def load_pages_as_arrow(
    dlt_resource: DltResource,
    view: ResourceView,
    constants: Mapping[str, Any],
    notes: DeletionNotes | None = None,
    loaded_at: datetime | None = None,
) -> bool:
    """Make `dlt_resource` yield Arrow tables of its pages; False (untouched) if it cannot.

    `constants` are columns every row gets (`_loaded_at`, `_account`); card numbers are masked
    here, so the resource needs no other mask or stamp step.
    """
    if not arrow_ready(view):
        return False
    pages = ArrowPages(view, constants, notes, loaded_at)
    replace_pages(dlt_resource, pages.tables)
    dlt_resource.apply_hints(columns=_dlt_columns())
    dlt_resource.add_step(AfterIncremental(pages.after_incremental))
    return True


def _dlt_columns() -> Mapping[str, Any]:
    return {name: dict(hints) for name, hints in _DLT_COLUMNS.items()}
