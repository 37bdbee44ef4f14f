// The labs service without HTTP, on a lab home that was never brought up:
// what the workbook lists and opens, progress, checks (a failure is a hint,
// a defect is not), a damaged state.json, and a reset of a lab that starts down.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LabError, openLab } from '../../server/backends/index.js';
import { HttpError } from '../../server/http/index.js';
import { PACKAGE_ROOT } from '../../server/paths.js';
import { CHECKS, LabsService, isProgrammingError, type CheckDef } from '../../server/labs/index.js';

let home = '';
let service: LabsService;
const defect: CheckDef = {
  id: 'broker-running',
  title: 'a check with a defect',
  async run() {
    const st = undefined as unknown as { broker: { state: string } }; // the defect: reads a field of undefined
    return { pass: st.broker.state === 'running', hint: '' };
  },
};

const make = (checks?: ReadonlyMap<string, CheckDef>) => new LabsService({
  lab: openLab(home), home, database: join(home, 'server', `labs-${checks ? 'defect' : 'real'}.sqlite`),
  labsDir: join(PACKAGE_ROOT, 'labs'), labsRoot: PACKAGE_ROOT, basePort: 47000, checks,
});
const httpError = (status: number, field: string | undefined, message: RegExp) => (err: unknown) => {
  assert.ok(err instanceof HttpError, String(err));
  assert.deepEqual([err.status, err.field], [status, field]);
  assert.match(err.message, message);
  return true;
};

before(() => {
  home = mkdtempSync(join(tmpdir(), 'hmlab-labs-service-'));
  service = make();
});
after(() => {
  service?.close();
  rmSync(home, { recursive: true, force: true });
});

test('the list has every lab folder of the package, in order, with its checks and no progress yet', () => {
  const labs = service.list('owner');
  assert.deepEqual(labs.map((l) => l.id), ['01-one-broker', '02-split-transports', '03-temporal-coupling', '04-router-mesh', '05-failover',
    '06-durable-notifications', '07-measure', '08-operating', '09-across-regions']);
  assert.deepEqual(labs[0].checks.map((c) => c.id), ['broker-running', 'rpc-on-broker', 'notifications-on-broker', 'one-transport']);
  assert.deepEqual(labs[0].progress, { step: 0, passed: 0, total: 4, updatedAt: null });
});

test('opening a lab fills the learner\'s port block into its run commands; unknown labs and steps name the field', () => {
  const d = service.open('owner', '01-one-broker');
  const first = d.steps[0].actions[0];
  assert.deepEqual(first, { kind: 'run', index: 0, terminal: 'main', command: 'hmlab up --topology broker-only --base-port 47000' });
  assert.throws(() => service.open('owner', '99-nope'), httpError(404, 'lab', /no lab "99-nope": GET \/api\/labs lists them \(01-one-broker, /));
  assert.throws(() => service.setProgress('owner', '01-one-broker', { step: 40 }), httpError(400, 'step', /has steps 0 to \d+/));
  const p = service.setProgress('owner', '01-one-broker', { step: 1, action: 'run:0' });
  assert.deepEqual([p.step, p.actions], [1, ['run:0']]);
  assert.deepEqual(service.progress('owner', '01-one-broker').actions, ['run:0']);
  assert.equal(service.progress('someone-else', '01-one-broker').step, 0, 'progress is per learner');
});

test('a check\'s expected failure is its hint, recorded; a check with a defect throws its TypeError, and nothing is recorded', async () => {
  const r = await service.check('owner', '01-one-broker', 'broker-running');
  assert.deepEqual(r, { pass: false, hint: 'This lab has no broker yet: run "hmlab up --topology broker-only".' });
  assert.equal(service.progress('owner', '01-one-broker').checks['broker-running']?.hint, r.hint);
  await assert.rejects(service.check('owner', '01-one-broker', 'mesh-formed'),
    httpError(404, 'check', /has no check "mesh-formed"; its checks: broker-running, /));

  const withDefect = make(new Map(CHECKS).set(defect.id, defect));
  try {
    await assert.rejects(withDefect.check('owner', '01-one-broker', 'broker-running'), (err) => err instanceof TypeError && isProgrammingError(err));
    assert.equal(withDefect.progress('owner', '01-one-broker').checks['broker-running'], undefined, 'a defect is no result of the learner\'s');
  } finally {
    withDefect.close();
  }
});

test('a damaged state.json is a LabError naming the file and the fix, from every call that reads the lab', async () => {
  const state = join(home, 'state.json');
  writeFileSync(state, '{"version": 1, "topology": "ring"}');
  try {
    const named = (err: unknown) => err instanceof LabError && err.code === 'bad-config'
      && err.message.includes(state) && /run "hmlab down" and "hmlab up"/.test(err.message);
    assert.throws(() => service.open('owner', '01-one-broker'), named);
    await assert.rejects(service.check('owner', '01-one-broker', 'broker-running'), named);
    await assert.rejects(service.startState('01-one-broker'), named);
    await assert.rejects(service.previewEdit('02-split-transports', 0), named);
  } finally {
    rmSync(state);
  }
});

test('a reset of a lab that starts down removes the edited configuration and the lab\'s progress; one reset at a time', async () => {
  mkdirSync(join(home, 'etc'), { recursive: true });
  writeFileSync(join(home, 'etc', 'openstack.conf'), '[DEFAULT]\ntransport_url = rabbit://edited\n');
  service.setProgress('owner', '01-one-broker', { step: 2 });
  const started = service.startReset('owner', '01-one-broker');
  assert.equal(started.state, 'running');
  assert.throws(() => service.startReset('owner', '02-split-transports'), httpError(409, undefined, /a reset of "01-one-broker" is already running/));
  const done = await service.resetDone();
  assert.equal(done.state, 'done', done.message);
  assert.match(done.message, /the lab is down and its configuration removed: start with step 1 \(it brings the broker-only lab up\)/);
  assert.deepEqual(service.reset('01-one-broker'), done);
  assert.equal(existsSync(join(home, 'etc', 'openstack.conf')), false);
  assert.equal(service.progress('owner', '01-one-broker').step, 0);
});
