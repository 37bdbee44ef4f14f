// How many seats a machine holds with the whole room typing, from what the
// workshop bench measured (README, "Hosting a workshop"): hybrid-mesh seats
// on a 2-core machine, against the typing budget (keystroke echo p95 under
// 50 ms in every seat). A host who asks for more hears it before the room
// does. Only measured figures are quoted; scaling them by cores is an
// estimate, and the advice says it is one.

/** The measured points, lowest traffic first: from `edge` seats on, some runs missed the budget. */
const MEASURED = [
  { rate: 2, cores: 2, edge: 40, said: '35 seats fit at 2 operations/s per seat and 40 were the edge' },
  { rate: 5, cores: 2, edge: 30, said: '30 seats were the edge at 5 operations/s per seat' },
] as const;

export interface CapacityAdvice {
  /** From this many seats on, this machine is at the measured edge (scaled by cores). */
  edge: number;
  /** One line for the host: what was asked, what was measured, what to do. */
  warning: string;
}

const edgeOn = (p: (typeof MEASURED)[number], cores: number) => Math.floor((p.edge * cores) / p.cores);
const coresWord = (n: number) => (n === 1 ? '1 core' : `${n} cores`);

/** Advice when `seats` at `rate` operations/s per seat reach the measured edge of what `cores` hold; null below it,
 *  and with traffic paused (lighter than anything measured). */
export function capacityAdvice(seats: number, cores: number, rate: number): CapacityAdvice | null {
  if (rate <= 0) return null;
  const at = MEASURED.find((m) => rate <= m.rate);
  const ref = at ?? MEASURED[MEASURED.length - 1];
  const edge = edgeOn(ref, cores);
  if (seats < edge) return null;
  const hold = cores === 1 ? '1 core holds' : `${cores} cores hold`;
  const scaled = cores === ref.cores ? '' : ` (this machine has ${coresWord(cores)}: about ${edge}, scaled, an estimate)`;
  const more = at ? '' : ', and more traffic holds fewer';
  const lower = MEASURED.find((m) => m.rate < rate && edgeOn(m, cores) > seats);
  const fix = lower
    ? `set the traffic to ${lower.rate} operations/s per seat (--traffic-rate ${lower.rate}, or "set for all" on the dashboard), or plan fewer seats`
    : 'plan fewer seats, or a second machine';
  const also = lower || ref === MEASURED[0] ? '' : `; ${MEASURED[0].said}`;
  return {
    edge,
    warning: `${seats} seats at ${rate} operations/s per seat are at or past what ${hold} with everyone typing: `
      + `on 2 cores the workshop bench measured that ${ref.said}${more}${scaled}${also}. Typing may lag; ${fix}.`,
  };
}
