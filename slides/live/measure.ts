// The measurement slide: RPC calls per second and call latency as the lab
// measures them, never typed in. Two sources: lab 7's recorded results (a 30 s
// window per transport, with the machine they ran on), and the live stream's
// per-second rates for whichever transport RPC is on right now.
import type { LabEvent, LabStatus } from '../../widgets/api/index.js';
import { liveStream } from './stream.js';

type Transport = 'router' | 'broker';

interface Measurement {
  transport: Transport;
  calls: number;
  callsPerS: number;
  latencyMs: { p50: number; p95: number };
}

interface CheckRecord { check: string; pass: boolean; hint: string; at: number }
interface LabProgress { checks?: Record<string, CheckRecord> }

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');

function rpcTransport(status: LabStatus | null): Transport | null {
  const url = status?.transports.rpc ?? '';
  if (url.startsWith('amqp')) return 'router';
  if (url.startsWith('rabbit')) return 'broker';
  return null;
}

function setRow(root: HTMLElement, t: Transport, m: { n: string; rate: string; p50: string; p95: string }): void {
  const row = root.querySelector<HTMLElement>(`tr[data-transport="${t}"]`);
  if (!row) return;
  const set = (cls: string, v: string) => { const c = row.querySelector(`.${cls}`); if (c) c.textContent = v; };
  set('m-n', m.n); set('m-rate', m.rate); set('m-p50', m.p50); set('m-p95', m.p95);
  row.dataset.measured = 'true';
}

/**
 * Lab 7's results as its checks recorded them (read only: the slide never
 * runs a check, so showing it leaves the presenter's progress alone). A
 * passed check reads "Through the router: N calls in S s (R calls/s), round
 * trip mean M ms, p50 P ms, p95 Q ms. Measured on MACHINE."
 */
export function parseMeasurement(hint: string): (Measurement & { machine: string | null }) | null {
  const m = /Through the (router|broker): (\d+) calls in [\d.]+ s \(([\d.]+) calls\/s\).*?p50 ([\d.]+) ms, p95 ([\d.]+) ms/.exec(hint);
  if (!m) return null;
  const machine = /Measured on (.+?)\.?$/.exec(hint.trim());
  return {
    transport: m[1] as Transport, calls: Number(m[2]), callsPerS: Number(m[3]),
    latencyMs: { p50: Number(m[4]), p95: Number(m[5]) }, machine: machine ? machine[1] : null,
  };
}

async function labResults(): Promise<{ machine: string | null; list: Measurement[] }> {
  const out: { machine: string | null; list: Measurement[] } = { machine: null, list: [] };
  try {
    const res = await fetch('/api/labs/07-measure/progress', { credentials: 'same-origin' });
    if (!res.ok) return out;
    const p = (await res.json()) as LabProgress;
    for (const rec of Object.values(p.checks ?? {})) {
      if (!rec.pass) continue;
      const m = parseMeasurement(rec.hint);
      if (!m) continue;
      out.list.push(m);
      out.machine = m.machine ?? out.machine;
    }
  } catch { /* no labs engine here: the live rates still work */ }
  return out;
}

/** The browser runs on the lab's machine when the deck comes over loopback. */
function thisMachine(): string | null {
  const local = ['127.0.0.1', 'localhost', '[::1]', '::1'].includes(window.location.hostname);
  return local ? `this machine (${navigator.hardwareConcurrency} CPU threads)` : null;
}

export async function mountMeasurements(root: HTMLElement): Promise<void> {
  const created = await liveStream();
  if (!created) return; // no lab server: the slide keeps its "run lab 7" line
  const machineLine = root.querySelector<HTMLElement>('.measure-machine');
  const say = (s: string) => { if (machineLine) machineLine.textContent = s; };

  const checks = await labResults();
  const fromLab = new Set<Transport>();
  for (const m of checks.list) {
    setRow(root, m.transport, { n: String(m.calls), rate: fmt(m.callsPerS), p50: `${fmt(m.latencyMs.p50, 2)} ms`, p95: `${fmt(m.latencyMs.p95, 2)} ms` });
    fromLab.add(m.transport);
  }
  const machine = checks.machine ?? thisMachine();
  const where = machine ? `Measured on ${machine}, over loopback.` : 'Measured on the lab server\'s machine.';
  say(checks.list.length ? `${where} Table: lab 7, 30 s per transport.` : where);

  // The last second of the running lab, on the transport RPC uses now. A row
  // lab 7 filled keeps lab 7's window; an empty row adds the live calls up.
  const liveLine = root.querySelector<HTMLElement>('.measure-live');
  const total: Record<Transport, number> = { router: 0, broker: 0 };
  created.stream.subscribe((ev: LabEvent) => {
    if (ev.type !== 'rates' || !ev.latencyMs) return;
    const t = rpcTransport(created.stream.status);
    if (!t) return;
    const perS = ev.perSecond['rpc.call'] ?? 0;
    total[t] += ev.latencyMs.n;
    const p50 = `${fmt(ev.latencyMs.p50, 2)} ms`;
    const p95 = `${fmt(ev.latencyMs.p95, 2)} ms`;
    if (!fromLab.has(t)) setRow(root, t, { n: String(total[t]), rate: fmt(perS), p50, p95 });
    if (liveLine) liveLine.textContent = `Live now, RPC on the ${t}: ${fmt(perS)} calls/s, p50 ${p50}, p95 ${p95}.`;
    root.dataset.live = t;
    say(`${where}${checks.list.length ? ' Table: lab 7, 30 s per transport.' : ''} RPC is on the ${t} now.`);
  });
}
