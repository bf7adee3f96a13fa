"""Create intents on disk, so that a create cut short by a crash is finished, not repeated.

The engine records a create as pending before it calls the provider and forgets
the outcome if the CLI dies: the next ``pulumi up`` calls Create again for the
same resource. Without a record of its own, that second create would make a
second webhook beside the one the first may have made.

So, per provider location (resource kind, base URL, account), the provider
process appends to a small JSON-lines journal:

- ``before``: the ids the location held before this process's first create
  there (the list the lifecycle makes anyway for lost answers);
- ``intent``: a create of resource ``key`` (its URN) is about to be sent, with
  the declared non-secret arguments;
- ``made``: that create's webhook id, as soon as the answer is in;
- ``settled``: the id was seen in the stack (a diff, read, update or delete of
  it), or deleted: nothing is left to finish;
- ``dropped``: the create failed in a way that proves nothing was made.

A create for a key whose last intent came from another process and is not
settled was interrupted. With an id (``made``), the webhook is read and taken
unless the stack already holds it. Without one, the webhooks that match the
intended arguments are candidates, minus those listed ``before`` that process's
first create and every id a journaled create made. Both cost no request on the
normal path and one read or one list on recovery.

Appends are single ``write`` calls on a file opened for appending: a killed
process loses nothing the kernel accepted. The file is compacted when first
read by a process, into a new file renamed over the old one, under an
exclusive lock that appenders share.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["JOURNAL_DIR_ENV", "Intent", "Journal", "journal_dir", "journal_for"]

#: Where the journals live; default ``$XDG_STATE_HOME/pulumi-webhooks/creates``.
JOURNAL_DIR_ENV = "PULUMI_WEBHOOKS_JOURNAL_DIR"

#: This provider process: the engine starts one per operation.
RUN = uuid.uuid4().hex


def journal_dir() -> Path:
    configured = os.environ.get(JOURNAL_DIR_ENV)
    if configured:
        return Path(configured)
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "pulumi-webhooks" / "creates"


@dataclass
class Intent:
    """The last create of one resource: what it meant to make and, once known, what it made."""

    key: str
    run: str
    landing: str
    fields: dict[str, Any]
    made: str | None = None
    outs: dict[str, Any] = field(default_factory=dict)


class Journal:
    """The create journal of one provider location."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock_path = path.with_suffix(".lock")
        self._mutex = threading.Lock()
        self._loaded = False
        self._intents: dict[str, Intent] = {}
        self._before: dict[tuple[str, str], frozenset[str]] = {}
        self._made: set[str] = set()
        self._held: set[str] = set()

    # -- file ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _flock(self, mode: int) -> Iterator[None]:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, mode)
            yield
        finally:
            os.close(fd)

    def _append(self, record: Mapping[str, Any]) -> None:
        line = _line(record)
        with self._flock(fcntl.LOCK_SH):
            fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    def _load(self) -> None:
        if self._loaded:
            return
        if not self._path.exists():
            # Nothing journaled here: no lock file or directory is made for reads (every diff
            # settles its id), only by the first record a create appends.
            self._loaded = True
            return
        with self._flock(fcntl.LOCK_EX):
            try:
                lines = self._path.read_bytes().splitlines()
            except FileNotFoundError:
                lines = []
            for raw in lines:
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue  # a line cut short by a full disk: nothing it said can be relied on
                if isinstance(record, dict):
                    self._replay(record)
            compacted = self._compacted()
            if len(compacted) < len(lines):
                tmp = self._path.with_suffix(f".{RUN}.tmp")
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                try:
                    os.write(fd, b"".join(_line(r) for r in compacted))
                finally:
                    os.close(fd)
                os.replace(tmp, self._path)
        self._loaded = True

    def _replay(self, record: Mapping[str, Any]) -> None:
        run = str(record.get("run", ""))
        if "before" in record:
            self._before[(run, str(record.get("landing", "")))] = frozenset(record["before"])
        elif "intent" in record:
            key = str(record["key"])
            self._intents[key] = Intent(key, run, str(record.get("landing", "")), dict(record["intent"]))
        elif "made" in record:
            made = str(record["made"])
            self._made.add(made)
            intent = self._intents.get(str(record.get("key")))
            if intent is not None and intent.run == run:
                intent.made = made
                intent.outs = dict(record.get("outs") or {})
        elif "settled" in record:
            settled = str(record["settled"])
            self._held.add(settled)
            for key in [k for k, i in self._intents.items() if i.made == settled]:
                del self._intents[key]
        elif "dropped" in record:
            intent = self._intents.get(str(record["dropped"]))
            if intent is not None and intent.run == run:
                del self._intents[intent.key]
        elif "made_ids" in record:
            self._made.update(record["made_ids"])

    def _compacted(self) -> list[dict[str, Any]]:
        """What is still needed: open intents, and for those without an answer the ids to exclude."""
        unanswered = [i for i in self._intents.values() if i.made is None]
        records: list[dict[str, Any]] = [
            {"run": run, "landing": landing, "before": sorted(ids)}
            for (run, landing), ids in self._before.items()
            if any(i.run == run and i.landing == landing for i in unanswered)
        ]
        if unanswered:
            records.append({"made_ids": sorted(self._made | self._held)})
        for intent in self._intents.values():
            records.append({"run": intent.run, "key": intent.key, "landing": intent.landing, "intent": intent.fields})
            if intent.made is not None:
                records.append({"run": intent.run, "key": intent.key, "made": intent.made, "outs": intent.outs})
        return records

    # -- records -------------------------------------------------------------------------------
    def before(self, landing: str, ids: Iterable[str]) -> None:
        """The ids held before this process's first create at ``landing``."""
        with self._mutex:
            self._load()
            held = frozenset(ids)
            if (RUN, landing) in self._before:
                return
            self._before[(RUN, landing)] = held
            self._append({"run": RUN, "landing": landing, "before": sorted(held)})

    def intent(self, key: str, landing: str, fields: Mapping[str, Any]) -> None:
        with self._mutex:
            self._load()
            self._intents[key] = Intent(key, RUN, landing, dict(fields))
            self._append({"run": RUN, "key": key, "landing": landing, "intent": dict(fields)})

    def made(self, key: str, landing: str, made: str, outs: Mapping[str, Any]) -> None:
        with self._mutex:
            self._load()
            intent = self._intents.get(key)
            if intent is None or intent.run != RUN:
                # A recovery takes over an interrupted intent: it becomes this process's.
                fields = intent.fields if intent is not None else {}
                self._intents[key] = Intent(key, RUN, landing, fields)
                self._append({"run": RUN, "key": key, "landing": landing, "intent": fields})
            self._intents[key].made = made
            self._intents[key].outs = dict(outs)
            self._made.add(made)
            self._append({"run": RUN, "key": key, "made": made, "outs": dict(outs)})

    def dropped(self, key: str) -> None:
        """The create of ``key`` made nothing."""
        with self._mutex:
            self._load()
            intent = self._intents.get(key)
            if intent is not None and intent.run == RUN and intent.made is None:
                del self._intents[key]
                self._append({"run": RUN, "dropped": key})

    def settled(self, made: str) -> None:
        """``made`` is in the stack (or deleted): no intent waits for it any more."""
        with self._mutex:
            self._load()
            self._held.add(made)
            open_ = [k for k, i in self._intents.items() if i.made == made and i.run != RUN]
            for key in open_:
                del self._intents[key]
            if open_:
                self._append({"run": RUN, "settled": made})

    # -- recovery ------------------------------------------------------------------------------
    def interrupted(self, key: str) -> Intent | None:
        """The create of ``key`` that another process began and did not see through, if any."""
        with self._mutex:
            self._load()
            intent = self._intents.get(key)
            if intent is None or intent.run == RUN:
                return None
            if intent.made is not None and intent.made in self._held:
                return None  # the stack holds what it made (this is a replacement)
            return intent

    def unexplained(self, intent: Intent, candidates: Iterable[str]) -> list[str]:
        """Of ``candidates``, those the interrupted ``intent`` can have made: not held before its
        process's first create, and made by no journaled create."""
        with self._mutex:
            before = self._before.get((intent.run, intent.landing))
            if before is None:
                return []  # no record of what was there: nothing can be told apart
            return [c for c in candidates if c not in before and c not in self._made and c not in self._held]


def _line(record: Mapping[str, Any]) -> bytes:
    return (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


_JOURNALS: dict[Path, Journal] = {}
_JOURNALS_LOCK = threading.Lock()


def journal_for(place: str) -> Journal:
    """The journal of one provider location (``place`` names the kind, base URL and account)."""
    path = journal_dir() / f"{hashlib.sha256(place.encode()).hexdigest()[:24]}.jsonl"
    with _JOURNALS_LOCK:
        journal = _JOURNALS.get(path)
        if journal is None:
            journal = _JOURNALS[path] = Journal(path)
        return journal


def forget_journals() -> None:
    """Drop this process's view of every journal (tests: a new provider process)."""
    global RUN
    with _JOURNALS_LOCK:
        _JOURNALS.clear()
    RUN = uuid.uuid4().hex
