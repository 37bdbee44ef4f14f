import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseLab, LabFileError, loadLabs, CHECK_IDS, applySettings, lineDiff, ProgressStore } from '../../server/labs/index.js';

const ids = new Set(['broker-running', 'rpc-on-broker']);
const good = `---
title: A small lab
minutes: 5
topology: broker-only
summary: Two steps to show the format works.
---

Intro text.

## Start

\`\`\`run terminal=main
hmlab up --topology broker-only
\`\`\`

\`\`\`check id=broker-running
RabbitMQ runs.
\`\`\`

## Edit

\`\`\`edit file=etc/openstack.conf
[DEFAULT]
transport_url = amqp://\${router-a}/
\`\`\`

\`\`\`ini
[DEFAULT]
shown = only
\`\`\`
`;

function errorOf(src: string): LabFileError {
  try {
    parseLab('00-x', 'labs/00-x/lab.md', src, { checkIds: ids });
  } catch (err) {
    assert.ok(err instanceof LabFileError, `expected LabFileError, got ${String(err)}`);
    return err;
  }
  assert.fail('the lab file was accepted');
}

test('a valid lab parses into steps with run, edit and check actions rendered as buttons', () => {
  const lab = parseLab('00-x', 'labs/00-x/lab.md', good, { checkIds: ids });
  assert.equal(lab.meta.title, 'A small lab');
  assert.equal(lab.meta.start, 'up');
  assert.deepEqual(lab.steps.map((s) => s.title), ['Start', 'Edit']);
  assert.deepEqual(lab.actions.map((a) => a.kind), ['run', 'check', 'edit']);
  const edit = lab.actions[2];
  assert.equal(edit.kind, 'edit');
  if (edit.kind === 'edit') {
    assert.deepEqual(edit.settings.map((s) => [s.section, s.key, s.value, s.line]), [['DEFAULT', 'transport_url', 'amqp://${router-a}/', 24]]);
  }
  assert.match(lab.steps[0].html, /<button[^>]*class="do-run"/);
  assert.match(lab.steps[0].html, /data-check="broker-running"/);
  assert.match(lab.steps[1].html, /class="do-apply"/);
  assert.match(lab.steps[1].html, /<pre class="code" data-lang="ini">/);
  assert.match(lab.introHtml, /Intro text/);
  assert.equal(lab.actions[0].line, 12);
});

test('an unknown block type names file and line', () => {
  const e = errorOf(good.replace('```check id=broker-running', '```chek id=broker-running'));
  assert.equal(e.file, 'labs/00-x/lab.md');
  assert.equal(e.line, 16);
  assert.match(e.message, /^labs\/00-x\/lab\.md:16: unknown block type "chek"/);
});

test('an unknown check id is refused with the known ids', () => {
  const e = errorOf(good.replace('id=broker-running', 'id=no-such-check'));
  assert.equal(e.line, 16);
  assert.match(e.problem, /unknown check id "no-such-check".*broker-running/);
});

test('bad front matter names the field and its line', () => {
  const e = errorOf(good.replace('topology: broker-only', 'topology: star'));
  assert.equal(e.line, 4);
  assert.match(e.problem, /"topology".*broker-only, hybrid, hybrid-mesh/);
  const missing = errorOf(good.replace('minutes: 5\n', ''));
  assert.match(missing.problem, /"minutes"/);
  const yaml = errorOf(good.replace('minutes: 5', 'minutes: [5'));
  assert.match(yaml.problem, /not valid YAML/);
  assert.ok(yaml.line >= 3 && yaml.line <= 5, `YAML error line ${yaml.line}`);
  assert.match(errorOf('# no front matter\n').problem, /front matter is missing/);
  assert.match(errorOf(good.replace('minutes: 5', 'minutes: 5\ncolour: red')).problem, /unknown field\(s\) colour/);
});

test('edit blocks: keys need a section, placeholders must exist, files must be under etc/', () => {
  assert.match(errorOf(good.replace('[DEFAULT]\ntransport_url', 'transport_url')).problem, /before any \[section\]/);
  const ph = errorOf(good.replace('${router-a}', '${router-z}'));
  assert.equal(ph.line, 24);
  assert.match(ph.problem, /unknown placeholder \$\{router-z\}/);
  assert.match(errorOf(good.replace('file=etc/openstack.conf', 'file=/etc/passwd')).problem, /must be a \.conf file under etc\//);
  assert.match(errorOf(good.replace('```run terminal=main', '```run terminal=Main!')).problem, /not a terminal name/);
  assert.match(errorOf(good.replace('## Start\n', '')).problem, /before the first step/);
});

test('every shipped lab is valid and every check they name exists', () => {
  const { labs, errors } = loadLabs(join(import.meta.dirname, '../../labs'));
  assert.deepEqual(errors.map((e) => e.message), []);
  assert.deepEqual(labs.map((l) => l.id), ['01-one-broker', '02-split-transports', '03-temporal-coupling', '04-router-mesh', '05-failover',
    '06-durable-notifications', '07-measure', '08-operating', '09-across-regions']);
  for (const lab of labs) for (const a of lab.actions) if (a.kind === 'check') assert.ok(CHECK_IDS.has(a.id), a.id);
});

test('the build step fails on a broken lab file, naming file and line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'labs-validate-'));
  try {
    mkdirSync(join(dir, '01-broken'));
    writeFileSync(join(dir, '01-broken', 'lab.md'), good.replace('```check id=broker-running', '```chek id=broker-running'));
    const validate = join(import.meta.dirname, '../../server/labs/validate.ts');
    const r = spawnSync(process.execPath, ['--import', 'tsx', validate, dir], { encoding: 'utf8', cwd: join(import.meta.dirname, '../..') });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /01-broken\/lab\.md:16: unknown block type "chek"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('applySettings changes keys in place, keeps comments, adds missing keys and sections', () => {
  const conf = '# lab config\n[DEFAULT]\n# RPC\ntransport_url = rabbit://guest:guest@127.0.0.1:5672/\n\n[oslo_messaging_notifications]\ndriver = messagingv2\n';
  const out = applySettings(conf, [
    { section: 'DEFAULT', key: 'transport_url', value: 'amqp://127.0.0.1:15810/' },
    { section: 'oslo_messaging_notifications', key: 'transport_url', value: 'rabbit://guest:guest@127.0.0.1:15800/' },
    { section: 'oslo_messaging_rabbit', key: 'amqp_durable_queues', value: 'true' },
  ]);
  assert.equal(out, '# lab config\n[DEFAULT]\n# RPC\ntransport_url = amqp://127.0.0.1:15810/\n\n[oslo_messaging_notifications]\ndriver = '
    + 'messagingv2\ntransport_url = rabbit://guest:guest@127.0.0.1:15800/\n\n[oslo_messaging_rabbit]\namqp_durable_queues = true\n');
  assert.equal(applySettings(out, [{ section: 'DEFAULT', key: 'transport_url', value: 'amqp://127.0.0.1:15810/' }]), out, 'applying twice changes nothing');
  const d = lineDiff(conf, out);
  assert.deepEqual(d.filter((l) => l.op !== ' ').map((l) => l.op + l.text), [
    '-transport_url = rabbit://guest:guest@127.0.0.1:5672/',
    '+transport_url = amqp://127.0.0.1:15810/',
    '+transport_url = rabbit://guest:guest@127.0.0.1:15800/',
    '+',
    '+[oslo_messaging_rabbit]',
    '+amqp_durable_queues = true',
  ]);
});

test('progress survives closing and reopening the store; a pass is not undone by a later failure', () => {
  const dir = mkdtempSync(join(tmpdir(), 'labs-progress-'));
  try {
    const file = join(dir, 'server', 'labs.sqlite');
    let s = new ProgressStore(file);
    s.setStep('owner', '01-one-broker', 2);
    s.recordCheck('owner', '01-one-broker', 'broker-running', true, 'runs');
    s.recordCheck('owner', '01-one-broker', 'broker-running', false, 'stopped later');
    s.recordAction('owner', '01-one-broker', 'run:0');
    s.close();
    s = new ProgressStore(file);
    const p = s.get('owner', '01-one-broker');
    assert.equal(p.step, 2);
    assert.deepEqual({ pass: p.checks['broker-running'].pass, hint: p.checks['broker-running'].hint }, { pass: true, hint: 'runs' });
    assert.deepEqual(p.actions, ['run:0']);
    assert.equal(s.get('seat-2', '01-one-broker').step, 0, 'learners do not share progress');
    s.reset('owner', '01-one-broker');
    assert.deepEqual(s.get('owner', '01-one-broker').checks, {});
    s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
