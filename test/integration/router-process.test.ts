// `hmlab router` and `hmlab qdstat` as a user runs them: clear errors for
// bad config or a taken port, warnings for unsupported config, a clean exit
// on SIGTERM, qdstat tables from a live router.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { freePort, ROOT, routerConf, tempDir, waitForRouter } from '../helpers/router-procs.js';
import { amqpConnect } from '../helpers/router-amqp.js';

const CLI = join(ROOT, 'server', 'cli', 'main.ts');
const hmlab = (args: string[], timeout = 30000) => spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout });

describe('hmlab router and hmlab qdstat', () => {
  it('refuses a broken config naming the file and line', (t) => {
    const dir = tempDir(t);
    const f = join(dir, 'bad.conf');
    writeFileSync(f, 'router {\n    mode: interior\n    id: R\n}\nlistener {\n    port: many\n}\n');
    const r = hmlab(['router', '-c', f]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /bad\.conf:6: listener port "many" is invalid/);
    const missing = hmlab(['router', '-c', join(dir, 'nope.conf')]);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /cannot read config file .*nope\.conf: no such file/);
  });

  it('exits non-zero with a clear message when its port is taken', async (t) => {
    const blocker = createServer();
    const port = await freePort();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
    t.after(() => blocker.close());
    const dir = tempDir(t);
    const f = join(dir, 'r.conf');
    writeFileSync(f, routerConf({ id: 'R', normal: port, mode: 'standalone' }));
    const r = hmlab(['router', '-c', f]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`port ${port} is already in use`));
  });

  it('warns about what it does not support, serves qdstat, and stops cleanly on SIGTERM', async (t) => {
    const dir = tempDir(t);
    const port = await freePort();
    const f = join(dir, 'r.conf');
    writeFileSync(f, routerConf({ id: 'Router.Q', normal: port, mode: 'standalone' }) + 'linkRoute {\n    prefix: queue\n    direction: in\n}\n');
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, 'router', '-c', f], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
    await waitForRouter(port, 20000, child);
    assert.match(out, /CONFIG \(warning\) .*r\.conf:\d+: section "linkRoute" is not supported/);
    const g = hmlab(['qdstat', '-b', `127.0.0.1:${port}`, '-g']);
    assert.equal(g.status, 0, g.stderr);
    assert.match(g.stdout, /Router Id\s+Router\.Q/);
    assert.match(g.stdout, /Product\s+hmlab-router/);
    const conn = await amqpConnect(t, port, 'watcher');
    const closed = new Promise<string>((res) => conn.once('connection_close', () => res('close')).once('disconnected', () => res('disconnected')));
    const c = hmlab(['qdstat', '-b', `127.0.0.1:${port}`, '-c', '-l', '-a']);
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stdout, /Connections[\s\S]*watcher/);
    assert.match(c.stdout, /Router Links/);
    assert.match(c.stdout, /Router Addresses[\s\S]*\$management/);
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.equal(await closed, 'close', 'clients should get an AMQP close, not a dropped socket');
  });

  it('rejects a bad --bus and a router that is not there', () => {
    const bad = hmlab(['qdstat', '-b', 'nowhere', '-g']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--bus "nowhere" is invalid: give HOST:PORT/);
    const none = hmlab(['qdstat', '-b', '127.0.0.1:1', '-g', '-t', '2']);
    assert.notEqual(none.status, 0);
    assert.match(none.stderr, /cannot connect to 127\.0\.0\.1:1/);
  });
});
