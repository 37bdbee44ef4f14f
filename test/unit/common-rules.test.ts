import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TOPOLOGIES } from '../../common/wire.js';
import { SERVICES, TRAFFIC_RATE, isTopology, isUp, topologySchema, trafficRateSchema } from '../../common/rules.js';
import {
  RECORDING_NAME_MAX, isRecordingName, recordingHeaderSchema, recordingNameSchema, replayHeaderSchema,
} from '../../common/recording.js';
import { syntheticRecording } from '../../widgets/flow/synthetic.js';

const message = (r: { success: boolean; error?: { issues: { message: string }[] } }) => r.error?.issues[0]?.message;

test('the traffic rate runs from 0 (paused) to 1000 operations per second, and the message names the field', () => {
  const rate = trafficRateSchema();
  for (const ok of [0, 0.5, 5, 1000]) assert.ok(rate.safeParse(ok).success, String(ok));
  assert.equal(message(rate.safeParse(-0.001)), 'must be 0 (paused) or more');
  assert.equal(message(rate.safeParse(1000.001)), 'must be at most 1000 operations per second');
  assert.equal(message(rate.safeParse('5')), 'must be a number of operations per second', 'JSON bodies give numbers');
  const cli = trafficRateSchema({ name: '--rate', coerce: true });
  assert.equal(cli.safeParse('1000').data, 1000, 'the command line gives strings');
  assert.equal(message(cli.safeParse('1001')), '--rate must be at most 1000 operations per second');
  assert.equal(message(cli.safeParse('fast')), '--rate must be a number of operations per second');
  assert.deepEqual(TRAFFIC_RATE, { min: 0, max: 1000 });
});

test('a topology is one of TOPOLOGIES, and the message lists them', () => {
  for (const t of TOPOLOGIES) assert.ok(topologySchema().safeParse(t).success && isTopology(t), t);
  assert.equal(message(topologySchema('--up').safeParse('star')), '--up must be one of broker-only, hybrid, hybrid-mesh, multi-region');
  assert.ok(!isTopology('star') && !isTopology(null));
});

test('running and starting are up; stopped and failed are not', () => {
  assert.deepEqual((['starting', 'running', 'stopped', 'failed'] as const).map(isUp), [true, true, false, false]);
  assert.deepEqual([...SERVICES], ['compute-1', 'compute-2', 'conductor', 'telemetry']);
});

test('a recording name is 1 to 80 letters, digits, ".", "_" or "-", starting with a letter or digit, and walks no path', () => {
  assert.equal(RECORDING_NAME_MAX, 80);
  assert.ok(isRecordingName('a'));
  assert.ok(isRecordingName('failover-2026.12_02'));
  assert.ok(isRecordingName('x'.repeat(80)));
  assert.ok(!isRecordingName('x'.repeat(81)), '81 characters is one too many (the server took 81 and the browser 101 before)');
  for (const bad of ['', '-a', '.hidden', 'a/b', 'a..b', '../x', 'a b', 'ä']) assert.ok(!isRecordingName(bad), bad);
  assert.match(message(recordingNameSchema.safeParse('a/b')) ?? '', /letters, digits.*up to 80 characters/);
});

test('the server writes the strict recording header; a replay also accepts a synthetic one', () => {
  const written = {
    type: 'recording', version: 1, topology: 'hybrid-mesh', router: 'embedded', startedAt: 1,
    machine: { os: 'Debian', arch: 'x64', cpu: 'cpu', cores: 2, memoryGiB: 4, node: 'v20' },
  };
  assert.ok(recordingHeaderSchema.safeParse(written).success);
  assert.ok(replayHeaderSchema.safeParse(written).success);
  const synthetic = JSON.parse(syntheticRecording().split('\n')[0]);
  assert.ok(!recordingHeaderSchema.safeParse(synthetic).success, 'a synthetic header is not what the server writes');
  assert.ok(replayHeaderSchema.safeParse(synthetic).success, 'but it plays');
  assert.ok(!recordingHeaderSchema.safeParse({ ...written, topology: 'star' }).success);
  assert.ok(!replayHeaderSchema.safeParse({ ...written, version: 2 }).success, 'another version is refused by both');
  assert.ok(!replayHeaderSchema.safeParse({ type: 'recording', version: 1 }).success, 'a replay needs the start time');
});
