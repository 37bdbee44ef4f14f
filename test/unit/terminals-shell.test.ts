import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareShell } from '../../server/terminals/shell.js';

test('the bin wrappers take a home with $(...), quotes and spaces as it is, and run nothing from its name', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'hmlab-shell-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const pwned = join(root, 'pwned');
  // each a way out of a badly quoted string: command substitution, backticks, both quotes, spaces
  const home = join(root, `lab $(touch ${pwned}) \`touch ${pwned}\` it's "x" \${HOME}`);
  mkdirSync(home, { recursive: true });
  prepareShell(home);
  const env = { ...process.env };
  delete env.HMLAB_HOME;
  // rabbitmqctl with no lab up says so, naming $HMLAB_HOME: the wrapper's default must be the home, byte for byte
  const r = spawnSync(join(home, 'bin', 'rabbitmqctl'), ['status'], { env, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 69, r.stderr);
  assert.ok(r.stderr.includes(`${home}/state.json`), `the message names the home as it is: ${r.stderr}`);
  assert.equal(existsSync(pwned), false, 'nothing in the home\'s name ran');
  // an HMLAB_HOME already set wins over the default
  const other = spawnSync(join(home, 'bin', 'rabbitmqctl'), ['status'], {
    env: { ...env, HMLAB_HOME: '/nonexistent/other' }, encoding: 'utf8', timeout: 30_000,
  });
  assert.ok(other.stderr.includes('/nonexistent/other/state.json'), other.stderr);
  for (const tool of ['hmlab', 'qdstat', 'rabbitmqctl']) {
    const text = readFileSync(join(home, 'bin', tool), 'utf8');
    assert.equal(spawnSync('sh', ['-n', join(home, 'bin', tool)]).status, 0, `${tool} parses`);
    assert.ok(!text.includes(':=\''), `${tool} does not quote the home inside \${VAR:=...}`);
  }
  assert.equal(existsSync(pwned), false);
});
