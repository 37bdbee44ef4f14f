// What the dashboard shows of each seat, read from the seat's own server
// through its socket (GET /api/labs, /api/labs/LAB/progress, /api/status):
// the seat server stays the only writer of its progress database, and the
// same reads work unchanged for a seat in a Kubernetes pod, where there is
// no shared file system.
import type { LabProgress, LabStatus, LabSummary, StuckRow, WorkshopSeatView } from '../../common/wire.js';
import { seatRequest, type SeatAddress } from './seats.js';

export interface SeatReading {
  labs: LabSummary[];
  current: LabProgress | null;
  status: LabStatus | null;
}

async function getJson<T>(addr: SeatAddress, path: string): Promise<T | null> {
  try {
    const r = await seatRequest(addr, 'GET', path, undefined, 5000);
    return r.status === 200 ? JSON.parse(r.body) as T : null;
  } catch { return null; }
}

/** One seat's labs, the progress of the lab it is on, and its components. */
export async function readSeat(addr: SeatAddress): Promise<SeatReading> {
  const [labsBody, status] = await Promise.all([getJson<{ labs: LabSummary[] }>(addr, '/api/labs'), getJson<LabStatus>(addr, '/api/status')]);
  const labs = labsBody?.labs ?? [];
  const lab = currentLab(labs);
  const current = lab ? await getJson<LabProgress>(addr, `/api/labs/${encodeURIComponent(lab.id)}/progress`) : null;
  return { labs, current, status };
}

/** The lab the attendee touched last. */
export function currentLab(labs: LabSummary[]): LabSummary | null {
  let best: LabSummary | null = null;
  for (const l of labs) if (l.progress.updatedAt !== null && (best === null || l.progress.updatedAt > (best.progress.updatedAt ?? 0))) best = l;
  return best;
}

export function progressOf(reading: SeatReading | undefined): Pick<WorkshopSeatView, 'lab' | 'step' | 'labs' | 'components'> {
  if (!reading) return { lab: null, step: null, labs: [], components: [] };
  const cur = currentLab(reading.labs);
  return {
    lab: cur?.id ?? null,
    step: cur ? cur.progress.step : null,
    labs: reading.labs.map((l) => ({ id: l.id, title: l.title, passed: l.progress.passed, total: l.progress.total })),
    components: (reading.status?.components ?? []).map((c) => ({ name: c.name, state: c.state })),
  };
}

/**
 * Where the room is stuck: per lab step, how many seats passed all its
 * checks, and the hints of failing checks counted across seats, so the host
 * can explain once to everyone.
 */
export function whereStuck(readings: SeatReading[]): StuckRow[] {
  const rows = new Map<string, StuckRow>();
  const key = (lab: string, step: number) => `${lab}#${step}`;
  const labsById = new Map<string, LabSummary>();
  for (const r of readings) for (const l of r.labs) if (!labsById.has(l.id)) labsById.set(l.id, l);
  for (const lab of labsById.values()) {
    for (const s of lab.steps) {
      if (!s.checks.length) continue;
      rows.set(key(lab.id, s.index), { lab: lab.id, step: s.index, title: s.title, passed: 0, seats: 0, hints: [] });
    }
  }
  const hintSeats = new Map<string, Map<string, number>>();
  for (const r of readings) {
    const cur = currentLab(r.labs);
    const prog = r.current;
    for (const lab of r.labs) {
      for (const s of lab.steps) {
        const row = rows.get(key(lab.id, s.index));
        if (!row) continue;
        if (cur?.id === lab.id) row.seats++;
        const checks = lab.id === prog?.lab ? prog.checks : null;
        if (checks && s.checks.every((c) => checks[c]?.pass)) row.passed++;
        if (checks) {
          for (const c of s.checks) {
            const rec = checks[c];
            if (rec && !rec.pass && rec.hint) {
              const m = hintSeats.get(key(lab.id, s.index)) ?? new Map<string, number>();
              m.set(rec.hint, (m.get(rec.hint) ?? 0) + 1);
              hintSeats.set(key(lab.id, s.index), m);
            }
          }
        } else if (lab.progress.passed === lab.progress.total && lab.progress.total > 0) {
          row.passed++; // a finished lab passed every step
        }
      }
    }
  }
  for (const [k, m] of hintSeats) {
    const row = rows.get(k)!;
    row.hints = [...m].map(([hint, seats]) => ({ hint, seats })).sort((a, b) => b.seats - a.seats);
  }
  return [...rows.values()].filter((r) => r.seats > 0 || r.passed > 0);
}
