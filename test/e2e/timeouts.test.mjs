// Timeouts and shutdown: slow clients (head, body, drip-fed head) are cut off after their timeout
// while others are served; idle keep-alive connections close; a silent upstream hits
// --proxy-send-timeout; SIGTERM drains in-flight requests, refuses new connections, exits 0.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { fixture, ingressClass, ingress, backend, sleep, SLOW, MiB, request, startBlackhole, SUITE } from './lib/tether.mjs';
import { RawConn } from './lib/raw.mjs';
import { patternChunk } from './lib/echo.mjs';

function objects(pod) {
  return [
    ingressClass(),
    ingress('slow', { rules: [{ host: 'slow.test', paths: [{ path: '/', service: 'p' }] }] }),
    ...backend('p', [pod]),
  ];
}

// Waits until the connection is closed or a 408 arrives; returns {ms, status, closed}.
async function cutOff(c, t0, limit) {
  const closed = await c.waitClose(limit);
  const r = c.responses[0];
  return { ms: Date.now() - t0, status: r?.statusCode, closed };
}

// Keeps one request per 100 ms going on fresh connections; returns a stop() giving the results.
function background(port) {
  let stop = false;
  const results = [];
  const loop = (async () => {
    let i = 0;
    while (!stop) {
      const t0 = Date.now();
      try {
        const r = await request(port, { host: 'slow.test', path: `/bg/${i++}`, timeout: 2000 * SLOW });
        results.push({ status: r.status, ms: Date.now() - t0 });
      } catch (e) {
        results.push({ error: e.code ?? e.message, ms: Date.now() - t0 });
      }
      await sleep(100);
    }
  })();
  return async () => {
    stop = true;
    await loop;
    return results;
  };
}

describe('client timeouts', SUITE, () => {
  const fx = fixture();
  after(() => fx.close());
  let t;
  let pod;

  before(async () => {
    pod = await fx.echo({ host: '127.0.7.1', name: 'p' });
    t = await fx.tether({
      objects: objects(pod),
      args: ['--client-header-timeout', '1s', '--client-body-timeout', '1s', '--keepalive-timeout', '1s'],
    });
  });

  test('partial head then silence → 408 or close after --client-header-timeout; others served', async () => {
    const bg = background(t.httpPort);
    const conns = [];
    try {
      const t0 = Date.now();
      for (let i = 0; i < 5; i++) {
        const c = await RawConn.connect(t.httpPort);
        conns.push(c);
        await c.write('GET /stalled HTTP/1.1\r\nHost: slow.te');
      }
      const res = await cutOff(conns[0], t0, 6000 * SLOW);
      assert.ok(res.closed, 'stalled client never cut off');
      assert.ok(res.status === undefined || res.status === 408, `status ${res.status}`);
      assert.ok(res.ms >= 800, `cut off after only ${res.ms} ms`);
      assert.ok(res.ms < 4000 * SLOW, `cut off after ${res.ms} ms`);
      for (const c of conns) assert.ok(await c.waitClose(2000 * SLOW), 'another stalled client stayed open');
    } finally {
      const results = await bg();
      for (const c of conns) c.destroy();
      assert.ok(results.length >= 5, `only ${results.length} background requests`);
      for (const r of results) assert.equal(r.status, 200, JSON.stringify(r));
    }
    assert.equal(pod.seen('/stalled').length, 0);
  });

  test('connection that never sends a byte is closed after the header timeout', async () => {
    const c = await RawConn.connect(t.httpPort);
    const t0 = Date.now();
    try {
      const res = await cutOff(c, t0, 6000 * SLOW);
      assert.ok(res.closed, 'idle new connection never closed');
      assert.ok(res.ms >= 800 && res.ms < 4000 * SLOW, `closed after ${res.ms} ms`);
    } finally {
      c.destroy();
    }
  });

  test('drip-fed head (one byte per 200 ms) is still cut off near the header timeout', async () => {
    const c = await RawConn.connect(t.httpPort);
    const t0 = Date.now();
    const head = `GET /drip HTTP/1.1\r\nHost: slow.test\r\nX-Pad: ${'p'.repeat(200)}\r\n\r\n`;
    let i = 0;
    try {
      while (!c.closed && Date.now() - t0 < 8000 * SLOW && i < head.length - 4) {
        await c.write(head[i++]);
        await sleep(200);
      }
      const ms = Date.now() - t0;
      assert.ok(c.closed, `still open after ${ms} ms of drip-feeding`);
      assert.ok(ms < 4000 * SLOW, `drip-fed head allowed for ${ms} ms with a 1 s header timeout`);
    } finally {
      c.destroy();
    }
  });

  test('request body stalls → cut off after --client-body-timeout', async () => {
    const c = await RawConn.connect(t.httpPort);
    const t0 = Date.now();
    try {
      await c.write('POST /body-stall HTTP/1.1\r\nHost: slow.test\r\nContent-Length: 10\r\n\r\nabc');
      const res = await cutOff(c, t0, 6000 * SLOW);
      assert.ok(res.closed, 'stalled body never cut off');
      assert.ok(res.status === undefined || res.status === 408, `status ${res.status}`);
      assert.ok(res.ms >= 800 && res.ms < 4000 * SLOW, `cut off after ${res.ms} ms`);
      await sleep(100);
      assert.ok(pod.seen('/body-stall').every((r) => !r.complete), 'upstream got a complete body');
    } finally {
      c.destroy();
    }
  });

  test('idle keep-alive connection closed after --keepalive-timeout; busy one kept', async () => {
    const c = await RawConn.connect(t.httpPort);
    try {
      // busy: requests every 400 ms for 2 s stay on one connection
      for (let i = 1; i <= 5; i++) {
        await c.write(`GET /busy/${i} HTTP/1.1\r\nHost: slow.test\r\n\r\n`);
        const r = await c.response(i);
        assert.equal(r?.statusCode, 200, `request ${i} failed, closed=${c.closed}`);
        await sleep(400);
      }
      const t0 = Date.now();
      const closed = await c.waitClose(5000 * SLOW);
      const ms = Date.now() - t0;
      assert.ok(closed, 'idle keep-alive connection never closed');
      assert.ok(ms < 3000 * SLOW, `closed after ${ms} ms idle`);
      assert.equal(c.responses.length, 5, 'unexpected bytes after the last response');
    } finally {
      c.destroy();
    }
  });
});

describe('upstream send timeout', SUITE, () => {
  const fx = fixture();
  after(() => fx.close());
  test('upstream that stops reading the body → request ends after --proxy-send-timeout', async () => {
    const pod = await fx.echo({ host: '127.0.7.2', name: 'p' });
    const ing = objects(pod);
    ing[1].metadata.annotations = { 'nginx.ingress.kubernetes.io/proxy-body-size': '0' };
    const t = await fx.tether({ objects: ing, args: ['--proxy-send-timeout', '1s'] });
    const t0 = Date.now();
    const outcome = await new Promise((resolve) => {
      const req = http.request({
        host: '127.0.0.1', port: t.httpPort, method: 'POST', path: '/sink?pause=60000', agent: false,
        headers: { host: 'slow.test', 'content-length': 64 * MiB },
      });
      const timer = setTimeout(() => { req.destroy(); resolve({ hung: true }); }, 15_000 * SLOW);
      req.on('response', (res) => { clearTimeout(timer); res.resume(); resolve({ status: res.statusCode }); });
      req.on('error', (e) => { clearTimeout(timer); resolve({ error: e.code }); });
      let off = 0;
      const pump = () => {
        while (off < 64 * MiB) {
          const ok = req.write(patternChunk(off, 256 * 1024));
          off += 256 * 1024;
          if (!ok) { req.once('drain', pump); return; }
        }
        req.end();
      };
      pump();
    });
    const ms = Date.now() - t0;
    assert.ok(!outcome.hung, 'request still hanging 15 s after the upstream stopped reading');
    assert.notEqual(outcome.status, 200);
    if (outcome.status !== undefined) assert.ok([502, 504].includes(outcome.status), `status ${outcome.status}`);
    assert.ok(ms < 10_000 * SLOW, `took ${ms} ms`);
  });
});

describe('upstream send timeout: slow clients', SUITE, () => {
  const fx = fixture();
  after(() => fx.close());
  test('a client pausing mid-body longer than --proxy-send-timeout is not cut off by it', async () => {
    const pod = await fx.echo({ host: '127.0.7.7', name: 'p' });
    const t = await fx.tether({ objects: objects(pod), args: ['--proxy-send-timeout', '1s'] });
    const c = await RawConn.connect(t.httpPort);
    try {
      await c.write('POST /pause-body HTTP/1.1\r\nHost: slow.test\r\nContent-Length: 10\r\n\r\nhello');
      await sleep(1800);
      await c.write('world');
      const r = await c.response(1, 5000 * SLOW);
      assert.equal(r?.statusCode, 200);
      assert.equal(JSON.parse(r.body).bodyLength, 10);
    } finally {
      c.destroy();
    }
  });
});

describe('graceful shutdown', SUITE, () => {
  const fx = fixture();
  after(() => fx.close());

  test('SIGTERM: in-flight request completes, new connections refused, idle ones closed, exit 0', async () => {
    const pod = await fx.echo({ host: '127.0.7.3', name: 'p' });
    const t = await fx.tether({ objects: objects(pod), workers: 2, args: ['--shutdown-grace-period', '10s'] });
    // An idle keep-alive connection must not hold up the exit.
    const idle = await RawConn.connect(t.httpPort);
    await idle.write('GET /idle HTTP/1.1\r\nHost: slow.test\r\n\r\n');
    assert.equal((await idle.response(1))?.statusCode, 200);

    const inflight = request(t.httpPort, { host: 'slow.test', path: '/delay/1000', timeout: 10_000 * SLOW })
      .then((r) => ({ status: r.status, at: Date.now() }), (e) => ({ error: e.code ?? e.message, at: Date.now() }));
    await sleep(250);
    assert.equal(pod.seen('/delay/1000').length, 1, 'slow request not in flight yet');
    const t0 = Date.now();
    t.proc.kill('SIGTERM');
    await sleep(200 * SLOW);

    const refused = [];
    for (let i = 0; i < 5; i++) {
      refused.push(await new Promise((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port: t.httpPort });
        s.on('connect', () => { s.destroy(); resolve('connected'); });
        s.on('error', (e) => resolve(e.code));
      }));
    }
    const res = await inflight;
    assert.equal(res.status, 200, `in-flight request: ${JSON.stringify(res)}`);
    assert.deepEqual(refused, Array(5).fill('ECONNREFUSED'), 'listener still accepting during shutdown');
    assert.ok(await idle.waitClose(3000 * SLOW), 'idle keep-alive connection not closed on shutdown');
    idle.destroy();
    const exit = await Promise.race([t.exited, sleep(8000 * SLOW).then(() => null)]);
    assert.ok(exit, 'tether did not exit');
    assert.equal(exit.code, 0, `exit: ${JSON.stringify(exit)}\n${t.logText()}`);
    const took = Date.now() - t0;
    assert.ok(took < 4000 * SLOW, `exit took ${took} ms although nothing was in flight after ~1 s`);
    const a = t.access().find((l) => l.path === '/delay/1000');
    assert.ok(a, 'drained request missing from the access log');
    assert.equal(a.status, 200);
  });

  test('SIGTERM during a 100 MiB download: the download completes intact', async () => {
    const pod = await fx.echo({ host: '127.0.7.6', name: 'p' });
    const ing = objects(pod);
    const t = await fx.tether({ objects: ing, args: ['--shutdown-grace-period', '20s'] });
    const { createHash } = await import('node:crypto');
    const { patternSha256 } = await import('./lib/echo.mjs');
    const n = 100 * MiB;
    let got = 0;
    const h = createHash('sha256');
    const done = new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: t.httpPort, path: `/bytes/${n}`, headers: { host: 'slow.test' }, agent: false });
      req.on('error', reject);
      req.on('response', (res) => {
        res.on('data', (d) => {
          h.update(d);
          got += d.length;
          if (got >= 5 * MiB && !res.killed) {
            res.killed = true;
            // slow the client down so the transfer is surely in flight at SIGTERM
            res.pause();
            t.proc.kill('SIGTERM');
            setTimeout(() => res.resume(), 300);
          }
        });
        res.on('end', () => resolve(res.statusCode));
        res.on('error', reject);
      });
      req.end();
    });
    const status = await done;
    assert.equal(status, 200);
    assert.equal(got, n);
    assert.equal(h.digest('hex'), patternSha256(n));
    const exit = await Promise.race([t.exited, sleep(5000 * SLOW).then(() => null)]);
    assert.ok(exit, 'no exit after the download finished');
    assert.equal(exit.code, 0);
  });

  test('grace period bounds the drain: a hanging request does not keep tether alive', async () => {
    const pod = await fx.echo({ host: '127.0.7.4', name: 'p' });
    const t = await fx.tether({ objects: objects(pod), args: ['--shutdown-grace-period', '1s'] });
    const hanging = request(t.httpPort, { host: 'slow.test', path: '/hang', timeout: 20_000 * SLOW }).catch((e) => ({ error: e }));
    await sleep(200);
    assert.equal(pod.seen('/hang').length, 1);
    const t0 = Date.now();
    t.proc.kill('SIGTERM');
    const exit = await Promise.race([t.exited, sleep(6000 * SLOW).then(() => null)]);
    const took = Date.now() - t0;
    assert.ok(exit, 'tether still running 6 s after SIGTERM with a 1 s grace period');
    assert.ok(took >= 800, `exited after ${took} ms, before the grace period`);
    assert.ok(took < 4000 * SLOW, `exited after ${took} ms`);
    await hanging;
  });

  test('SIGTERM with nothing in flight exits 0 promptly', async () => {
    const pod = await fx.echo({ host: '127.0.7.5', name: 'p' });
    const t = await fx.tether({ objects: objects(pod), args: ['--shutdown-grace-period', '30s'] });
    assert.equal((await t.req('/x', { host: 'slow.test' })).status, 200);
    const t0 = Date.now();
    t.proc.kill('SIGTERM');
    const exit = await Promise.race([t.exited, sleep(5000 * SLOW).then(() => null)]);
    assert.ok(exit, 'no exit');
    assert.equal(exit.code, 0);
    assert.ok(Date.now() - t0 < 2000 * SLOW, `took ${Date.now() - t0} ms`);
  });
});

describe('upstream connect timeout', SUITE, () => {
  const fx = fixture();
  after(() => fx.close());

  test('unanswered connect → 502/504 after --proxy-connect-timeout; with a live endpoint → retried, 200', async (t) => {
    const hole = await startBlackhole('127.0.7.20');
    if (!hole) {
      t.skip('python3 not available to make a black-hole listener');
      return;
    }
    fx.defer(() => hole.close());
    const live = await fx.echo({ host: '127.0.7.21', name: 'live' });
    const tt = await fx.tether({
      objects: [
        ingressClass(),
        ingress('ct', { rules: [
          { host: 'hole.test', paths: [{ path: '/', service: 'hole' }] },
          { host: 'mixed.test', paths: [{ path: '/', service: 'mixed' }] },
        ] }),
        ...backend('hole', [hole]),
        ...backend('mixed', [hole, live]),
      ],
      workers: 1,
      args: ['--proxy-connect-timeout', '500ms', '--proxy-read-timeout', '30s'],
    });
    const t0 = Date.now();
    const r = await tt.req('/x', { host: 'hole.test', timeout: 20_000 * SLOW });
    const ms = Date.now() - t0;
    assert.ok([502, 504].includes(r.status), `status ${r.status}`);
    assert.ok(ms >= 400, `gave up after ${ms} ms`);
    assert.ok(ms < 5000 * SLOW, `connect timeout took ${ms} ms (3 tries × 500 ms at most expected)`);
    for (let i = 0; i < 4; i++) {
      const m = await tt.req(`/m/${i}`, { host: 'mixed.test', timeout: 10_000 * SLOW });
      assert.equal(m.status, 200, `request ${i}: ${m.status}`);
    }
  });
});
