"""Rate-limit counters kept in the database when no Redis is configured (failed sign-ins)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model


class RateLimitCounter(Model):
    """One fixed-window counter of the `limits` library, by its key."""

    __tablename__ = "rate_limit_counters"

    #: The limit's key: prefix, what is counted (`login-account`, `login-address`), who, and the limit.
    key: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    #: Hits in the current window.
    count: Mapped[int] = mapped_column(default=0)
    #: When the window ends, in seconds since the epoch (the `limits` library's clock); index for purging.
    expires_at: Mapped[float] = mapped_column(sa.Float, index=True)
