// Headers forwarded to the upstream: Host preserved, X-Forwarded-*, X-Real-IP, X-Request-ID,
// hop-by-hop removal (RFC 9110 §7.6.1) in both directions, re-framing of chunked bodies, and the
// access log line.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { fixture, ingressClass, ingress, backend, SUITE } from './lib/tether.mjs';
import { rawExchange } from './lib/raw.mjs';

const CLIENT = '127.0.0.9';

describe('forwarded headers', SUITE, () => {
  const fx = fixture();
  let t;
  let pod;
  after(() => fx.close());
  before(async () => {
    pod = await fx.echo({ host: '127.0.2.1', name: 'h' });
    t = await fx.tether({
      objects: [
        ingressClass(),
        ingress('catchall', { ns: 'web', rules: [{ paths: [{ path: '/', service: 'h' }] }] }),
        ...backend('h', [pod], { ns: 'web' }),
      ],
      workers: 1,
    });
  });

  // Sends one request from CLIENT, returns what the pod saw.
  async function seen(path, headers = {}, opts = {}) {
    const r = await t.req(path, { headers, localAddress: CLIENT, ...opts });
    assert.equal(r.status, 200, r.text);
    return r.json();
  }
  const count = (raw, name) => raw.filter((v, i) => i % 2 === 0 && v.toLowerCase() === name).length;

  test('Host is forwarded exactly as sent, X-Forwarded-Host equals it', async () => {
    const j = await seen('/host', {}, { host: 'MiXeD.Example.test:8080' });
    assert.equal(j.headers.host, 'MiXeD.Example.test:8080');
    assert.equal(count(j.rawHeaders, 'host'), 1);
    assert.equal(j.headers['x-forwarded-host'], 'MiXeD.Example.test:8080');
  });

  test('X-Forwarded-For and X-Real-IP are the client address; client values are replaced', async () => {
    const j = await seen('/xff', { 'x-forwarded-for': '1.2.3.4, 5.6.7.8', 'x-real-ip': '1.2.3.4' });
    assert.equal(j.headers['x-forwarded-for'], CLIENT);
    assert.equal(j.headers['x-real-ip'], CLIENT);
    assert.equal(count(j.rawHeaders, 'x-forwarded-for'), 1);
    assert.equal(count(j.rawHeaders, 'x-real-ip'), 1);
    const j2 = await seen('/xff2');
    assert.equal(j2.headers['x-forwarded-for'], CLIENT);
  });

  test('X-Forwarded-Proto/-Port/-Host describe the client-facing side, spoofed values replaced', async () => {
    const j = await seen('/fwd', {
      'x-forwarded-proto': 'https',
      'x-forwarded-port': '443',
      'x-forwarded-host': 'evil.test',
    }, { host: 'site.test' });
    assert.equal(j.headers['x-forwarded-proto'], 'http');
    assert.equal(j.headers['x-forwarded-port'], String(t.httpPort));
    assert.equal(j.headers['x-forwarded-host'], 'site.test');
    for (const h of ['x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-host']) {
      assert.equal(count(j.rawHeaders, h), 1, h);
    }
  });

  test('X-Request-ID: client value passed through and logged', async () => {
    const id = 'client-chosen-id-42';
    const j = await seen('/rid-given', { 'x-request-id': id });
    assert.equal(j.headers['x-request-id'], id);
    const a = await t.waitAccess((l) => l.path === '/rid-given');
    assert.ok(a, t.logText());
    assert.equal(a.request_id, id);
  });

  test('X-Request-ID: generated (32 lowercase hex), unique, and logged', async () => {
    const j1 = await seen('/rid-gen-1');
    const j2 = await seen('/rid-gen-2');
    const id1 = j1.headers['x-request-id'];
    const id2 = j2.headers['x-request-id'];
    assert.match(id1 ?? '', /^[0-9a-f]{32}$/);
    assert.match(id2 ?? '', /^[0-9a-f]{32}$/);
    assert.notEqual(id1, id2);
    const a = await t.waitAccess((l) => l.path === '/rid-gen-1');
    assert.ok(a, t.logText());
    assert.equal(a.request_id, id1);
  });

  test('hop-by-hop request headers are removed, end-to-end ones kept', async () => {
    const req =
      'GET /hop HTTP/1.1\r\n' +
      'Host: hop.test\r\n' +
      'Connection: keep-alive, X-Secret-Hop, x-other-hop\r\n' +
      'Keep-Alive: timeout=5\r\n' +
      'Proxy-Connection: keep-alive\r\n' +
      'TE: trailers\r\n' +
      'Trailer: X-Checksum\r\n' +
      'Upgrade: foo/1\r\n' +
      'X-Secret-Hop: must-not-pass\r\n' +
      'X-Other-Hop: must-not-pass\r\n' +
      'X-Custom: kept\r\n' +
      'X-Multi: one\r\n' +
      'X-Multi: two\r\n' +
      'Accept: */*\r\n' +
      '\r\n';
    const x = await rawExchange(t.httpPort, req, { localAddress: CLIENT });
    assert.equal(x.responses.length, 1, `no response; closed=${x.closed}`);
    assert.equal(x.responses[0].statusCode, 200, x.responses[0].body.toString());
    const j = JSON.parse(x.responses[0].body);
    for (const h of ['keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'x-secret-hop', 'x-other-hop']) {
      assert.equal(j.headers[h], undefined, `${h} reached the upstream`);
    }
    if (j.headers.connection !== undefined) {
      assert.match(j.headers.connection, /^(keep-alive|close)$/i, 'Connection tokens leaked upstream');
    }
    assert.equal(j.headers['x-custom'], 'kept');
    assert.equal(j.headers['x-multi'], 'one, two');
    assert.equal(j.headers.accept, '*/*');
    assert.equal(j.method, 'GET');
    assert.equal(j.url, '/hop');
  });

  test('request target is forwarded byte for byte', async () => {
    const target = '/Some/%41%2fpath//double?q=%20x&y=%E2%9C%93#';
    const x = await rawExchange(t.httpPort, `GET ${target.slice(0, -1)} HTTP/1.1\r\nHost: raw.test\r\n\r\n`);
    assert.equal(x.responses[0]?.statusCode, 200);
    assert.equal(JSON.parse(x.responses[0].body).url, target.slice(0, -1));
  });

  test('absolute-form request target: upstream Host comes from the target (RFC 9112 §3.2.2)', async () => {
    // "A proxy that forwards such a request MUST generate a new Host field value based on the
    // received request-target rather than forward the received Host field value."
    const x = await rawExchange(t.httpPort, 'GET http://target.test/abs?q=1 HTTP/1.1\r\nHost: header.test\r\n\r\n');
    assert.equal(x.responses[0]?.statusCode, 200);
    const j = JSON.parse(x.responses[0].body);
    assert.equal(j.url, '/abs?q=1');
    assert.equal(j.headers.host, 'target.test', 'upstream Host differs from the authority tether routed on');
  });

  test('obs-text bytes in a header value are forwarded unchanged', async () => {
    const req = Buffer.concat([
      Buffer.from('GET /obs-text HTTP/1.1\r\nHost: o.test\r\nX-Latin: caf'),
      Buffer.from([0xe9]),
      Buffer.from('\r\n\r\n'),
    ]);
    const x = await rawExchange(t.httpPort, req);
    assert.equal(x.responses[0]?.statusCode, 200);
    const j = JSON.parse(x.responses[0].body);
    assert.equal(j.headers['x-latin'], 'caf\u00e9');
  });

  test('hop-by-hop response headers are removed before the client sees them', async () => {
    const x = await rawExchange(t.httpPort, 'GET /headers HTTP/1.1\r\nHost: hop.test\r\n\r\n');
    assert.equal(x.responses.length, 1);
    const r = x.responses[0];
    assert.equal(r.statusCode, 200);
    assert.equal(r.body.toString(), 'ok');
    assert.equal(r.headers['x-pod'], 'h');
    assert.equal(r.headers['x-upstream-private'], undefined, 'header named in upstream Connection leaked');
    // tether may send its own Keep-Alive, but not the upstream's.
    assert.doesNotMatch(r.headers['keep-alive'] ?? '', /7777/, 'upstream Keep-Alive leaked');
  });

  test('several Set-Cookie headers reach the client as separate lines', async () => {
    const x = await rawExchange(t.httpPort, 'GET /cookies HTTP/1.1\r\nHost: c.test\r\n\r\n');
    const r = x.responses[0];
    assert.equal(r?.statusCode, 200);
    const cookies = r.rawHeaders.filter(([k]) => k.toLowerCase() === 'set-cookie').map(([, v]) => v);
    assert.deepEqual(cookies, ['a=1; Path=/', 'b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT', 'c=3']);
  });

  test('chunked request body is re-framed and arrives intact', async () => {
    const body = Buffer.alloc(70_000, 'z');
    body.write('start', 0);
    const chunks = [body.subarray(0, 1), body.subarray(1, 40_000), body.subarray(40_000)];
    const enc = chunks.map((c) => Buffer.concat([Buffer.from(`${c.length.toString(16)};ext=1\r\n`), c, Buffer.from('\r\n')]));
    const req = Buffer.concat([
      Buffer.from('POST /chunked HTTP/1.1\r\nHost: c.test\r\nTransfer-Encoding: chunked\r\n\r\n'),
      ...enc,
      Buffer.from('0\r\n\r\n'),
    ]);
    const x = await rawExchange(t.httpPort, req);
    assert.equal(x.responses[0]?.statusCode, 200);
    const j = JSON.parse(x.responses[0].body);
    assert.equal(j.bodyLength, body.length);
    assert.equal(j.bodySha256, createHash('sha256').update(body).digest('hex'));
    assert.equal(j.method, 'POST');
  });

  test('upstream response headers and status pass through', async () => {
    const r = await t.req('/status/418', { host: 'x.test' });
    assert.equal(r.status, 418);
    assert.equal(r.headers['x-pod'], 'h');
    assert.match(r.text, /status 418 from h/);
  });

  test('access line carries client, method, host, path, status, byte counts, timing', async () => {
    const body = 'x'.repeat(1234);
    const r = await t.req('/logged?q=1', { method: 'PUT', host: 'log.test', body, localAddress: CLIENT });
    assert.equal(r.status, 200);
    const a = await t.waitAccess((l) => typeof l.path === 'string' && l.path.startsWith('/logged'));
    assert.ok(a, t.logText());
    assert.equal(a.type, 'access');
    assert.ok(String(a.client).startsWith(CLIENT), `client=${a.client}`);
    assert.equal(a.method, 'PUT');
    assert.equal(a.host, 'log.test');
    assert.equal(a.status, 200);
    assert.equal(a.route, 'web/catchall');
    assert.equal(a.upstream, pod.addr);
    assert.ok(a.bytes_in >= 1234, `bytes_in=${a.bytes_in}`);
    assert.ok(a.bytes_out >= r.body.length, `bytes_out=${a.bytes_out}`);
    assert.equal(typeof a.dur_ms, 'number');
    assert.ok(a.dur_ms >= 0);
    assert.ok(typeof a.ts === 'string' && a.ts.length > 0);
  });

  test('access line for a 7 KiB request target is still one valid JSON object', async () => {
    // Log lines are built in a 4 KiB buffer and truncated with "trunc":true (STYLE §2.8): the
    // truncated line must still parse, or log shippers drop it.
    const path = `/long-${'L'.repeat(7000)}`;
    const r = await t.req(path, { host: 'long.test' });
    assert.equal(r.status, 200);
    await t.waitAccess((l) => typeof l.path === 'string' && l.path.startsWith('/long-'), 1000);
    const raw = t.stdout.filter((l) => l.includes('/long-LLLL'));
    assert.equal(raw.length, 1, 'no access line (or an unparseable one) for the long request');
    const o = JSON.parse(raw[0]);
    assert.equal(o.type, 'access');
    assert.equal(o.status, 200);
    assert.ok(o.path === path || o.trunc === true);
  });

  test('operational log lines on stderr are JSON with ts, level, mod, msg', async () => {
    const lines = t.stderr.filter((l) => l.trim() !== '');
    assert.ok(lines.length > 0, 'no operational log line at all');
    for (const l of lines) {
      const o = JSON.parse(l);
      for (const k of ['ts', 'level', 'mod', 'msg']) assert.ok(k in o, `${k} missing in ${l}`);
    }
    // (the over-long line is judged by its own test above)
    for (const l of t.stdout.filter((x) => x.trim() !== '' && !x.includes('/long-LLLL'))) {
      assert.equal(JSON.parse(l).type, 'access', l);
    }
  });
});
