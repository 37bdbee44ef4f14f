// The browser's API client, run in node (it touches no DOM until a stream is
// opened): a method that answers with a promise rejects, whatever went wrong,
// and never throws at the call, so `client.x().catch(...)` sees every error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../../server/backends/index.js';
import { ApiRequestError, LabClient, type ComponentAction } from '../../widgets/api/client.js';

/** Calls fn, failing the test if it throws at the call; returns its promise. */
function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  let p: Promise<T> | undefined;
  assert.doesNotThrow(() => { p = fn(); }, `${what} throws at the call instead of rejecting`);
  assert.ok(p instanceof Promise, `${what} answers with a promise`);
  return p;
}

const apiError = (status: number, field: string | undefined, message: RegExp) => (err: unknown) => {
  assert.ok(err instanceof ApiRequestError, `an ApiRequestError, not ${String(err)}`);
  assert.equal(err.status, status);
  assert.equal(err.field, field);
  assert.match(err.message, message);
  return true;
};

test('bad input to the client rejects with the field and the fix, and no request is sent', async () => {
  // nothing listens here: a request sent would reject as unreachable instead
  const client = new LabClient(`http://127.0.0.1:${await freePort()}`);
  await assert.rejects(call('component with a bad name', () => client.component('router-a; rm -rf', 'kill')),
    apiError(0, 'name', /is not valid: use the names "hmlab status" shows/));
  await assert.rejects(call('component with a bad action', () => client.component('router-a', 'explode' as ComponentAction)),
    apiError(0, 'action', /one of start, stop, kill, restart/));
  await assert.rejects(call('traffic below 0', () => client.traffic(-1)), apiError(0, 'rate', /0 or more/));
  await assert.rejects(call('traffic not a number', () => client.traffic(Number.NaN)), apiError(0, 'rate', /number of operations per second/));
});

test('a lab server that does not answer rejects with status 0 and says so', async () => {
  const client = new LabClient(`http://127.0.0.1:${await freePort()}`);
  await assert.rejects(call('component', () => client.component('router-a', 'kill')), apiError(0, undefined, /lab server unreachable/));
  await assert.rejects(call('traffic', () => client.traffic(5)), apiError(0, undefined, /lab server unreachable/));
  await assert.rejects(call('status', () => client.status()), apiError(0, undefined, /lab server unreachable/));
});
