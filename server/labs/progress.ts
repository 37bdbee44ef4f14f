// The learner's progress, kept on the server in SQLite so it survives a
// reload, a new browser and a restarted lab server. Keyed by learner so
// workshop seats can share one file.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

import type { CheckRecord, LabProgress } from '../../common/wire.js';
export type { CheckRecord, LabProgress };

/** A row of action_done that is not an action: when the learner began the lab. */
const BEGUN = 'begun';

export class ProgressStore {
  private db: Database.Database;

  constructor(file: string) {
    mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS lab_position (
        learner TEXT NOT NULL, lab TEXT NOT NULL, step INTEGER NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (learner, lab));
      CREATE TABLE IF NOT EXISTS check_result (
        learner TEXT NOT NULL, lab TEXT NOT NULL, check_id TEXT NOT NULL, pass INTEGER NOT NULL, hint TEXT NOT NULL, at INTEGER NOT NULL,
        PRIMARY KEY (learner, lab, check_id));
      CREATE TABLE IF NOT EXISTS action_done (
        learner TEXT NOT NULL, lab TEXT NOT NULL, action TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (learner, lab, action));
    `);
  }

  get(learner: string, lab: string): LabProgress {
    const pos = this.db.prepare('SELECT step, at FROM lab_position WHERE learner = ? AND lab = ?')
      .get(learner, lab) as { step: number; at: number } | undefined;
    const rows = this.db.prepare('SELECT check_id, pass, hint, at FROM check_result WHERE learner = ? AND lab = ?')
      .all(learner, lab) as { check_id: string; pass: number; hint: string; at: number }[];
    const acts = (this.db.prepare('SELECT action, at FROM action_done WHERE learner = ? AND lab = ? ORDER BY at')
      .all(learner, lab) as { action: string; at: number }[])
      .filter((a) => a.action !== BEGUN);
    const checks: Record<string, CheckRecord> = {};
    let updatedAt = pos?.at ?? null;
    for (const r of rows) {
      checks[r.check_id] = { check: r.check_id, pass: !!r.pass, hint: r.hint, at: r.at };
      updatedAt = Math.max(updatedAt ?? 0, r.at);
    }
    for (const a of acts) updatedAt = Math.max(updatedAt ?? 0, a.at);
    return { lab, step: pos?.step ?? 0, checks, actions: acts.map((a) => a.action), updatedAt };
  }

  setStep(learner: string, lab: string, step: number): void {
    this.db.prepare(
      'INSERT INTO lab_position (learner, lab, step, at) VALUES (?, ?, ?, ?) ' +
      'ON CONFLICT (learner, lab) DO UPDATE SET step = excluded.step, at = excluded.at',
    ).run(learner, lab, step, Date.now());
  }

  /** A pass stays a pass: a later failing run (the learner moved on) does not undo it. */
  recordCheck(learner: string, lab: string, check: string, pass: boolean, hint: string): void {
    this.db.prepare(`INSERT INTO check_result (learner, lab, check_id, pass, hint, at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (learner, lab, check_id) DO UPDATE SET
        pass = MAX(check_result.pass, excluded.pass),
        hint = CASE WHEN check_result.pass = 1 AND excluded.pass = 0 THEN check_result.hint ELSE excluded.hint END,
        at = excluded.at`).run(learner, lab, check, pass ? 1 : 0, hint, Date.now());
  }

  /** Marks when the learner began the lab (opened or reset it); the first mark stays. */
  begin(learner: string, lab: string): void {
    this.db.prepare('INSERT OR IGNORE INTO action_done (learner, lab, action, at) VALUES (?, ?, ?, ?)').run(learner, lab, BEGUN, Date.now());
  }

  /** When the learner began the lab, or null if never. */
  begunAt(learner: string, lab: string): number | null {
    const row = this.db.prepare('SELECT at FROM action_done WHERE learner = ? AND lab = ? AND action = ?')
      .get(learner, lab, BEGUN) as { at: number } | undefined;
    return row?.at ?? null;
  }

  recordAction(learner: string, lab: string, action: string): void {
    this.db.prepare('INSERT OR REPLACE INTO action_done (learner, lab, action, at) VALUES (?, ?, ?, ?)').run(learner, lab, action, Date.now());
  }

  reset(learner: string, lab: string): void {
    const tx = this.db.transaction(() => {
      for (const t of ['lab_position', 'check_result', 'action_done']) this.db.prepare(`DELETE FROM ${t} WHERE learner = ? AND lab = ?`).run(learner, lab);
    });
    tx();
  }

  close(): void {
    this.db.close();
  }
}
