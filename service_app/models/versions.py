"""Versions of the tables cached figures are made from (see service_app/data_versions.py)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model


class DataVersion(Model):
    """One table's version: a token replaced, in the same transaction, whenever the table is written."""

    __tablename__ = "data_versions"

    #: The versioned table's name, e.g. `quarterly_metrics`.
    table_name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    #: A random token (uuid4 hex), new at every commit that wrote the table. Never reused, so neither
    #: a rolled-back transaction nor a restored backup can bring back one that figures were cached under.
    token: Mapped[str] = mapped_column(sa.String(32))

    def __repr__(self) -> str:
        return f"<DataVersion {self.table_name} {self.token}>"
