import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { Auth, parseCookies, TOKEN_COOKIE } from '../../server/http/auth.js';

const req = (url: string, headers: Record<string, string> = {}) => ({ url, headers } as unknown as IncomingMessage);
const token = 'a'.repeat(48);

test('a token is accepted from the query, a bearer header or the cookie, and nothing else', () => {
  const auth = new Auth(token);
  assert.ok(auth.authenticate(req(`/?token=${token}`)));
  assert.ok(auth.authenticate(req('/api/status', { authorization: `Bearer ${token}` })));
  assert.ok(auth.authenticate(req('/api/status', { cookie: `x=1; ${TOKEN_COOKIE}=${token}` })));
  assert.equal(auth.authenticate(req('/api/status')), null);
  assert.equal(auth.authenticate(req('/?token=wrong')), null);
  assert.equal(auth.authenticate(req('/', { authorization: `Bearer ${token}x` })), null);
});

test('WebSocket origins must match the host', () => {
  const auth = new Auth(token);
  assert.ok(auth.originAllowed(req('/', { host: '127.0.0.1:8470', origin: 'http://127.0.0.1:8470' })));
  assert.equal(auth.originAllowed(req('/', { host: '127.0.0.1:8470', origin: 'http://evil.example' })), false);
  assert.equal(auth.originAllowed(req('/', { host: '127.0.0.1:8470', origin: 'null' })), false);
});

test('cookie parsing survives odd input', () => {
  assert.deepEqual(parseCookies('a=1; b=%zz; c'), { a: '1', b: '%zz' });
});
