// The workshop's own state, kept in SQLite under the workshop folder (root
// only): the host token, the join code, who holds which seat, help requests
// and the log of every host action. Lab progress is not here: each seat's
// server keeps its own, and the dashboard asks it (see progress.ts).
import Database from 'better-sqlite3';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export interface SeatRecord {
  seat: number;
  /** The attendee's seat token (cookie), null while the seat is free. */
  token: string | null;
  attendee: string;
  assignedAt: number | null;
  lastActivity: number | null;
  help: { question: string; at: number } | null;
}

export interface LogEntry { at: number; seat: number | null; action: string; detail: string }

// Read aloud or typed from a slide: no 0/O or 1/l/I to confuse.
const CODE_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
export function newJoinCode(length = 6): string {
  const bytes = randomBytes(length);
  return [...bytes].map((b) => CODE_ALPHABET[b % CODE_ALPHABET.length]).join('');
}

/** The secret in a seat's printed card URL: stateless, tied to the host token and the seat. */
export function cardKey(hostToken: string, seat: number): string {
  return createHmac('sha256', hostToken).update(`seat:${seat}`).digest('hex').slice(0, 24);
}

export class WorkshopStore {
  private db: Database.Database;

  constructor(file: string, seats: number) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS seat (seat INTEGER PRIMARY KEY, token TEXT UNIQUE, attendee TEXT NOT NULL DEFAULT '',
        assigned_at INTEGER, last_activity INTEGER, help_question TEXT, help_at INTEGER);
      CREATE TABLE IF NOT EXISTS host_log (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, seat INTEGER, action TEXT NOT NULL, detail TEXT NOT NULL);
    `);
    const add = this.db.prepare('INSERT OR IGNORE INTO seat (seat) VALUES (?)');
    for (let s = 1; s <= seats; s++) add.run(s);
    if (!this.meta('host_token')) this.setMeta('host_token', randomBytes(24).toString('hex'));
    if (!this.meta('join_code')) this.setMeta('join_code', newJoinCode());
  }

  meta(key: string): string | null {
    return (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value ?? null;
  }
  setMeta(key: string, value: string): void {
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }
  get hostToken(): string { return this.meta('host_token')!; }
  get joinCode(): string { return this.meta('join_code')!; }

  private row(r: Record<string, unknown>): SeatRecord {
    return {
      seat: Number(r.seat),
      token: (r.token as string | null) ?? null,
      attendee: String(r.attendee ?? ''),
      assignedAt: (r.assigned_at as number | null) ?? null,
      lastActivity: (r.last_activity as number | null) ?? null,
      help: r.help_question ? { question: String(r.help_question), at: Number(r.help_at) } : null,
    };
  }

  seats(limit: number): SeatRecord[] {
    return (this.db.prepare('SELECT * FROM seat WHERE seat <= ? ORDER BY seat').all(limit) as Record<string, unknown>[]).map((r) => this.row(r));
  }
  seat(n: number): SeatRecord | null {
    const r = this.db.prepare('SELECT * FROM seat WHERE seat = ?').get(n) as Record<string, unknown> | undefined;
    return r ? this.row(r) : null;
  }
  seatByToken(token: string): SeatRecord | null {
    const r = this.db.prepare('SELECT * FROM seat WHERE token = ?').get(token) as Record<string, unknown> | undefined;
    return r ? this.row(r) : null;
  }

  /** Gives the lowest free seat to a new attendee; null when every seat is taken. */
  assign(attendee: string, limit: number, prefer: number[] = []): SeatRecord | null {
    const tx = this.db.transaction(() => {
      const free = (this.db.prepare('SELECT seat FROM seat WHERE token IS NULL AND seat <= ? ORDER BY seat')
        .all(limit) as { seat: number }[]).map((r) => r.seat);
      const pick = prefer.find((p) => free.includes(p)) ?? free[0];
      if (pick === undefined) return null;
      this.db.prepare('UPDATE seat SET token = ?, attendee = ?, assigned_at = ?, last_activity = ? WHERE seat = ?')
        .run(randomBytes(24).toString('hex'), attendee, Date.now(), Date.now(), pick);
      return pick;
    });
    const n = tx();
    return n === null ? null : this.seat(n);
  }

  /** The seat's token, giving it one if it has none (a printed card opens its own seat). */
  claim(n: number): SeatRecord | null {
    this.db.prepare('UPDATE seat SET token = ?, assigned_at = ?, last_activity = ? WHERE seat = ? AND token IS NULL')
      .run(randomBytes(24).toString('hex'), Date.now(), Date.now(), n);
    return this.seat(n);
  }

  free(n: number): void {
    this.db.prepare(
      'UPDATE seat SET token = NULL, attendee = \'\', assigned_at = NULL, last_activity = NULL, help_question = NULL, help_at = NULL ' +
      'WHERE seat = ?',
    ).run(n);
  }
  touch(n: number): void {
    this.db.prepare('UPDATE seat SET last_activity = ? WHERE seat = ?').run(Date.now(), n);
  }
  askHelp(n: number, question: string): void {
    this.db.prepare('UPDATE seat SET help_question = ?, help_at = ? WHERE seat = ?').run(question, Date.now(), n);
  }
  answerHelp(n: number): void {
    this.db.prepare('UPDATE seat SET help_question = NULL, help_at = NULL WHERE seat = ?').run(n);
  }

  log(seat: number | null, action: string, detail = ''): void {
    this.db.prepare('INSERT INTO host_log (at, seat, action, detail) VALUES (?, ?, ?, ?)').run(Date.now(), seat, action, detail);
  }
  recentLog(limit = 200): LogEntry[] {
    return (this.db.prepare('SELECT at, seat, action, detail FROM host_log ORDER BY id DESC LIMIT ?').all(limit) as LogEntry[]);
  }

  close(): void { this.db.close(); }
}
