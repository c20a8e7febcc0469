/** What the outbox shows of a stored entry: its scheduling fields, never its sealed bytes. */
export function entryInfo(row) {
  return {
    id: row.id, queue: row.queue, state: row.state, attempts: row.attempts, createdAt: row.createdAt,
    nextAttemptAt: row.nextAttemptAt, lastError: row.lastError ?? null, size: row.size,
  };
}
