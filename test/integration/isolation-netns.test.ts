// Network namespaces as seats and regions use them: a process inside one
// sees only its own loopback, cannot reach a port on the host's loopback,
// and removing the namespace ends its processes and leaves nothing behind.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { createNamespace, isolationAvailable, listNamespaces, namespacePids, removeNamespace, wrapInNamespace } from '../../server/isolation/index.js';

const available = isolationAvailable();
const skip = available.ok ? false : `network namespaces unavailable here: ${available.why}`;

/** Runs node -e SCRIPT inside the namespace; resolves with its stdout. */
function nodeIn(ns: string, script: string): Promise<string> {
  const [cmd, args] = wrapInNamespace(ns, process.execPath, ['-e', script]);
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('error', reject);
    p.on('exit', () => resolve(out.trim()));
  });
}

describe('network namespaces', { skip }, () => {
  it('keep a process off the host loopback and are removed with their processes', async (t) => {
    const ns = `hmlab-test-${randomBytes(3).toString('hex')}`;
    t.after(() => removeNamespace(ns));
    const host = createServer((s) => s.end('host'));
    await new Promise<void>((r) => host.listen(0, '127.0.0.1', () => r()));
    t.after(() => host.close());
    const port = (host.address() as { port: number }).port;

    await createNamespace(ns);
    assert.ok((await listNamespaces()).includes(ns));

    // From inside, the host's port is unreachable; the namespace's own loopback works.
    const reach = await nodeIn(ns, `
      const net = require('node:net');
      const s = net.connect(${port}, '127.0.0.1');
      s.on('connect', () => { console.log('connected'); process.exit(0); });
      s.on('error', (e) => { console.log(e.code); process.exit(0); });`);
    assert.equal(reach, 'ECONNREFUSED', 'the host loopback port must not be reachable from the namespace');
    const own = await nodeIn(ns, `
      const net = require('node:net');
      const srv = net.createServer((c) => c.end('ns')).listen(${port}, '127.0.0.1', () => {
        net.connect(${port}, '127.0.0.1').on('data', (d) => { console.log(String(d)); process.exit(0); });
      });`);
    assert.equal(own, 'ns', 'the same port number is free inside the namespace');

    // A long-running process inside is ended by removeNamespace.
    const [cmd, args] = wrapInNamespace(ns, process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    const sleeper = spawn(cmd, args, { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 300));
    assert.ok((await namespacePids(ns)).includes(sleeper.pid!), 'the wrapped pid is the process itself');
    const exited = new Promise((r) => sleeper.once('exit', r));
    await removeNamespace(ns);
    await exited;
    assert.ok(!(await listNamespaces()).includes(ns));
  });

  it('refuses a name that is not ours', async () => {
    await assert.rejects(createNamespace('other'), /must match/);
    assert.throws(() => wrapInNamespace('hmlab-x; rm -rf /', 'true', []), /must match/);
  });
});
