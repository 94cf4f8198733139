// Error responses: 404, 503 (no ready endpoints / missing Service), 502 (refused, closed before
// responding), 504 (proxy-read-timeout), 400 (malformed), 414, 431 — each with a small
// text/plain body — and the limits' flags.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  fixture, ingressClass, ingress, backend, service, endpointSlice, deadPort, startRawUpstream, SLOW, sleep, SUITE,
} from './lib/tether.mjs';
import { rawExchange, RawConn } from './lib/raw.mjs';

function assertErrorBody(r, status) {
  assert.equal(r.status ?? r.statusCode, status, (r.text ?? r.body?.toString() ?? '').slice(0, 200));
  const ct = r.headers['content-type'] ?? '';
  assert.match(ct, /^text\/plain/, `content-type: ${ct}`);
  const body = r.body ?? Buffer.alloc(0);
  assert.ok(body.length > 0 && body.length < 1024, `body length ${body.length}`);
}

describe('error responses', SUITE, () => {
  const fx = fixture();
  let t;
  let pod;
  after(() => fx.close());
  before(async () => {
    pod = await fx.echo({ host: '127.0.5.1', name: 'ok' });
    const dead1 = await deadPort('127.0.5.10');
    const dead2 = await deadPort('127.0.5.11');
    const P = (path, svc) => ({ path, service: svc });
    t = await fx.tether({
      objects: [
        ingressClass(),
        ingress('errs', {
          rules: [{
            host: 'err.test',
            paths: [P('/ok', 'ok'), P('/close', 'ok'), P('/hang', 'ok'), P('/delay', 'ok'), P('/stream', 'ok'), P('/bytes', 'ok'), P('/noeps', 'noeps'), P('/notready', 'notready'), P('/ghost', 'ghost'), P('/dead', 'dead')],
          }],
        }),
        ...backend('ok', [pod]),
        service('noeps'),
        endpointSlice('noeps-0', { service: 'noeps', ports: [{ name: 'http', port: 1 }], endpoints: [] }),
        ...backend('notready', [{ host: '127.0.5.1', port: pod.port, ready: false }]),
        ...backend('dead', [{ host: '127.0.5.10', port: dead1 }, { host: '127.0.5.11', port: dead2 }]),
      ],
      args: ['--proxy-read-timeout', '1s'],
    });
  });

  test('no matching route → 404 text/plain', async () => {
    assertErrorBody(await t.req('/nothing-here', { host: 'nohost.test' }), 404);
    assertErrorBody(await t.req('/other', { host: 'err.test' }), 404);
  });

  test('Service without endpoints → 503', async () => {
    assertErrorBody(await t.req('/noeps', { host: 'err.test' }), 503);
  });

  test('Service whose only endpoint is not ready → 503, pod untouched', async () => {
    pod.reset();
    assertErrorBody(await t.req('/notready', { host: 'err.test' }), 503);
    assert.equal(pod.seen('/notready').length, 0);
  });

  test('missing Service → 503', async () => {
    assertErrorBody(await t.req('/ghost', { host: 'err.test' }), 503);
  });

  test('every endpoint refuses the connection → 502, quickly', async () => {
    const t0 = Date.now();
    const r = await t.req('/dead', { host: 'err.test' });
    assertErrorBody(r, 502);
    assert.ok(Date.now() - t0 < 3000 * SLOW, `took ${Date.now() - t0} ms`);
    const a = await t.waitAccess((l) => l.path === '/dead');
    assert.ok(a, t.logText());
    assert.equal(a.status, 502);
  });

  test('upstream closes before responding → 502; the next request still works', async () => {
    assertErrorBody(await t.req('/close', { host: 'err.test' }), 502);
    assert.equal((await t.req('/ok/after-close', { host: 'err.test' })).status, 200);
  });

  test('upstream silent past --proxy-read-timeout → 504', async () => {
    const t0 = Date.now();
    const r = await t.req('/hang', { host: 'err.test', timeout: 15_000 * SLOW });
    const took = Date.now() - t0;
    assertErrorBody(r, 504);
    assert.ok(took >= 900, `504 after only ${took} ms`);
    assert.ok(took < 5000 * SLOW, `504 after ${took} ms`);
    // A slow but in-time upstream is not cut off.
    const ok = await t.req('/delay/300', { host: 'err.test' });
    assert.equal(ok.status, 200);
  });

  test('--proxy-read-timeout is between reads: a slow stream with short gaps is not cut', async () => {
    const r = await t.req('/stream/4/400', { host: 'err.test', timeout: 10_000 * SLOW });
    assert.equal(r.status, 200);
    assert.equal(r.text, 'data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\n');
  });

  test('--proxy-read-timeout does not fire while the client is the one not reading', async () => {
    const { createHash } = await import('node:crypto');
    const { patternSha256 } = await import('./lib/echo.mjs');
    const http = await import('node:http');
    const n = 32 * 1024 * 1024;
    const res = await new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: t.httpPort, path: `/bytes/${n}`, headers: { host: 'err.test' }, agent: false });
      req.on('error', reject);
      req.on('response', (rs) => {
        const h = createHash('sha256');
        let got = 0;
        let paused = false;
        rs.on('data', (d) => {
          h.update(d);
          got += d.length;
          if (!paused && got > 1024 * 1024) {
            paused = true;
            rs.pause();
            setTimeout(() => rs.resume(), 2500);
          }
        });
        rs.on('end', () => resolve({ got, sha: h.digest('hex') }));
        rs.on('error', reject);
        rs.on('aborted', () => reject(new Error(`aborted after ${got} bytes`)));
      });
      req.end();
    });
    assert.equal(res.got, n, 'download cut short');
    assert.equal(res.sha, patternSha256(n));
  });

  test('--proxy-read-timeout does not fire while the client is still sending the body', async () => {
    const c = await RawConn.connect(t.httpPort);
    try {
      await c.write('POST /ok/slow-body HTTP/1.1\r\nHost: err.test\r\nContent-Length: 10\r\n\r\nhello');
      await sleep(1800);
      await c.write('world');
      const r = await c.response(1, 5000 * SLOW);
      assert.equal(r?.statusCode, 200, 'request failed although the upstream answered as soon as the body was complete');
      assert.equal(JSON.parse(r.body).bodyLength, 10);
    } finally {
      c.destroy();
    }
  });

  test('garbage request line → 400 and the connection is closed', async () => {
    const x = await rawExchange(t.httpPort, 'HELLO WORLD\r\n\r\n', { waitClose: 2000 * SLOW });
    assert.equal(x.responses[0]?.statusCode, 400);
    assert.ok(x.closed);
  });

  for (const [name, req] of [
    ['HTTP/1.1 without Host', 'GET /ok HTTP/1.1\r\n\r\n'],
    ['two Host headers', 'GET /ok HTTP/1.1\r\nHost: err.test\r\nHost: other.test\r\n\r\n'],
    ['space inside the request target', 'GET /ok x HTTP/1.1\r\nHost: err.test\r\n\r\n'],
    ['control character in a header name', 'GET /ok HTTP/1.1\r\nHost: err.test\r\nBad\x01Name: x\r\n\r\n'],
    ['NUL in a header value', 'GET /ok HTTP/1.1\r\nHost: err.test\r\nX-A: a\x00b\r\n\r\n'],
    ['unknown HTTP version (400 or 505)', 'GET /ok HTTP/3.7\r\nHost: err.test\r\n\r\n'],
  ]) {
    test(`malformed request → 400: ${name}`, async () => {
      const before = pod.stats.requests.length;
      const x = await rawExchange(t.httpPort, req);
      const want = name.includes('505') ? [400, 505] : [400];
      assert.ok(want.includes(x.responses[0]?.statusCode), `got ${x.responses[0]?.statusCode} closed=${x.closed}`);
      assert.equal(pod.stats.requests.length, before, 'malformed request reached the upstream');
    });
  }

  test('request target longer than the default --max-uri-bytes (8192) → 414', async () => {
    const ok = await t.req(`/ok?${'a'.repeat(7000)}`, { host: 'err.test' });
    assert.equal(ok.status, 200);
    const x = await rawExchange(t.httpPort, `GET /ok?${'a'.repeat(9000)} HTTP/1.1\r\nHost: err.test\r\n\r\n`, { waitClose: 2000 * SLOW });
    assert.equal(x.responses[0]?.statusCode, 414);
    assertErrorBody({ statusCode: 414, headers: x.responses[0].headers, body: x.responses[0].body }, 414);
  });

  test('header block over the default --max-header-bytes (32768) → 431; 20 KiB passes', async () => {
    const ok = await t.req('/ok', { host: 'err.test', headers: { 'x-big': 'b'.repeat(20 * 1024) } });
    assert.equal(ok.status, 200);
    assert.equal(ok.json().headers['x-big'].length, 20 * 1024);
    const x = await rawExchange(t.httpPort, `GET /ok HTTP/1.1\r\nHost: err.test\r\nX-Big: ${'b'.repeat(40 * 1024)}\r\n\r\n`, { waitClose: 2000 * SLOW });
    assert.equal(x.responses[0]?.statusCode, 431);
  });

  test('more than the default --max-headers (100) → 431; 90 pass', async () => {
    const mk = (n) => `GET /ok HTTP/1.1\r\nHost: err.test\r\n${Array.from({ length: n - 1 }, (_, i) => `X-H${i}: v\r\n`).join('')}\r\n`;
    const ok = await rawExchange(t.httpPort, mk(90));
    assert.equal(ok.responses[0]?.statusCode, 200);
    const x = await rawExchange(t.httpPort, mk(101), { waitClose: 2000 * SLOW });
    assert.equal(x.responses[0]?.statusCode, 431);
  });
});

describe('error responses: limit flags', SUITE, () => {
  const fx = fixture();
  after(() => fx.close());
  test('--max-uri-bytes, --max-header-bytes, --max-headers are honoured', async () => {
    const pod = await fx.echo({ host: '127.0.5.2', name: 'lim' });
    const t = await fx.tether({
      objects: [
        ingressClass(),
        ingress('l', { rules: [{ host: 'l.test', paths: [{ path: '/', service: 'lim' }] }] }),
        ...backend('lim', [pod]),
      ],
      args: ['--max-uri-bytes', '100', '--max-header-bytes', '1024', '--max-headers', '10'],
    });
    const send = (req) => rawExchange(t.httpPort, req);
    assert.equal((await send(`GET /${'u'.repeat(50)} HTTP/1.1\r\nHost: l.test\r\n\r\n`)).responses[0]?.statusCode, 200);
    assert.equal((await send(`GET /${'u'.repeat(150)} HTTP/1.1\r\nHost: l.test\r\n\r\n`)).responses[0]?.statusCode, 414);
    assert.equal((await send(`GET / HTTP/1.1\r\nHost: l.test\r\nX-A: ${'a'.repeat(500)}\r\n\r\n`)).responses[0]?.statusCode, 200);
    assert.equal((await send(`GET / HTTP/1.1\r\nHost: l.test\r\nX-A: ${'a'.repeat(2000)}\r\n\r\n`)).responses[0]?.statusCode, 431);
    const hdrs = (n) => Array.from({ length: n }, (_, i) => `X-H${i}: v\r\n`).join('');
    assert.equal((await send(`GET / HTTP/1.1\r\nHost: l.test\r\n${hdrs(8)}\r\n`)).responses[0]?.statusCode, 200);
    assert.equal((await send(`GET / HTTP/1.1\r\nHost: l.test\r\n${hdrs(12)}\r\n`)).responses[0]?.statusCode, 431);
  });
});

describe('misbehaving upstreams', SUITE, () => {
  const fx = fixture();
  after(() => fx.close());
  let t;
  let reply = '';
  before(async () => {
    const up = await startRawUpstream('127.0.5.20', () => reply);
    fx.defer(() => up.close());
    t = await fx.tether({
      objects: [
        ingressClass(),
        ingress('raw', { rules: [{ host: 'raw.test', paths: [{ path: '/', service: 'raw' }] }] }),
        ...backend('raw', [up]),
      ],
      workers: 1,
    });
  });

  for (const [name, bytes] of [
    ['Content-Length and Transfer-Encoding', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
    ['differing Content-Length headers', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhelloXY'],
    ['bare CR in a header', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Bad: a\rb\r\n\r\nok'],
    ['not HTTP at all', 'garbage\r\n\r\n'],
  ]) {
    test(`response with ${name} → 502, nothing of it relayed`, async () => {
      reply = bytes;
      const x = await rawExchange(t.httpPort, 'GET /x HTTP/1.1\r\nHost: raw.test\r\n\r\n');
      assert.equal(x.responses[0]?.statusCode, 502);
      assert.doesNotMatch(x.raw.toString('latin1'), /hello|X-Bad|garbage/);
    });
  }

  test('bytes after a complete upstream response are not served to the next request', async () => {
    reply = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nINJECTED';
    const x = await rawExchange(t.httpPort,
      'GET /a HTTP/1.1\r\nHost: raw.test\r\n\r\nGET /b HTTP/1.1\r\nHost: raw.test\r\n\r\n', { responses: 2 });
    assert.equal(x.responses.length, 2);
    for (const r of x.responses) assert.notEqual(r.body.toString(), 'INJECTED');
  });

  test('1xx informational responses are relayed before the final one', async () => {
    reply = 'HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
    const x = await rawExchange(t.httpPort, 'GET /hints HTTP/1.1\r\nHost: raw.test\r\n\r\n', { responses: 2 });
    const final = x.responses.find((r) => r.statusCode >= 200);
    assert.ok(final, 'no final response');
    assert.equal(final.statusCode, 200);
    assert.equal(final.body.toString(), 'ok');
  });
});
