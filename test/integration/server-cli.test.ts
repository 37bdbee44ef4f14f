// `hmlab serve` and `hmlab record` as a user runs them: the URL to open, the
// token kept in the home, a busy port explained, a clean stop on SIGTERM.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const home = mkdtempSync(join(tmpdir(), 'hmlab-serve-cli-'));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null && c.pid) { try { process.kill(c.pid, 'SIGKILL'); } catch { /* already gone */ } }
  rmSync(home, { recursive: true, force: true });
});

const cli = ['--import', 'tsx', 'server/cli/main.ts'];

function serve(args: string[]): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [...cli, 'serve', '--home', home, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed:\n${out}`)), 20000);
    const check = () => {
      const m = /open: (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)/.exec(out);
      if (m) { clearTimeout(timer); resolve({ child, url: m[1], output: () => out }); }
    };
    child.stdout!.on('data', check);
    child.once('exit', () => { clearTimeout(timer); reject(new Error(`serve exited:\n${out}`)); });
  });
}

const exited = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code))));

test('serve prints the URL with its token, keeps the token in the home, explains a busy port, and stops cleanly on SIGTERM', async () => {
  const first = await serve(['--port', '0']);
  const url = new URL(first.url);
  const token = url.searchParams.get('token')!;
  assert.match(first.output(), /lab backends keep running/);
  const tokenFile = join(home, 'server', 'token');
  assert.equal(statSync(tokenFile).mode & 0o777, 0o600, 'the token file is private');
  const status = await fetch(`${url.origin}/api/status`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(status.status, 200);
  assert.equal((await status.json()).topology, null, 'no lab yet, and no error');
  assert.equal((await fetch(`${url.origin}/api/status`)).status, 401);

  const busy = spawnSync(process.execPath, [...cli, 'serve', '--home', home, '--port', url.port], { encoding: 'utf8', timeout: 20000 });
  assert.equal(busy.status, 1);
  assert.match(busy.stderr, new RegExp(`port ${url.port} .*busy.*--port`));

  first.child.kill('SIGTERM');
  assert.equal(await exited(first.child), 0);
  assert.match(first.output(), /SIGTERM: stopping the lab server/);
  assert.equal(existsSync(join(home, 'server', 'server.json')), false, 'no stale server record');

  const again = await serve(['--port', '0']);
  assert.equal(new URL(again.url).searchParams.get('token'), token, 'a restart keeps the token: open tabs stay signed in');
  again.child.kill('SIGINT');
  assert.equal(await exited(again.child), 0);
});

test('bad options and a lab that is not running get a clear message', () => {
  let r = spawnSync(process.execPath, [...cli, 'serve', '--home', home, '--port', 'abc'], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--port must be a number/);
  r = spawnSync(process.execPath, [...cli, 'serve', '--home', home, '--up', 'mesh'], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--up must be one of broker-only, hybrid, hybrid-mesh/);
  r = spawnSync(process.execPath, [...cli, 'serve', '--home', home, '--terminal-idle', '0'], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--terminal-idle must be more than 0 minutes/);
  r = spawnSync(process.execPath, [...cli, 'record', join(home, 'x.jsonl'), '--home', home, '--duration', '1'], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /nothing is running.*hmlab up/);
  r = spawnSync(process.execPath, [...cli, 'record', join(home, 'x.txt'), '--home', home], { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /\.jsonl/);
});
