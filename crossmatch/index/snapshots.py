"""Shared index snapshots for replicated matchers: one publisher, a database lease, memory-mapped loads.

Every ``api``/``worker`` process starts from the newest snapshot in a shared
directory (``scale.snapshot_dir``) and tails the change log from the snapshot's
change number (:class:`~crossmatch.index.manager.IndexManager`).  This module
decides who may build and write a snapshot:

- only a *publisher* writes snapshots (``scale.publish_snapshots``; one process
  per deployment, e.g. ``crossmatch index snapshot --every 300``);
- building a snapshot from the store takes the lease ``snapshot:<type>`` in the
  database, so two publishers never build the same one at once; a process that
  finds the lease taken waits for the snapshot instead of building its own;
- a replica (not a publisher) that finds no snapshot waits for one up to
  ``scale.snapshot_wait_s``, and only then builds in memory (logged).

:func:`load_npz_mapped` maps the arrays of an uncompressed ``.npz`` snapshot
straight from the file, so replicas on one box share the pages of the OS cache
instead of each holding a copy.  Written here because numpy ignores
``mmap_mode`` for ``.npz`` archives.
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

log = logging.getLogger(__name__)


@dataclass
class Lease:
    """A named lease in the database (table ``leases``): held by one holder until a time."""

    sessions: sessionmaker
    name: str
    seconds: float
    holder: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}")

    def acquire(self) -> bool:
        from crossmatch.scale.models import Lease as LeaseRow

        now = time.time()
        with self.sessions.begin() as session:
            taken = session.execute(
                update(LeaseRow).where(LeaseRow.name == self.name, (LeaseRow.until < now) | (LeaseRow.holder == self.holder))
                .values(holder=self.holder, until=now + self.seconds)
            ).rowcount
        if taken:
            return True
        try:
            with self.sessions.begin() as session:
                session.execute(insert(LeaseRow).values(name=self.name, holder=self.holder, until=now + self.seconds))
            return True
        except IntegrityError:  # someone else holds it (and it has not lapsed)
            return False

    def release(self) -> None:
        from crossmatch.scale.models import Lease as LeaseRow

        with self.sessions.begin() as session:
            session.execute(delete(LeaseRow).where(LeaseRow.name == self.name, LeaseRow.holder == self.holder))


@dataclass
class SnapshotPolicy:
    """How one process treats the shared snapshots (given to IndexManager by servers)."""

    sessions: sessionmaker
    publish: bool = True
    lease_s: float = 600.0
    wait_s: float = 120.0
    poll_s: float = 0.5

    def lease(self, signal_type: str) -> Lease:
        return Lease(self.sessions, f"snapshot:{signal_type}", self.lease_s)


def load_npz_mapped(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an uncompressed .npz, memory-mapped read-only (compressed members are read)."""
    out: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
    with open(path, "rb") as handle:
        for info in members:
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            if info.compress_type != zipfile.ZIP_STORED:
                with zipfile.ZipFile(path) as archive, archive.open(info) as member:
                    out[name] = np.lib.format.read_array(member)
                continue
            handle.seek(info.header_offset)
            local = handle.read(30)
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            start = info.header_offset + 30 + name_len + extra_len
            handle.seek(start)
            version = np.lib.format.read_magic(handle)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(handle)
            offset = handle.tell()
            if dtype.hasobject or 0 in shape or not shape:
                handle.seek(start)
                out[name] = np.lib.format.read_array(handle)
                continue
            out[name] = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")
    return out


def describe(arrays: dict[str, Any]) -> dict[str, bool]:
    """Which arrays are mapped from the file (for tests and `index verify`)."""
    return {name: isinstance(array, np.memmap) for name, array in arrays.items()}
