/**
 * The answers of the sealpost:* message protocol and of the worker's API: shared by sealpost/sw (the
 * worker's side) and sealpost/page (the page's), and needing neither the DOM's nor the worker's globals.
 */

export interface FlushSummary {
  sent: number;
  retrying: number;
  dead: number;
  remaining: number;
  nextAttemptAt: number | null;
  throttled?: boolean;
  queues: Record<string, { sent: number; retrying: number; dead: number; remaining: number; nextAttemptAt: number | null }>;
}

export interface QueueStats {
  pending: number;
  inflight: number;
  dead: number;
  nextAttemptAt: number | null;
}

export type DeliverResult =
  | { shown: true; tag: string | null; silent: boolean }
  | { shown: 'fallback'; code: string }
  /** Nothing could be shown (this context may not show notifications); `code` is the verdict. */
  | { shown: false; code: string };

export interface Preferences {
  mutedCategories: string[];
  quietHours: { start: string; end: string } | null;
}

export interface WakeupStats {
  /** Flushes in the last 60 s, and the limit (`maxWakeupsPerMinute`). */
  lastMinute: number;
  limit: number;
  /** Flushes per source since the worker started ('sync', 'start:fetch', 'message', 'api', ...). */
  bySource: Record<string, number>;
  /** Flushes refused by the limit since the worker started. */
  throttled: number;
}

export interface WorkerStats {
  queues: Record<string, QueueStats>;
  wakeups: WakeupStats;
}
