// A real `hmlab serve` for browser tests: its own temporary home and ports,
// optionally a lab brought up with it; stopped (backends too) and removed
// by close().
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePortBlock, freePort } from '../../server/backends/index.js';
import { ROOT } from './browser.js';

export interface ServedLab {
  home: string;
  /** The URL `hmlab serve` printed, with its token. */
  openUrl: string;
  /** Run an `hmlab` command against this lab's home (as the presenter's terminal would). */
  hmlab(args: string[], timeoutMs?: number): { status: number | null; output: string };
  close(): Promise<void>;
}

const cli = (args: string[]) => ['--import', 'tsx', join(ROOT, 'server', 'cli', 'main.ts'), ...args];

export async function serveLab(opts: { up?: string; readyTimeoutMs?: number; prefix?: string } = {}): Promise<ServedLab> {
  const home = mkdtempSync(join(tmpdir(), opts.prefix ?? 'hmlab-serve-'));
  const port = await freePort();
  const basePort = await findFreePortBlock();
  const args = ['serve', '--home', home, '--port', String(port), '--base-port', String(basePort), '--down-on-exit'];
  if (opts.up) args.push('--up', opts.up);
  const serve: ChildProcess = spawn(process.execPath, cli(args), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  serve.stdout!.on('data', (d) => { output += String(d); });
  serve.stderr!.on('data', (d) => { output += String(d); });

  const hmlab = (a: string[], timeoutMs = 120_000) => {
    const r = spawnSync(process.execPath, cli([...a, '--home', home]), { cwd: ROOT, timeout: timeoutMs, encoding: 'utf8' });
    return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
  };
  const close = async () => {
    if (serve.exitCode === null && serve.pid) {
      const exited = new Promise<void>((r) => serve.once('exit', () => r()));
      process.kill(serve.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
      if (serve.exitCode === null) process.kill(serve.pid, 'SIGKILL');
    }
    // --down-on-exit stops the backends; this makes sure of it even if the server died first.
    hmlab(['down'], 60_000);
    rmSync(home, { recursive: true, force: true });
  };

  // Ready when the URL with the token is printed (after "lab is up" when a lab comes up with it).
  const ready = opts.up ? /lab is up[\s\S]*open: (http:\/\/\S+\?token=\S+)/ : /open: (http:\/\/\S+\?token=\S+)/;
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 120_000);
  while (Date.now() < deadline) {
    const m = ready.exec(output);
    if (m) return { home, openUrl: m[1], hmlab, close };
    if (serve.exitCode !== null || /bringing the lab up failed/.test(output)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  await close();
  throw new Error(`"hmlab serve${opts.up ? ` --up ${opts.up}` : ''}" did not get ready:\n${output}`);
}
