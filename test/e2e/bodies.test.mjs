// Bodies: 100 MiB uploads and downloads (Content-Length and chunked) streamed with bounded RSS,
// backpressure both ways, Expect: 100-continue, keep-alive, pipelining, HTTP/1.0, and the
// proxy-body-size limit (default 1m, annotation, flag).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { fixture, ingressClass, ingress, backend, SLOW, MiB, sleep, request, SUITE } from './lib/tether.mjs';
import { patternChunk, patternSha256 } from './lib/echo.mjs';
import { rawExchange, RawConn } from './lib/raw.mjs';

const BIG = 100 * MiB;
// RSS growth allowed during a 100 MiB transfer. Sanitizer builds keep freed memory in quarantine
// (limited to 16 MiB below) and have larger allocator overheads.
const RSS_BOUND_KIB = (SLOW > 1 ? 128 : 64) * 1024;
const TETHER_ENV = SLOW > 1
  ? { ASAN_OPTIONS: `${process.env.ASAN_OPTIONS ? `${process.env.ASAN_OPTIONS}:` : ''}quarantine_size_mb=16` }
  : {};

function rssSampler(t) {
  const base = t.rssKiB();
  let max = base;
  const timer = setInterval(() => {
    try { max = Math.max(max, t.rssKiB()); } catch { /* exited */ }
  }, 20);
  return {
    base,
    stop() {
      clearInterval(timer);
      try { max = Math.max(max, t.rssKiB()); } catch { /* exited */ }
      return { base, max, growth: max - base };
    },
  };
}

// Streams `size` pattern bytes as a request body (Content-Length or chunked) with backpressure.
function upload(port, { host, path, size, chunked = false, timeout = 60_000 * SLOW }) {
  return new Promise((resolve, reject) => {
    const headers = { host, 'content-type': 'application/octet-stream' };
    if (!chunked) headers['content-length'] = size;
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path, headers, agent: false });
    req.setTimeout(timeout, () => req.destroy(new Error('upload timed out')));
    req.on('error', reject);
    req.on('response', (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(parts) }));
    });
    let off = 0;
    const pump = () => {
      while (off < size) {
        const len = Math.min(256 * 1024, size - off);
        const ok = req.write(patternChunk(off, len));
        off += len;
        if (!ok) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

// GETs `path` and hashes the body as it streams. pauseAfter: stop reading after that many bytes
// for pauseMs (the proxy must stop reading from the upstream instead of buffering).
function download(port, { host, path, pauseAfter = 0, pauseMs = 0, onPause, timeout = 60_000 * SLOW }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { host }, agent: false });
    req.setTimeout(timeout, () => req.destroy(new Error('download timed out')));
    req.on('error', reject);
    req.on('response', (res) => {
      const h = createHash('sha256');
      let n = 0;
      let paused = false;
      res.on('data', (d) => {
        h.update(d);
        n += d.length;
        if (pauseAfter && !paused && n >= pauseAfter) {
          paused = true;
          res.pause();
          setTimeout(async () => {
            if (onPause) await onPause();
            res.resume();
          }, pauseMs);
        }
      });
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, length: n, sha256: h.digest('hex') }));
    });
    req.end();
  });
}

describe('bodies', SUITE, () => {
  const fx = fixture();
  let t;
  let pod;
  after(() => fx.close());
  before(async () => {
    pod = await fx.echo({ host: '127.0.3.1', name: 'b' });
    const P = [{ path: '/', service: 'b' }];
    t = await fx.tether({
      objects: [
        ingressClass(),
        ingress('big', { annotations: { 'nginx.ingress.kubernetes.io/proxy-body-size': '0' }, rules: [{ host: 'big.test', paths: P }] }),
        ingress('mid', { annotations: { 'nginx.ingress.kubernetes.io/proxy-body-size': '3m' }, rules: [{ host: 'mid.test', paths: P }] }),
        ingress('default-limit', { rules: [{ host: 'limit.test', paths: P }] }),
        ...backend('b', [pod]),
      ],
      workers: 2,
      env: TETHER_ENV,
    });
  });

  test('100 MiB upload with Content-Length streams through with bounded RSS', async () => {
    const s = rssSampler(t);
    const r = await upload(t.httpPort, { host: 'big.test', path: '/upload-cl?verify=1', size: BIG });
    const rss = s.stop();
    assert.equal(r.status, 200, r.body.toString().slice(0, 200));
    const j = JSON.parse(r.body);
    assert.equal(j.bodyLength, BIG);
    assert.equal(j.bodySha256, patternSha256(BIG), `body corrupted: ${JSON.stringify(j.firstMismatch)}`);
    assert.ok(rss.growth < RSS_BOUND_KIB, `RSS grew by ${rss.growth} KiB (base ${rss.base} KiB)`);
  });

  test('100 MiB chunked upload streams through with bounded RSS', async () => {
    const s = rssSampler(t);
    const r = await upload(t.httpPort, { host: 'big.test', path: '/upload-chunked?verify=1', size: BIG, chunked: true });
    const rss = s.stop();
    assert.equal(r.status, 200, r.body.toString().slice(0, 200));
    const j = JSON.parse(r.body);
    assert.equal(j.bodyLength, BIG);
    assert.equal(j.bodySha256, patternSha256(BIG), `body corrupted: ${JSON.stringify(j.firstMismatch)}`);
    assert.ok(rss.growth < RSS_BOUND_KIB, `RSS grew by ${rss.growth} KiB (base ${rss.base} KiB)`);
  });

  test('upload backpressure: upstream that stops reading does not make tether buffer the body', async () => {
    const s = rssSampler(t);
    const r = await upload(t.httpPort, { host: 'big.test', path: '/upload-slow?pause=1500&verify=1', size: BIG });
    const rss = s.stop();
    assert.equal(r.status, 200);
    const j = JSON.parse(r.body);
    assert.equal(j.bodyLength, BIG);
    assert.equal(j.bodySha256, patternSha256(BIG), `body corrupted: ${JSON.stringify(j.firstMismatch)}`);
    assert.ok(rss.growth < RSS_BOUND_KIB, `RSS grew by ${rss.growth} KiB while the upstream was not reading`);
  });

  for (const chunked of [false, true]) {
    test(`100 MiB download (${chunked ? 'chunked' : 'Content-Length'}) streams with bounded RSS`, async () => {
      const s = rssSampler(t);
      const r = await download(t.httpPort, { host: 'big.test', path: `/bytes/${BIG}${chunked ? '?chunked=1' : ''}` });
      const rss = s.stop();
      assert.equal(r.status, 200);
      assert.equal(r.length, BIG);
      assert.equal(r.sha256, patternSha256(BIG));
      if (!chunked) assert.equal(r.headers['content-length'], String(BIG));
      assert.ok(rss.growth < RSS_BOUND_KIB, `RSS grew by ${rss.growth} KiB (base ${rss.base} KiB)`);
    });
  }

  test('download backpressure: a client that stops reading does not make tether buffer the body', async () => {
    const s = rssSampler(t);
    let during = 0;
    const r = await download(t.httpPort, {
      host: 'big.test',
      path: `/bytes/${BIG}`,
      pauseAfter: 1 * MiB,
      pauseMs: 1500,
      onPause: () => { during = t.rssKiB(); },
    });
    const rss = s.stop();
    assert.equal(r.length, BIG);
    assert.equal(r.sha256, patternSha256(BIG));
    assert.ok(during - rss.base < RSS_BOUND_KIB, `RSS grew by ${during - rss.base} KiB while the client was paused`);
    assert.ok(rss.growth < RSS_BOUND_KIB, `RSS grew by ${rss.growth} KiB`);
  });

  test('Expect: 100-continue → 100 Continue, then the final response', async () => {
    const c = await RawConn.connect(t.httpPort);
    try {
      await c.write('POST /expect HTTP/1.1\r\nHost: big.test\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n');
      const first = await c.response(1, 3000 * SLOW);
      assert.ok(first, 'no 100 Continue (client would have to wait for a timeout)');
      assert.equal(first.statusCode, 100);
      await c.write('hello world');
      const fin = await c.response(2);
      assert.ok(fin, 'no final response');
      assert.equal(fin.statusCode, 200);
      const j = JSON.parse(fin.body);
      assert.equal(j.bodyLength, 11);
      assert.equal(j.bodySha256, createHash('sha256').update('hello world').digest('hex'));
    } finally {
      c.destroy();
    }
  });

  test('Expect: 100-continue with a too-large Content-Length → 413 without 100', async () => {
    pod.reset();
    const c = await RawConn.connect(t.httpPort);
    try {
      await c.write(`POST /expect-big HTTP/1.1\r\nHost: limit.test\r\nContent-Length: ${2 * MiB}\r\nExpect: 100-continue\r\n\r\n`);
      const first = await c.response(1, 3000 * SLOW);
      assert.ok(first, 'no response');
      assert.equal(first.statusCode, 413);
      assert.equal(pod.seen('/expect-big').length, 0);
    } finally {
      c.destroy();
    }
  });

  test('keep-alive: sequential requests share one client connection', async () => {
    const c = await RawConn.connect(t.httpPort);
    try {
      for (let i = 1; i <= 5; i++) {
        await c.write(`GET /ka/${i} HTTP/1.1\r\nHost: big.test\r\n\r\n`);
        const r = await c.response(i);
        assert.ok(r, `response ${i} missing (closed=${c.closed})`);
        assert.equal(r.statusCode, 200);
        assert.equal(JSON.parse(r.body).url, `/ka/${i}`);
      }
      assert.equal(c.closed, false);
    } finally {
      c.destroy();
    }
  });

  test('pipelining: several requests in one write → responses in order', async () => {
    const reqs = [
      'GET /pipe/1 HTTP/1.1\r\nHost: big.test\r\n\r\n',
      'POST /pipe/2 HTTP/1.1\r\nHost: big.test\r\nContent-Length: 5\r\n\r\nabcde',
      'GET /delay/200?n=3 HTTP/1.1\r\nHost: big.test\r\n\r\n',
      'POST /pipe/4 HTTP/1.1\r\nHost: big.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n',
      'GET /pipe/5 HTTP/1.1\r\nHost: big.test\r\nConnection: close\r\n\r\n',
    ];
    const x = await rawExchange(t.httpPort, reqs.join(''), { responses: 5, waitClose: 2000 * SLOW });
    assert.equal(x.responses.length, 5, `got ${x.responses.length} responses`);
    const urls = x.responses.map((r) => JSON.parse(r.body).url);
    assert.deepEqual(urls, ['/pipe/1', '/pipe/2', '/delay/200?n=3', '/pipe/4', '/pipe/5']);
    assert.equal(JSON.parse(x.responses[1].body).bodyLength, 5);
    assert.equal(JSON.parse(x.responses[3].body).bodyLength, 3);
    assert.ok(x.closed, 'connection not closed after Connection: close');
  });

  test('HEAD: Content-Length passed, no body expected, connection reusable', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const h = await request(t.httpPort, { host: 'big.test', path: '/bytes/5000', method: 'HEAD', agent, timeout: 3000 * SLOW });
      assert.equal(h.status, 200);
      assert.equal(h.headers['content-length'], '5000');
      assert.equal(h.body.length, 0);
      const g = await request(t.httpPort, { host: 'big.test', path: '/after-head', agent, timeout: 3000 * SLOW });
      assert.equal(g.status, 200);
      assert.equal(g.json().url, '/after-head');
      assert.equal(g.socketLocalPort, h.socketLocalPort, 'connection not reused after HEAD');
    } finally {
      agent.destroy();
    }
  });

  test('204 and 304 responses have no body; the connection stays usable', async () => {
    const c = await RawConn.connect(t.httpPort);
    try {
      await c.write('GET /status/204 HTTP/1.1\r\nHost: big.test\r\n\r\n');
      assert.equal((await c.response(1))?.statusCode, 204);
      await c.write('GET /status/304 HTTP/1.1\r\nHost: big.test\r\n\r\n');
      assert.equal((await c.response(2))?.statusCode, 304);
      await c.write('GET /after-204 HTTP/1.1\r\nHost: big.test\r\n\r\n');
      const r = await c.response(3);
      assert.equal(r?.statusCode, 200);
      assert.equal(JSON.parse(r.body).url, '/after-204');
      assert.equal(c.rest.length, 0, `stray bytes: ${JSON.stringify(c.rest.toString().slice(0, 80))}`);
    } finally {
      c.destroy();
    }
  });

  test('upstream response delimited by connection close is relayed whole', async () => {
    const n = 3 * MiB + 17;
    const r = await download(t.httpPort, { host: 'big.test', path: `/eof/${n}` });
    assert.equal(r.status, 200);
    assert.equal(r.length, n);
    assert.equal(r.sha256, patternSha256(n));
  });

  test('chunked request with trailers and chunk extensions is accepted, body intact', async () => {
    const x = await rawExchange(t.httpPort,
      'POST /trailers HTTP/1.1\r\nHost: big.test\r\nTransfer-Encoding: chunked\r\n\r\n' +
      '4;name=value\r\nwiki\r\n5\r\npedia\r\n0\r\nX-Checksum: abc\r\n\r\n' +
      'GET /after-trailers HTTP/1.1\r\nHost: big.test\r\n\r\n', { responses: 2 });
    assert.deepEqual(x.responses.map((r) => r.statusCode), [200, 200]);
    const j = JSON.parse(x.responses[0].body);
    assert.equal(j.bodyLength, 9);
    assert.equal(j.bodySha256, createHash('sha256').update('wikipedia').digest('hex'));
    assert.equal(JSON.parse(x.responses[1].body).url, '/after-trailers');
  });

  test('100 pipelined requests in one write are answered in order', async () => {
    const reqs = Array.from({ length: 100 }, (_, i) => `GET /many/${i} HTTP/1.1\r\nHost: big.test\r\n\r\n`).join('');
    const x = await rawExchange(t.httpPort, reqs, { responses: 100, timeout: 10_000 * SLOW });
    assert.equal(x.responses.length, 100, `only ${x.responses.length} responses (closed=${x.closed})`);
    x.responses.forEach((r, i) => {
      assert.equal(r.statusCode, 200);
      assert.equal(JSON.parse(r.body).url, `/many/${i}`);
    });
  });

  test('request head and body dribbled one byte per write are parsed correctly', async () => {
    const req = 'POST /dribble HTTP/1.1\r\nHost: big.test\r\nX-Long-Header-Name: some value\r\nContent-Length: 7\r\n\r\npayload';
    const parts = [];
    for (const ch of req) parts.push(ch, { delay: 2 });
    const x = await rawExchange(t.httpPort, parts);
    assert.equal(x.responses[0]?.statusCode, 200);
    const j = JSON.parse(x.responses[0].body);
    assert.equal(j.headers['x-long-header-name'], 'some value');
    assert.equal(j.bodyLength, 7);
  });

  test('upstream dies mid-body: client connection is closed, not left hanging or reused', async () => {
    const c = await RawConn.connect(t.httpPort);
    try {
      await c.write('GET /truncate/200000 HTTP/1.1\r\nHost: big.test\r\n\r\n');
      const closed = await c.waitClose(5000 * SLOW);
      assert.ok(closed, 'client connection still open after the upstream died mid-response');
      assert.ok(c.buf.length < 200000 + 200, 'client got a complete-looking response');
    } finally {
      c.destroy();
    }
    assert.equal((await t.req('/after-truncate', { host: 'big.test' })).status, 200);
  });

  test('clients that vanish mid-transfer leave no sockets behind', async () => {
    const { readdirSync } = await import('node:fs');
    const fds = () => readdirSync(`/proc/${t.pid}/fd`).length;
    await sleep(200);
    const base = fds();
    for (let i = 0; i < 5; i++) {
      // download abandoned after the first bytes
      const c = await RawConn.connect(t.httpPort);
      await c.write(`GET /bytes/${20 * MiB}?abandon=${i} HTTP/1.1\r\nHost: big.test\r\n\r\n`);
      await c._wait(() => c.buf.length > 1000, 3000 * SLOW);
      c.destroy();
      // upload abandoned halfway
      const u = await RawConn.connect(t.httpPort);
      await u.write(`POST /abandoned-upload-${i} HTTP/1.1\r\nHost: big.test\r\nContent-Length: ${MiB}\r\n\r\n`);
      await u.write(Buffer.alloc(64 * 1024, 1));
      await sleep(20);
      u.destroy();
    }
    let now = fds();
    const end = Date.now() + 3000 * SLOW;
    while (now > base + 2 && Date.now() < end) {
      await sleep(100);
      now = fds();
    }
    assert.ok(now <= base + 2, `${now - base} file descriptors left after 10 abandoned transfers`);
    assert.equal((await t.req('/after-abandon', { host: 'big.test' })).status, 200);
  });

  test('response is streamed as the upstream produces it (no response buffering)', async () => {
    const t0 = Date.now();
    const times = [];
    await new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: t.httpPort, path: '/stream/4/400', headers: { host: 'big.test' }, agent: false });
      req.on('error', reject);
      req.on('response', (res) => {
        res.on('data', (d) => times.push([Date.now() - t0, d.toString()]));
        res.on('end', resolve);
      });
      req.end();
    });
    const total = times.at(-1)[0];
    assert.ok(total >= 1200, `stream finished after ${total} ms`);
    assert.ok(times[0][0] < 800 * SLOW, `first event after ${times[0][0]} ms (buffered?)`);
    assert.match(times.map((x) => x[1]).join(''), /data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\n/);
  });

  test('request body is streamed to the upstream as it arrives (no request buffering)', async () => {
    pod.reset();
    const c = await RawConn.connect(t.httpPort);
    try {
      await c.write('POST /slow-upload HTTP/1.1\r\nHost: big.test\r\nContent-Length: 10\r\n\r\nhello');
      const sentFirst = Date.now();
      await sleep(1000);
      const rec = pod.seen('/slow-upload')[0];
      assert.ok(rec, 'upstream has not even seen the head after 1 s');
      assert.ok(rec.firstBodyByteAt && rec.firstBodyByteAt - sentFirst < 900,
        'first body bytes were held back until the body was complete');
      await c.write('world');
      const r = await c.response(1);
      assert.equal(r?.statusCode, 200);
      assert.equal(JSON.parse(r.body).bodyLength, 10);
    } finally {
      c.destroy();
    }
  });

  test('HTTP/1.0 request gets a response and the connection closes', async () => {
    const x = await rawExchange(t.httpPort, 'GET /old HTTP/1.0\r\nHost: big.test\r\n\r\n', { waitClose: 2000 * SLOW });
    assert.equal(x.responses[0]?.statusCode, 200);
    assert.equal(JSON.parse(x.responses[0].body).url, '/old');
    assert.ok(x.closed);
  });

  // The limit is decided on the head: a Content-Length over it gets 413 before any body byte.
  async function headOnly(host, path, length) {
    const c = await RawConn.connect(t.httpPort);
    try {
      await c.write(`POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${length}\r\n\r\n`);
      return await c.response(1, 3000 * SLOW);
    } finally {
      c.destroy();
    }
  }

  test('proxy-body-size default 1m: exactly 1 MiB passes, 1 MiB + 1 → 413 (upstream not called)', async () => {
    pod.reset();
    const ok = await upload(t.httpPort, { host: 'limit.test', path: '/limit-ok', size: MiB });
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(ok.body).bodyLength, MiB);
    const r = await headOnly('limit.test', '/limit-over', MiB + 1);
    assert.ok(r, 'no response to an over-limit Content-Length');
    assert.equal(r.statusCode, 413);
    assert.match(r.headers['content-type'] ?? '', /^text\/plain/);
    await sleep(100);
    assert.equal(pod.seen('/limit-over').length, 0, 'upstream received the oversized request');
  });

  test('proxy-body-size annotation 3m: 2 MiB passes, 4 MiB → 413', async () => {
    const ok = await upload(t.httpPort, { host: 'mid.test', path: '/mid-ok', size: 2 * MiB });
    assert.equal(ok.status, 200);
    assert.equal((await headOnly('mid.test', '/mid-over', 4 * MiB))?.statusCode, 413);
  });

  test('413 reaches a client that is still sending its body (no reset before it can read it)', async () => {
    // Browsers send the whole body before reading; closing with unread data causes a TCP RST
    // that destroys the 413 in the client's receive buffer (nginx: lingering_close).
    const results = [];
    for (let i = 0; i < 3; i++) {
      const r = await upload(t.httpPort, { host: 'limit.test', path: `/linger-${i}`, size: 8 * MiB })
        .catch((e) => ({ error: e.code ?? e.message }));
      results.push(r.status ?? r.error);
    }
    assert.deepEqual(results, [413, 413, 413]);
  });

  test('chunked body over the limit is refused (413 or closed), upstream never gets it whole', async () => {
    pod.reset();
    const body = Buffer.alloc(2 * MiB, 'q');
    const head = 'POST /chunk-over HTTP/1.1\r\nHost: limit.test\r\nTransfer-Encoding: chunked\r\n\r\n';
    const parts = [head];
    for (let off = 0; off < body.length; off += 256 * 1024) {
      const c = body.subarray(off, off + 256 * 1024);
      parts.push(Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')]));
    }
    parts.push('0\r\n\r\n');
    const x = await rawExchange(t.httpPort, parts, { waitClose: 3000 * SLOW });
    if (x.responses.length) assert.equal(x.responses[0].statusCode, 413);
    else assert.ok(x.closed, 'neither a response nor a close');
    const got = pod.seen('/chunk-over');
    assert.ok(got.every((rq) => !(rq.complete && rq.bodyLength === body.length)), 'upstream received the whole oversized body');
  });
});

describe('bodies: proxy-body-size syntax', SUITE, () => {
  const fx = fixture();
  after(() => fx.close());
  test('annotation values in nginx size syntax: bytes, k, K, m, M', async () => {
    const pod = await fx.echo({ host: '127.0.3.3', name: 's' });
    const cases = [['2000', 2000], ['3k', 3 * 1024], ['3K', 3 * 1024], ['2m', 2 * MiB], ['2M', 2 * MiB]];
    const objs = [ingressClass(), ...backend('s', [pod])];
    cases.forEach(([v], i) => objs.push(ingress(`size-${i}`, {
      annotations: { 'nginx.ingress.kubernetes.io/proxy-body-size': v },
      rules: [{ host: `size${i}.test`, paths: [{ path: '/', service: 's' }] }],
    })));
    const t = await fx.tether({ objects: objs });
    for (const [i, [v, limit]] of cases.entries()) {
      const over = await rawExchange(t.httpPort, `POST /over HTTP/1.1\r\nHost: size${i}.test\r\nContent-Length: ${limit + 1}\r\n\r\n`);
      assert.equal(over.responses[0]?.statusCode, 413, `limit ${v}: ${limit + 1} bytes`);
      const body = Buffer.alloc(limit, 'a');
      const ok = await rawExchange(t.httpPort, Buffer.concat([Buffer.from(`POST /ok HTTP/1.1\r\nHost: size${i}.test\r\nContent-Length: ${limit}\r\n\r\n`), body]));
      assert.equal(ok.responses[0]?.statusCode, 200, `limit ${v}: ${limit} bytes`);
    }
  });
});

describe('bodies: --proxy-body-size flag', SUITE, () => {
  const fx = fixture();
  after(() => fx.close());
  test('flag sets the default limit; annotation "0" lifts it', async () => {
    const pod = await fx.echo({ host: '127.0.3.2', name: 'f' });
    const P = [{ path: '/', service: 'f' }];
    const t = await fx.tether({
      objects: [
        ingressClass(),
        ingress('small', { rules: [{ host: 'small.test', paths: P }] }),
        ingress('free', { annotations: { 'nginx.ingress.kubernetes.io/proxy-body-size': '0' }, rules: [{ host: 'free.test', paths: P }] }),
        ...backend('f', [pod]),
      ],
      args: ['--proxy-body-size', '10k'],
    });
    assert.equal((await upload(t.httpPort, { host: 'small.test', path: '/a', size: 10 * 1024 })).status, 200);
    const r = await upload(t.httpPort, { host: 'small.test', path: '/b', size: 10 * 1024 + 1 }).catch((e) => ({ error: e }));
    assert.equal(r.status, 413, r.error ? String(r.error) : undefined);
    const f = await upload(t.httpPort, { host: 'free.test', path: '/c', size: 5 * MiB });
    assert.equal(f.status, 200);
    assert.equal(JSON.parse(f.body).bodyLength, 5 * MiB);
  });
});
