"""Persistence: the PostgreSQL pool, migrations, repositories and the unit of work."""

from .db import Database
from .uow import UnitOfWork

__all__ = ["Database", "UnitOfWork"]
