"""The generation rows of leased requests, written in batches that form on their own.

Each leased request settles with one durable INSERT of its generation (billing.leases), and
its response waits for that commit: the charge exists before the client has its answer. Under
load, many requests settle at once, and one statement per request made psycopg's per-statement
work (and PostgreSQL's per-commit work) the largest single cost of a request.

So the rows go through one writer per process: a write that finds no other in flight is sent
at once by its own request (nothing added when the gateway is quiet); rows that arrive while
one is in flight are written together by the next statement, one round trip and one commit
for all of them.
Each request still learns of its own row's commit before it answers, so crash safety is
unchanged. If a batch fails, its rows are retried one by one, so that one bad row (or a
database hiccup) fails only the requests it belongs to.
"""

import asyncio
import logging
from collections import deque

from billing.leases import generations_insert_sql
from billing.usage import UsageRecord
from marketplace.asyncdb import AsyncDb

logger = logging.getLogger(__name__)

# Rows per statement: past this, the next statement takes the rest (a bounded statement size,
# and few distinct statement shapes for psycopg's prepared-statement cache).
MAX_BATCH = 64

_Pending = tuple[UsageRecord, "asyncio.Future[bool]"]


class GenerationWriter:
    def __init__(self, db: AsyncDb) -> None:
        self._db = db
        self._pending: deque[_Pending] = deque()
        self._writing = False
        self._task: asyncio.Task[None] | None = None  # referenced while it runs (asyncio's advice)
        self.statements = 0  # written so far (for tests and the curious)

    async def record(self, record: UsageRecord) -> bool:
        """Write the generation; True once it is committed, False if it was recorded already.

        With no write in flight the caller writes its row itself, at once (no task, no loop
        turn); rows arriving meanwhile are written by a task after it. Callers shield this
        (metering does): a write cancelled midway may or may not have been committed.
        """
        if self._writing:
            done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._pending.append((record, done))
            return await done
        self._writing = True
        try:
            inserted = await self._insert([record])
        finally:
            if self._pending:  # arrived during this write: the next statement takes them
                self._task = asyncio.ensure_future(self._write_pending())
            else:
                self._writing = False
        return record.generation_id in inserted

    async def close(self) -> None:
        """Wait for the rows being written (the database closes after)."""
        while self._task is not None and not self._task.done():
            await asyncio.wait([self._task])

    async def _write_pending(self) -> None:
        batch: list[_Pending] = []
        try:
            while self._pending:
                count = min(len(self._pending), MAX_BATCH)
                batch = [self._pending.popleft() for _ in range(count)]
                await self._write(batch)
        finally:
            self._writing = False
            for _, done in batch:  # cancelled mid-write (the loop is closing): nobody waits
                if not done.done():
                    done.cancel()

    async def _write(self, batch: list[_Pending]) -> None:
        try:
            inserted = await self._insert([record for record, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                done = batch[0][1]
                if not done.done():
                    done.set_exception(exc)  # raised where the request awaits its row
                return
            logger.warning("a batch of %d generations failed; writing them one by one", len(batch))
            for pending in batch:
                await self._write([pending])
            return
        for record, done in batch:
            if not done.done():
                done.set_result(record.generation_id in inserted)

    async def _insert(self, records: list[UsageRecord]) -> set[str]:
        sql, params = generations_insert_sql(records, self._db.vendor)
        self.statements += 1
        return {row[0] for row in await self._db.fetchall(sql, params)}
