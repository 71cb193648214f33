"""Worker heartbeats: how the console and ``orderdeck status`` know who is alive."""

from __future__ import annotations

import os
import socket
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store import upsert
from store.models import WorkerHeartbeat
from store.types import utcnow

_table = WorkerHeartbeat.__table__  # type: ignore[attr-defined]


def new_worker_id(role: str) -> str:
    return f"{role}@{socket.gethostname()}:{os.getpid()}"


def beat(
    conn: Connection,
    worker_id: str,
    role: str,
    *,
    version: str | None = None,
    state: str = "running",
    counters: dict[str, Any] | None = None,
    errors: dict[str, Any] | None = None,
) -> None:
    now = utcnow()
    stmt = upsert.insert(conn, _table).values(
        worker_id=worker_id,
        role=role,
        host=socket.gethostname(),
        pid=os.getpid(),
        version=version,
        started_at=now,
        last_seen=now,
        state=state,
        counters=counters or {},
        errors=errors or {},
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[_table.c.worker_id],
        set_={
            "last_seen": stmt.excluded.last_seen,
            "state": stmt.excluded.state,
            "counters": stmt.excluded.counters,
            "errors": stmt.excluded.errors,
            "version": stmt.excluded.version,
            "pid": stmt.excluded.pid,
        },
    )
    conn.execute(stmt)


def process_gone(host: str | None, pid: int | None, *, local_host: str | None = None) -> bool:
    """True when ``pid`` on this very host no longer exists: its heartbeat is a ghost,
    whatever its age. Another host's processes cannot be checked from here."""
    if not pid or host != (local_host or socket.gethostname()):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists, owned by someone else
        return False
    return False


def alive(conn: Connection, fresh: timedelta, role: str | None = None) -> list[dict[str, Any]]:
    query = sa.select(_table).where(
        _table.c.last_seen >= utcnow() - fresh, _table.c.state != "stopped"
    )
    if role:
        query = query.where(_table.c.role == role)
    return [dict(row) for row in conn.execute(query).mappings()]


def forget_stale(conn: Connection, older_than: timedelta = timedelta(days=7)) -> int:
    result = conn.execute(sa.delete(_table).where(_table.c.last_seen < utcnow() - older_than))
    return result.rowcount or 0
