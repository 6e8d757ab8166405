"""The valid rows of a roster, column by column, and the firms they make up.

A plan must hold every row it will write until it is applied: 200,000 of them for the largest
roster. A dict per row and per firm took ≈1.5 KB a row; here each mapped column is one list
(amounts one array of floats), ≈300 bytes a row, and a firm is the number of its first row.
A firm on several rows (one per quarter of metrics) also keeps its merged firm fields.

Plain Python: nothing here touches the database.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence
from itertools import compress
from typing import Any

from .parsing import AMOUNT_COLUMNS, BLANK, to_decimal

_NAN = math.nan


class ParsedRows:
    """Rows that parsed without error, in file order, and their grouping into firms by credit code."""

    def __init__(self, firm_names: Sequence[str], metric_names: Sequence[str], capacity: int = 0) -> None:
        """Room for `capacity` rows is taken up front: lists grown row by row would leave the C
        heap strewn with the buffers they outgrew, ≈30 MB at 200,000 rows."""
        self.firm_names = tuple(firm_names)  #: mapped firm columns, in sheet order
        self.metric_names = tuple(metric_names)  #: mapped metric columns, in sheet order
        self.excel_rows = array("l", [0]) * capacity  #: each row's number in the spreadsheet
        self.codes: list[str] = [""] * capacity
        self.quarters: list[str | None] = [None] * capacity
        #: Column name → one value per row: BLANK for a blank cell (NaN in an amount array).
        self.values: dict[str, Any] = {
            name: array("d", [_NAN]) * capacity if name in AMOUNT_COLUMNS else [BLANK] * capacity
            for name in (*self.firm_names, *self.metric_names)
        }
        self.size = 0  #: rows kept so far; `finish` drops the room left over
        self.first_rows = array("l")  #: each firm's first row
        self.more_rows: dict[int, list[int]] = {}  #: a firm on several rows → its other rows
        self.merged: dict[int, dict[str, Any]] = {}  #: a firm on several rows → its non-blank firm fields

    def __len__(self) -> int:
        return self.size

    def extend(
        self,
        excel_rows: Sequence[int],
        codes: Sequence[str],
        quarters: Sequence[str | None],
        columns: dict[str, list[Any]],
        keep: Sequence[bool] | None,
    ) -> None:
        """Add a block of parsed rows, only those `keep` marks (all when it is None)."""

        def kept(values: Sequence[Any]) -> list[Any]:
            return list(values) if keep is None else list(compress(values, keep))

        numbers = kept(excel_rows)
        start, stop = self.size, self.size + len(numbers)
        if stop > len(self.codes):  # more rows than the table announced: grow
            self._grow(stop - len(self.codes))
        self.excel_rows[start:stop] = array("l", numbers)
        self.codes[start:stop] = kept(codes)
        self.quarters[start:stop] = kept(quarters)
        for name, store in self.values.items():
            values = kept(columns[name])
            if name in AMOUNT_COLUMNS:
                store[start:stop] = array("d", [_NAN if v is BLANK else v for v in values])
            else:
                store[start:stop] = values
        self.size = stop

    def _grow(self, rows: int) -> None:
        self.excel_rows.extend([0] * rows)
        self.codes.extend([""] * rows)
        self.quarters.extend([None] * rows)
        for name, store in self.values.items():
            store.extend([_NAN] * rows if name in AMOUNT_COLUMNS else [BLANK] * rows)

    def finish(self) -> None:
        """Every row is in: let go of the room left over."""
        for store in (self.excel_rows, self.codes, self.quarters, *self.values.values()):
            del store[self.size :]

    # --- one row ---------------------------------------------------------------------------------

    def value(self, name: str, row: int) -> Any:
        """A cell as parsed (amounts as Decimal), or BLANK."""
        value = self.values[name][row]
        if name in AMOUNT_COLUMNS:
            return BLANK if value != value else to_decimal(value)
        return value

    def firm_fields(self, row: int) -> dict[str, Any]:
        """The row's non-blank firm fields."""
        fields = {name: self.value(name, row) for name in self.firm_names}
        return {name: value for name, value in fields.items() if value is not BLANK}

    def metric_fields(self, row: int) -> dict[str, Any]:
        """The row's non-blank metric fields."""
        fields = {name: self.value(name, row) for name in self.metric_names}
        return {name: value for name, value in fields.items() if value is not BLANK}

    def blank_firm_fields(self, row: int) -> frozenset[str]:
        return frozenset(name for name in self.firm_names if self.value(name, row) is BLANK)

    def blank_metric_fields(self, row: int) -> frozenset[str]:
        return frozenset(name for name in self.metric_names if self.value(name, row) is BLANK)

    # --- one firm ----------------------------------------------------------------------------------

    def start_firm(self, row: int) -> int:
        """A new firm whose first row is `row`; its number."""
        self.first_rows.append(row)
        return len(self.first_rows) - 1

    def add_row(self, firm: int, row: int, firm_fields: dict[str, Any]) -> None:
        """Another row of a firm, whose firm fields agree with the firm's (checked by the caller)."""
        merged = self.merged.get(firm)
        if merged is None:
            merged = self.merged[firm] = self.firm_fields(self.first_rows[firm])
        merged.update(firm_fields)
        self.more_rows.setdefault(firm, []).append(row)

    def rows_of(self, firm: int) -> list[int]:
        return [self.first_rows[firm], *self.more_rows.get(firm, ())]

    def firm_value(self, firm: int, name: str) -> Any:
        """One firm field over all the firm's rows, or BLANK."""
        merged = self.merged.get(firm)
        if merged is not None:
            return merged.get(name, BLANK)
        return self.value(name, self.first_rows[firm])

    def firm_values(self, firm: int) -> dict[str, Any]:
        """The firm's non-blank firm fields, over all its rows; a dict of its own."""
        merged = self.merged.get(firm)
        return dict(merged) if merged is not None else self.firm_fields(self.first_rows[firm])

    def firm_blanks(self, firm: int) -> frozenset[str]:
        """Mapped firm fields blank on every row of the firm."""
        blanks = self.blank_firm_fields(self.first_rows[firm])
        for row in self.more_rows.get(firm, ()):
            blanks &= self.blank_firm_fields(row)
        return blanks

    def set_firm_value(self, firm: int, name: str, value: Any) -> None:
        """Replace a firm field (street, building and officer names become ids once resolved)."""
        merged = self.merged.get(firm)
        if merged is not None:
            merged[name] = value
        else:
            self.values[name][self.first_rows[firm]] = value

    def metric_rows(self, firm: int) -> list[int]:
        """The firm's rows that carry a quarter, in file order."""
        return [row for row in self.rows_of(firm) if self.quarters[row] is not None]

    # --- many firms, column by column (for bulk inserts) ------------------------------------------------

    def firm_columns(self, firms: Sequence[int], names: Iterable[str]) -> dict[str, list[Any]]:
        """Each named firm field of the firms, one list per field: amounts as floats, blanks None."""
        rows = [self.first_rows[firm] for firm in firms]
        columns = {}
        for name in names:
            values = list(map(self.values[name].__getitem__, rows))
            if name in AMOUNT_COLUMNS:
                columns[name] = [None if v != v else v for v in values]
            else:
                columns[name] = [None if v is BLANK else v for v in values]
        for position, firm in enumerate(firms):
            merged = self.merged.get(firm)
            if merged is not None:
                for name, values in columns.items():
                    value = merged.get(name)
                    values[position] = float(value) if value is not None and name in AMOUNT_COLUMNS else value
        return columns

    def metric_columns(self, rows: Sequence[int], names: Iterable[str]) -> dict[str, list[Any]]:
        """Each named metric field of the rows, one list per field: amounts as floats, blanks None."""
        columns = {}
        for name in names:
            values = list(map(self.values[name].__getitem__, rows))
            if name in AMOUNT_COLUMNS:
                columns[name] = [None if v != v else v for v in values]
            else:
                columns[name] = [None if v is BLANK else v for v in values]
        return columns
