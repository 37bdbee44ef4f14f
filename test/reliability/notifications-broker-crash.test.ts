// Notifications across a broker crash, with lab 6's durable settings: a real
// RabbitMQ, the lab's telemetry agent on real oslo.messaging 14.0.3, and a
// notifier sending 10,000 notifications while the broker is SIGKILLed and
// started again once. Counts what the telemetry agent received, by id.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadLabs, applySettings } from '../../server/labs/index.js';
import { ROOT, readEvents, tempLab, waitFor } from '../helpers/lab-env.js';
import { noRabbit, noRouter } from '../helpers/labs-harness.js';

const COUNT = 10_000;
const RATE = 400; // per second: the crash lands in the middle of the run
const KILL_AT = 3_000;

test('10,000 durable notifications, one broker SIGKILL and restart: every one counted', { skip: noRabbit ?? noRouter ?? false, timeout: 280_000 }, async () => {
  const t = await tempLab('hmlab-notify-crash-');
  const child: { pid?: number } = {};
  try {
    await t.lab.up({ topology: 'hybrid', basePort: t.basePort, trafficRate: 0 });
    // Lab 6, as the learner does it: its edit, then services off, broker restarted, services on.
    const lab6 = loadLabs(join(ROOT, 'labs'), ROOT).labs.find((l) => l.id === '06-durable-notifications');
    const edit = lab6?.actions.find((a) => a.kind === 'edit');
    assert.ok(edit && edit.kind === 'edit', 'lab 6 has its edit');
    const conf = t.lab.paths.openstackConf;
    writeFileSync(conf, applySettings(readFileSync(conf, 'utf8'), edit.settings));
    console.log(`# lab 6 settings: ${edit.settings.map((s) => `[${s.section}] ${s.key} = ${s.value}`).join(', ')}`);
    for (const s of ['compute-1', 'compute-2', 'telemetry', 'conductor']) await t.lab.stop(s);
    await t.lab.restart('broker');
    await t.lab.start('telemetry');

    const burst = spawn('/usr/bin/python3', [join(ROOT, 'test/helpers/notify-burst.py'), '--config-file', conf, '--count', String(COUNT), '--rate', String(RATE), '--prefix', 'crash'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.pid = burst.pid;
    let out = '';
    let err = '';
    let sent = 0;
    let failed = 0;
    let done = false;
    const errors: string[] = [];
    burst.stdout.on('data', (d: Buffer) => {
      out += d;
      const lines = out.split('\n'); out = lines.pop() ?? '';
      for (const l of lines) {
        try {
          const m = JSON.parse(l) as { sent?: number; failed?: number; done?: boolean; error?: string };
          if (m.sent !== undefined) sent = m.sent;
          if (m.failed !== undefined) failed = m.failed;
          if (m.error) errors.push(m.error);
          if (m.done) done = true;
        } catch { /* not a progress line */ }
      }
    });
    burst.stderr.on('data', (d: Buffer) => { err = (err + d).slice(-4000); });
    const exited = new Promise<number | null>((r) => burst.once('exit', (c) => r(c)));

    await waitFor(`${KILL_AT} notifications sent`, () => sent >= KILL_AT || burst.exitCode !== null, 120_000, 50);
    const killedAt = Date.now();
    await t.lab.kill('broker');
    const sentAtKill = sent;
    await new Promise((r) => setTimeout(r, 2000)); // as lab 6's run block: the dead node's port closes
    await t.lab.start('broker');
    const backAfterMs = Date.now() - killedAt;
    console.log(`# broker SIGKILLed after ${sentAtKill} notifications, running again ${(backAfterMs / 1000).toFixed(1)} s later`);

    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise<string>((r) => { timer = setTimeout(() => r('timeout'), 150_000); })]);
    clearTimeout(timer);
    assert.equal(code, 0, `the notifier finished (${sent} sent): ${err}`);
    assert.ok(done);

    const ids = () => readEvents(t.home, 'telemetry').filter((e) => e.kind === 'notify.received' && typeof e.id === 'string' && e.id.startsWith('crash-')).map((e) => e.id as string);
    // received stops growing: the queue is drained
    let last = -1;
    await waitFor('the telemetry agent to drain the queue', () => {
      const n = ids().length;
      const stable = n === last && n > 0;
      last = n;
      return stable || n >= COUNT;
    }, 90_000, 3000).catch(() => undefined);
    const received = ids();
    const distinct = new Set(received);
    const missing: number[] = [];
    for (let n = 0; n < COUNT; n++) if (!distinct.has(`crash-${n}`)) missing.push(n);
    const around = missing.length ? `${missing[0]}..${missing[missing.length - 1]}` : '-';
    console.log(`# notifications: ${COUNT} sent (${failed} failed at the notifier), ${distinct.size} received (${received.length - distinct.size} duplicates), ${missing.length} lost${missing.length ? ` (numbers ${around}, the broker died after ${sentAtKill})` : ''}`);
    if (errors.length) console.log(`# notifier errors: ${errors.slice(0, 3).join(' | ')}`);
    assert.equal(failed, 0, 'with retry = -1 the notifier never gives up');
    assert.equal(missing.length, 0, `${missing.length} notifications lost: ${missing.slice(0, 20).join(', ')}`);
  } finally {
    if (child.pid) { try { process.kill(child.pid, 'SIGKILL'); } catch { /* ended */ } }
    await t.cleanup();
  }
});
