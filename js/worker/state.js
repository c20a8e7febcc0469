/**
 * The worker's own small IndexedDB state, database 'sealpost-sw' (object store 'kv'): the user's
 * notification preferences and when each queue's sync tag was last re-armed. The name and the schema
 * are what earlier versions stored; keep them.
 */
import { SealpostError } from '../errors.js';
import { Database, request, transaction } from '../storage/idb.js';

const STATE_DB = 'sealpost-sw';
const TIME_OF_DAY = /^([01]\d|2[0-3]):([0-5]\d)$/;

export const DEFAULT_PREFERENCES = Object.freeze({ mutedCategories: [], quietHours: null });

/** Minutes since midnight of 'HH:MM', or null when `text` is not one. */
export function minutes(text) {
  const m = TIME_OF_DAY.exec(text);
  return m ? Number(m[1]) * 60 + Number(m[2]) : null;
}

/** Validates a preferences update; returns the merged preferences. */
export function mergePreferences(current, update) {
  if (!update || typeof update !== 'object' || Array.isArray(update)) {
    throw new SealpostError('invalid-argument', 'preferences must be an object');
  }
  const next = { ...DEFAULT_PREFERENCES, ...current };
  if (update.mutedCategories !== undefined) {
    const muted = update.mutedCategories;
    if (!Array.isArray(muted) || !muted.every((c) => typeof c === 'string' && c.length > 0 && c.length <= 64)) {
      throw new SealpostError('invalid-argument', 'mutedCategories must be an array of category names');
    }
    next.mutedCategories = [...new Set(muted)];
  }
  if (update.quietHours !== undefined) {
    const quiet = update.quietHours;
    if (quiet !== null && (typeof quiet !== 'object' || minutes(quiet.start) === null || minutes(quiet.end) === null)) {
      throw new SealpostError('invalid-argument', "quietHours must be null or {start: 'HH:MM', end: 'HH:MM'}");
    }
    next.quietHours = quiet === null ? null : { start: quiet.start, end: quiet.end };
  }
  return next;
}

export class WorkerState {
  /** @param {() => IDBFactory} factory  read when the database is first opened */
  constructor(factory) {
    this.factory = factory;
    /** @type {Promise<Database> | null} */
    this.opening = null;
    /** @type {Map<string, number>} re-arm times this worker life wrote (saves a read) */
    this.rearmed = new Map();
  }

  /** @private */
  db() {
    // Opened again on its next use if it is closed under it (another tab's upgrade, site data cleared).
    this.opening ??= Database.open(this.factory(), STATE_DB, 1, (db) => db.createObjectStore('kv'), ['kv']).catch((error) => {
      this.opening = null;
      throw error;
    });
    return this.opening;
  }

  /** @private */
  async read(key) {
    const db = await this.db();
    return transaction(db, 'kv', 'readonly', (tx) => request(tx.objectStore('kv').get(key)));
  }

  /** @private */
  async write(key, value) {
    const db = await this.db();
    await transaction(db, 'kv', 'readwrite', (tx) => request(tx.objectStore('kv').put(value, key)), { durability: 'strict' });
  }

  async preferences() {
    return { ...DEFAULT_PREFERENCES, ...((await this.read('preferences')) ?? {}) };
  }

  /** Validates and stores an update; resolves with the preferences now in force. */
  async updatePreferences(update) {
    const next = mergePreferences(await this.preferences(), update);
    await this.write('preferences', next);
    return next;
  }

  /** When `queue`'s sync tag was last re-armed (worker clock, ms; 0 if never). */
  async lastRearm(queue) {
    return this.rearmed.get(queue) ?? (await this.read(`rearm:${queue}`)) ?? 0;
  }

  async recordRearm(queue, at) {
    this.rearmed.set(queue, at);
    await this.write(`rearm:${queue}`, at);
  }
}
