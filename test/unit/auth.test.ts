import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Auth, loadOrCreateToken, parseCookies } from '../../server/http/auth.js';
import { contentSecurityPolicy, stateChangeRefusal, tokenCookieName } from '../../server/http/security.js';

const req = (url: string, headers: Record<string, string> = {}, method = 'GET') => ({ url, headers, method } as unknown as IncomingMessage);
const token = 'a'.repeat(48);

test('a token is accepted from the query, a bearer header or this port\'s cookie, and nothing else', () => {
  const auth = new Auth(token, 8470);
  assert.ok(auth.authenticate(req(`/?token=${token}`)));
  assert.ok(auth.authenticate(req('/api/status', { authorization: `Bearer ${token}` })));
  assert.ok(auth.authenticate(req('/api/status', { cookie: `x=1; hmlab_token_8470=${token}` })));
  assert.equal(
    auth.authenticate(req('/api/status', { cookie: `hmlab_token=${token}; hmlab_token_8471=${token}` })),
    null,
    'another port\'s cookie, or the old shared one, is not ours',
  );
  assert.equal(auth.authenticate(req('/api/status')), null);
  assert.equal(auth.authenticate(req('/?token=wrong')), null);
  assert.equal(auth.authenticate(req('/', { authorization: `Bearer ${token}x` })), null);
});

test('the cookie is named after the port the server listens on', () => {
  const auth = new Auth(token);
  assert.equal(auth.authenticate(req('/api/status', { cookie: `hmlab_token_0=${token}` })), null, 'no cookie is read before the port is known');
  auth.listening(9123);
  assert.equal(auth.cookieName, tokenCookieName(9123));
  assert.equal(tokenCookieName(9123), 'hmlab_token_9123');
  assert.ok(auth.authenticate(req('/api/status', { cookie: `hmlab_token_9123=${token}` })));
});

test('WebSocket origins must match the host', () => {
  const auth = new Auth(token);
  assert.ok(auth.originAllowed(req('/', { host: '127.0.0.1:8470', origin: 'http://127.0.0.1:8470' })));
  assert.equal(auth.originAllowed(req('/', { host: '127.0.0.1:8470', origin: 'http://evil.example' })), false);
  assert.equal(auth.originAllowed(req('/', { host: '127.0.0.1:8470', origin: 'http://127.0.0.1:8471' })), false, 'another port is another origin');
  assert.equal(auth.originAllowed(req('/', { host: '127.0.0.1:8470', origin: 'null' })), false);
  assert.equal(auth.originAllowed(req('/', { host: '127.0.0.1:8470', 'sec-fetch-site': 'same-site' })), false);
});

test('state-changing requests need our own origin and a header no simple cross-site request can send', () => {
  const host = '127.0.0.1:8470';
  const own = `http://${host}`;
  const post = (headers: Record<string, string>) => stateChangeRefusal(req('/api/lab/down', { host, ...headers }, 'POST'));
  assert.equal(stateChangeRefusal(req('/api/status', { host, origin: 'http://127.0.0.1:1' }, 'GET')), null, 'reads are not state changes');
  assert.equal(post({ origin: own, 'content-type': 'application/json' }), null);
  assert.equal(post({ origin: own, 'content-type': 'application/json; charset=utf-8' }), null);
  assert.equal(post({ 'x-hmlab-request': '1' }), null);
  assert.equal(post({ authorization: 'Bearer x' }), null);
  // what a page on another port can send with fetch(..., {mode: 'no-cors'}) or a form
  assert.equal(post({ origin: 'http://127.0.0.1:9999' })?.status, 403);
  assert.equal(post({ origin: 'http://127.0.0.1:9999', 'content-type': 'application/json' })?.status, 403);
  assert.equal(post({ origin: own, 'sec-fetch-site': 'same-site', 'content-type': 'application/json' })?.status, 403);
  assert.equal(post({ origin: own })?.status, 403, 'no body type and no custom header');
  assert.equal(post({ origin: own, 'content-type': 'text/plain' })?.status, 415);
  assert.equal(post({ 'content-type': 'application/x-www-form-urlencoded' })?.status, 415);
  assert.match(post({ origin: own })!.error, /Content-Type: application\/json/);
  for (const m of ['PUT', 'PATCH', 'DELETE']) assert.equal(stateChangeRefusal(req('/api/x', { host, origin: 'http://127.0.0.1:1' }, m))?.status, 403, m);
});

test('the content security policy keeps framing and loading to this server', () => {
  const csp = contentSecurityPolicy();
  assert.match(csp, /frame-ancestors 'self'/);
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /https?:|\*/);
  assert.match(contentSecurityPolicy({ inlineScripts: true }), /script-src 'self' 'unsafe-inline'/);
});

test('a token file others can read is made private before it is used', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hmlab-token-'));
  try {
    const file = join(dir, 'token');
    writeFileSync(file, 'b'.repeat(48) + '\n');
    chmodSync(file, 0o644);
    assert.equal(loadOrCreateToken(file), 'b'.repeat(48));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const fresh = join(dir, 'sub', 'token');
    const t = loadOrCreateToken(fresh);
    assert.equal(t.length, 48);
    assert.equal(statSync(fresh).mode & 0o777, 0o600);
    assert.equal(loadOrCreateToken(fresh), t);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('cookie parsing survives odd input', () => {
  assert.deepEqual(parseCookies('a=1; b=%zz; c'), { a: '1', b: '%zz' });
});
