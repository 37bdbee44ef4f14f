// The WAN relay's two kinds of cut, on real loopback sockets (no namespaces
// needed): a closing cut ends every connection across it at once; a silent cut
// lets no byte and no close through either way and keeps the sockets open, as
// a link failing between two routers does; the heal then delivers what was
// held, connects what waited, and closes what gave up meanwhile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultWan, runRelay, writeWanSettings, type WanSettings } from '../../server/isolation/index.js';
import { freePort } from '../../server/backends/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A client that records what it receives and whether it was closed. */
async function client(port: number): Promise<{ s: Socket; got: () => string; closed: () => boolean }> {
  const s = connect(port, '127.0.0.1');
  let data = '';
  let closed = false;
  s.on('data', (d: Buffer) => { data += d.toString(); });
  s.on('close', () => { closed = true; });
  s.on('error', () => { closed = true; });
  await new Promise<void>((res, rej) => { s.once('connect', () => res()); s.once('error', rej); });
  return { s, got: () => data, closed: () => closed };
}

async function until(what: string, fn: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

test('a silent cut holds bytes and closes both ways with the sockets open; a heal delivers them; a closing cut ends connections at once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hmlab-relay-'));
  const serverSockets: Socket[] = [];
  const echo = createServer((s) => { serverSockets.push(s); s.on('error', () => {}); s.pipe(s); });
  const echoPort = await freePort();
  await new Promise<void>((r) => echo.listen(echoPort, '127.0.0.1', () => r()));
  const wanPort = await freePort();
  const wanFile = join(dir, 'wan.json');
  const set = (s: Partial<WanSettings>) => writeWanSettings(wanFile, { ...defaultWan(), delayMs: 0, ...s });
  set({});
  const sock = join(dir, 'wan.sock');
  const relay = await runRelay({
    wanFile,
    forwards: [
      { name: 'wan', listen: { tcp: { host: '127.0.0.1', port: wanPort } }, connect: { unix: sock }, wan: true },
      { name: 'far', listen: { unix: sock }, connect: { tcp: { host: '127.0.0.1', port: echoPort } } },
    ],
  }, () => {});
  t.after(async () => { await relay.close(); echo.close(); for (const s of serverSockets) s.destroy(); rmSync(dir, { recursive: true, force: true }); });

  const a = await client(wanPort);
  a.s.write('1');
  await until('the echo across the WAN', () => a.got() === '1');

  set({ state: 'cut', cutMode: 'silent' });
  await sleep(400); // the relay re-reads its settings every 100 ms
  a.s.write('2');
  const b = await client(wanPort); // a new connection during the cut: accepted here, reaching nothing
  b.s.write('3');
  await sleep(500);
  assert.equal(a.got(), '1', 'no byte crosses a silent cut');
  assert.equal(b.got(), '', 'nor does a new connection reach the far end');
  assert.ok(!a.closed() && !b.closed(), 'and the sockets stay open');
  assert.equal(serverSockets.length, 1, 'the far end sees no new connection');
  serverSockets[0].destroy(); // the far end gives up (its idle timeout)
  await sleep(400);
  assert.ok(!a.closed(), 'its close does not cross the silent cut either');

  set({ state: 'up', cutMode: 'silent' });
  await until('the held connection to reach the far end and be answered', () => b.got() === '3');
  await until('the connection whose far end gave up to be closed', () => a.closed());

  set({ state: 'cut', cutMode: 'close' });
  await until('a closing cut to end the connection at once', () => b.closed(), 2000);
  const c = connect(wanPort, '127.0.0.1');
  const refused = await new Promise<boolean>((res) => { c.on('close', () => res(true)); c.on('data', () => res(false)); c.on('error', () => {}); });
  assert.ok(refused, 'and to refuse new ones');
});
