// The measurement slide: RPC calls per second and call latency as the lab
// measures them, never typed in. Two sources: lab 7's checks (a 30 s window
// per transport, with the machine they ran on), and the live stream's
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

interface CheckReply {
  pass?: boolean;
  data?: { chart?: { machine?: string; measurements?: Measurement[] } };
}

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

async function labChecks(): Promise<{ machine: string | null; list: Measurement[] }> {
  const out: { machine: string | null; list: Measurement[] } = { machine: null, list: [] };
  for (const id of ['measured-router', 'measured-broker']) {
    try {
      const res = await fetch(`/api/labs/07-measure/checks/${id}`, { method: 'POST', credentials: 'same-origin' });
      if (!res.ok) continue;
      const r = (await res.json()) as CheckReply;
      const chart = r.data?.chart;
      if (chart?.machine) out.machine = chart.machine;
      if (chart?.measurements) out.list = chart.measurements;
    } catch { /* no labs engine here: the live rates still work */ }
  }
  return out;
}

export async function mountMeasurements(root: HTMLElement): Promise<void> {
  const created = await liveStream();
  if (!created) return; // no lab server: the slide keeps its "run lab 7" line
  const machineLine = root.querySelector<HTMLElement>('.measure-machine');
  const say = (s: string) => { if (machineLine) machineLine.textContent = s; };

  const checks = await labChecks();
  for (const m of checks.list) {
    setRow(root, m.transport, { n: String(m.calls), rate: fmt(m.callsPerS), p50: `${fmt(m.latencyMs.p50, 2)} ms`, p95: `${fmt(m.latencyMs.p95, 2)} ms` });
  }
  const machine = checks.machine;
  const where = `Measured on this lab's machine${machine ? `: ${machine}` : ''}, over loopback.`;
  if (checks.list.length) say(`${where} Lab 7 windows of 30 s; the row of the transport in use updates every second.`);

  // Live: per-second rates of the transport RPC is on now.
  let total = 0;
  created.stream.subscribe((ev: LabEvent) => {
    if (ev.type !== 'rates' || !ev.latencyMs) return;
    const t = rpcTransport(created.stream.status);
    if (!t) return;
    const perS = ev.perSecond['rpc.call'] ?? 0;
    total += ev.latencyMs.n;
    setRow(root, t, { n: String(total), rate: fmt(perS), p50: `${fmt(ev.latencyMs.p50, 2)} ms`, p95: `${fmt(ev.latencyMs.p95, 2)} ms` });
    root.dataset.live = t;
    say(`${where} Live now: RPC is on the ${t}.`);
  });
}
