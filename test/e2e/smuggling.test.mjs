// Request smuggling vectors: each must be answered 400, the connection closed, and neither the
// smuggled request nor (for head errors) the carrier request may reach the upstream.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, ingressClass, ingress, backend, sleep, SLOW, SUITE } from './lib/tether.mjs';
import { rawExchange } from './lib/raw.mjs';

const H = 'Host: smug.test\r\n';
const smuggled = (id) => `GET /smuggled-${id} HTTP/1.1\r\n${H}\r\n`;

// [name, carrier request bytes (the smuggled request follows), body-stage error?]
// Body-stage errors come after a valid head: the head may already have been forwarded, so only
// the smuggled request is checked there.
const VECTORS = [
  ['Content-Length with Transfer-Encoding', (id) => `POST /carrier-${id} HTTP/1.1\r\n${H}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`],
  ['Transfer-Encoding then Content-Length', (id) => `POST /carrier-${id} HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n`],
  ['differing duplicate Content-Length', (id) => `POST /carrier-${id} HTTP/1.1\r\n${H}Content-Length: 0\r\nContent-Length: 40\r\n\r\n`],
  ['equal duplicate Content-Length', (id) => `POST /carrier-${id} HTTP/1.1\r\n${H}Content-Length: 0\r\nContent-Length: 0\r\n\r\n`],
  ['Content-Length "+5"', (id) => `POST /carrier-${id} HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\nhello`],
  ['Content-Length "5a"', (id) => `POST /carrier-${id} HTTP/1.1\r\n${H}Content-Length: 5a\r\n\r\nhello`],
  ['Content-Length empty', (id) => `POST /carrier-${id} HTTP/1.1\r\n${H}Content-Length: \r\n\r\n`],
  ['Content-Length "-1"', (id) => `POST /carrier-${id} HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`],
  ['obs-fold continuation line (SP)', (id) => `GET /carrier-${id} HTTP/1.1\r\n${H}X-Fold: a\r\n b\r\n\r\n`],
  ['obs-fold continuation line (HTAB) hiding Transfer-Encoding', (id) => `POST /carrier-${id} HTTP/1.1\r\n${H}X-Fold: a\r\n\tTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n`],
  ['bare CR inside a header value', (id) => `GET /carrier-${id} HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n`],
  ['"\\r\\n\\r" followed by a non-LF byte', (id) => `GET /carrier-${id} HTTP/1.1\r\n${H}\rX`],
  ['space before the colon ("Host : a")', (id) => `GET /carrier-${id} HTTP/1.1\r\nHost : smug.test\r\n\r\n`],
  ['space before the colon on Transfer-Encoding', (id) => `POST /carrier-${id} HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n`],
  ['Transfer-Encoding: chunked, identity', (id) => `POST /carrier-${id} HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`],
  ['Transfer-Encoding: xchunked', (id) => `POST /carrier-${id} HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`],
  ['invalid chunk size "zz"', (id) => `POST /carrier-${id} HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`, true],
  ['overflowing chunk size', (id) => `POST /carrier-${id} HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nhello\r\n0\r\n\r\n`, true],
  ['bare CR in a chunk extension', (id) => `POST /carrier-${id} HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;a=b\rc\r\nhello\r\n0\r\n\r\n`, true],
  ['chunk data longer than its size', (id) => `POST /carrier-${id} HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n`, true],
];

describe('request smuggling', SUITE, () => {
  const fx = fixture();
  let t;
  let pod;
  after(() => fx.close());
  before(async () => {
    pod = await fx.echo({ host: '127.0.6.1', name: 'smug' });
    t = await fx.tether({
      objects: [
        ingressClass(),
        ingress('smug', { rules: [{ host: 'smug.test', paths: [{ path: '/', service: 'smug' }] }] }),
        ...backend('smug', [pod]),
      ],
      workers: 1,
    });
  });

  test('control: a correctly framed carrier plus a pipelined request reaches the upstream twice', async () => {
    const x = await rawExchange(
      t.httpPort,
      `POST /carrier-control HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhello${smuggled('control')}`,
      { responses: 2 },
    );
    assert.deepEqual(x.responses.map((r) => r.statusCode), [200, 200]);
    await sleep(100);
    assert.equal(pod.seen('/carrier-control').length, 1);
    assert.equal(pod.seen('/smuggled-control').length, 1);
  });

  VECTORS.forEach(([name, make, bodyStage], i) => {
    test(`${name} → 400, closed, nothing smuggled`, async () => {
      const id = `v${i}`;
      const x = await rawExchange(t.httpPort, make(id) + smuggled(id), { responses: 1, waitClose: 3000 * SLOW });
      const statuses = x.responses.map((r) => r.statusCode);
      assert.equal(statuses[0], 400, `responses: ${statuses} closed=${x.closed}`);
      assert.ok(x.closed, 'connection left open after a framing error');
      assert.equal(x.responses.length, 1, `extra responses: ${statuses}`);
      await sleep(150); // let anything forwarded arrive
      assert.equal(pod.seen(`/smuggled-${id}`).length, 0, 'smuggled request reached the upstream');
      if (!bodyStage) assert.equal(pod.seen(`/carrier-${id}`).length, 0, 'invalid request reached the upstream');
      else {
        const got = pod.seen(`/carrier-${id}`);
        assert.ok(got.every((r) => !(r.complete && r.bodyLength === 5)), 'upstream received a complete body');
      }
    });
  });

  test('nothing after a Connection: close request is processed', async () => {
    const x = await rawExchange(t.httpPort,
      `GET /carrier-cc HTTP/1.1\r\n${H}Connection: close\r\n\r\n${smuggled('cc')}`, { responses: 2, waitClose: 2000 * SLOW });
    assert.equal(x.responses.length, 1);
    assert.equal(x.responses[0].statusCode, 200);
    assert.ok(x.closed);
    await sleep(150);
    assert.equal(pod.seen('/smuggled-cc').length, 0);
  });

  test('HTTP/1.0 request with Transfer-Encoding: connection closed after it, nothing smuggled', async () => {
    // RFC 9112 §6.1: treat the framing as faulty and close the connection after the message.
    const x = await rawExchange(t.httpPort,
      `POST /carrier-10te HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled('10te')}`, { responses: 2, waitClose: 2000 * SLOW });
    assert.ok(x.responses.length <= 1, `responses: ${x.responses.map((r) => r.statusCode)}`);
    assert.ok(x.closed);
    await sleep(150);
    assert.equal(pod.seen('/smuggled-10te').length, 0);
  });

  test('after all vectors tether still serves normal requests', async () => {
    const r = await t.req('/still-alive', { host: 'smug.test' });
    assert.equal(r.status, 200);
    assert.equal(t.exit, null);
  });
});
