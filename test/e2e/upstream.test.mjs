// Upstream connections: keep-alive pool reuse per worker (across client connections), stale
// pooled connections, Connection: close from the upstream, and retry of the next endpoint when
// a connection is refused.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { fixture, ingressClass, ingress, backend, deadPort, sleep, request, SLOW, SUITE } from './lib/tether.mjs';
import { RawConn } from './lib/raw.mjs';

describe('upstream keep-alive pool', SUITE, () => {
  const fx = fixture();
  let t;
  let pod;
  let shortPod;
  after(() => fx.close());
  before(async () => {
    pod = await fx.echo({ host: '127.0.8.1', name: 'pool' });
    shortPod = await fx.echo({ host: '127.0.8.2', name: 'short', keepAliveTimeout: 300 });
    t = await fx.tether({
      objects: [
        ingressClass(),
        ingress('pool', { rules: [
          { host: 'pool.test', paths: [{ path: '/', service: 'pool' }] },
          { host: 'short.test', paths: [{ path: '/', service: 'short' }] },
        ] }),
        ...backend('pool', [pod]),
        ...backend('short', [shortPod]),
      ],
      workers: 1,
    });
  });

  test('sequential requests on separate client connections reuse one upstream connection', async () => {
    await t.req('/warm', { host: 'pool.test' });
    pod.reset();
    const before = pod.stats.connections;
    const ids = [];
    const clientPorts = new Set();
    for (let i = 0; i < 6; i++) {
      const r = await t.req(`/seq/${i}`, { host: 'pool.test' });
      assert.equal(r.status, 200);
      ids.push(r.json().connectionId);
      clientPorts.add(r.socketLocalPort);
    }
    assert.equal(clientPorts.size, 6, 'client connections were not distinct');
    assert.equal(new Set(ids).size, 1, `upstream connection ids: ${ids}`);
    assert.equal(pod.stats.connections, before, 'new upstream connections were opened');
  });

  test('requests on one keep-alive client connection reuse the upstream connection', async () => {
    const c = await RawConn.connect(t.httpPort);
    try {
      const ids = [];
      for (let i = 1; i <= 4; i++) {
        await c.write(`GET /same/${i} HTTP/1.1\r\nHost: pool.test\r\n\r\n`);
        const r = await c.response(i);
        assert.equal(r?.statusCode, 200);
        ids.push(JSON.parse(r.body).connectionId);
      }
      assert.equal(new Set(ids).size, 1, `upstream connection ids: ${ids}`);
    } finally {
      c.destroy();
    }
  });

  test('POST bodies do not break reuse (body fully forwarded before reuse)', async () => {
    const ids = [];
    for (let i = 0; i < 4; i++) {
      const r = await t.req(`/post/${i}`, { host: 'pool.test', method: 'POST', body: 'x'.repeat(1000 * (i + 1)) });
      assert.equal(r.status, 200);
      assert.equal(r.json().bodyLength, 1000 * (i + 1));
      ids.push(r.json().connectionId);
    }
    assert.equal(new Set(ids).size, 1, `upstream connection ids: ${ids}`);
  });

  test('concurrent requests open several connections, later ones reuse them', async () => {
    const agent = new http.Agent({ keepAlive: false });
    const rs = await Promise.all(Array.from({ length: 4 }, (_, i) => request(t.httpPort, { host: 'pool.test', path: `/delay/200?c=${i}`, agent })));
    for (const r of rs) assert.equal(r.status, 200);
    const used = new Set(rs.map((r) => r.json().connectionId));
    assert.ok(used.size >= 2, 'concurrent requests were serialised onto one upstream connection');
    const conns = pod.stats.connections;
    for (let i = 0; i < 4; i++) {
      const r = await t.req(`/after-burst/${i}`, { host: 'pool.test' });
      assert.ok(used.has(r.json().connectionId), 'a pooled connection was not reused');
    }
    assert.equal(pod.stats.connections, conns);
  });

  test('upstream closed an idle pooled connection → next request still 200 on a new one', async () => {
    const r1 = await t.req('/first', { host: 'short.test' });
    assert.equal(r1.status, 200);
    await sleep(700); // the pod's keep-alive timeout is 300 ms
    for (let i = 0; i < 3; i++) {
      const r = await t.req(`/after-idle/${i}`, { host: 'short.test' });
      assert.equal(r.status, 200, `request ${i}: ${r.status} ${r.text}`);
    }
  });

  test('POST on an upstream connection the pod closed while idle still succeeds', async () => {
    assert.equal((await t.req('/first-post', { host: 'short.test', method: 'POST', body: 'a' })).status, 200);
    await sleep(700);
    const r = await t.req('/post-after-idle', { host: 'short.test', method: 'POST', body: 'hello' });
    assert.equal(r.status, 200, `${r.status} ${r.text}`);
    assert.equal(r.json().bodyLength, 5);
  });

  test('200 concurrent client connections are all served', async () => {
    const rs = await Promise.all(Array.from({ length: 200 }, (_, i) =>
      request(t.httpPort, { host: 'pool.test', path: `/burst/${i}`, timeout: 15_000 * SLOW })
        .then((r) => r.status, (e) => e.code ?? e.message)));
    const bad = rs.filter((s) => s !== 200);
    assert.equal(bad.length, 0, `failures: ${JSON.stringify(bad.slice(0, 10))}`);
  });

  test('pooled connections dropped by the pod → requests still succeed', async () => {
    assert.equal((await t.req('/pre-drop', { host: 'pool.test' })).status, 200);
    pod.dropConnections();
    await sleep(100);
    for (let i = 0; i < 3; i++) {
      const r = await t.req(`/post-drop/${i}`, { host: 'pool.test' });
      assert.equal(r.status, 200, `request ${i}: ${r.status} ${r.text}`);
    }
  });

  test('upstream Connection: close is honoured (no reuse of that connection)', async () => {
    const r1 = await t.req('/closing?close=1', { host: 'pool.test' });
    assert.equal(r1.status, 200);
    const id1 = r1.json().connectionId;
    const r2 = await t.req('/after-closing', { host: 'pool.test' });
    assert.equal(r2.status, 200);
    assert.notEqual(r2.json().connectionId, id1);
  });
});

describe('upstream pool bound', SUITE, () => {
  const fx = fixture();
  after(() => fx.close());
  test('after a burst, idle upstream connections are trimmed to --upstream-keepalive per worker', async () => {
    const pod = await fx.echo({ host: '127.0.8.51', name: 'burst' });
    const t = await fx.tether({
      objects: [ingressClass(), ingress('b', { rules: [{ paths: [{ path: '/', service: 'b' }] }] }), ...backend('b', [pod])],
      workers: 1,
      args: ['--upstream-keepalive', '4'],
    });
    const rs = await Promise.all(Array.from({ length: 60 }, (_, i) => request(t.httpPort, { host: 'b.test', path: `/delay/100?${i}`, timeout: 10_000 * SLOW })));
    for (const r of rs) assert.equal(r.status, 200);
    assert.ok(pod.stats.connections > 4, 'burst did not need more than 4 upstream connections');
    await sleep(300);
    assert.ok(pod.openSockets() <= 4, `${pod.openSockets()} upstream connections kept open`);
    const r = await t.req('/after', { host: 'b.test' });
    assert.equal(r.status, 200);
  });
});

describe('retry on connect failure', SUITE, () => {
  const fx = fixture();
  after(() => fx.close());

  test('a dead endpoint among live ones: every request answers 200 from a live pod', async () => {
    const a = await fx.echo({ host: '127.0.8.11', name: 'live-a' });
    const b = await fx.echo({ host: '127.0.8.12', name: 'live-b' });
    const dead = { host: '127.0.8.10', port: await deadPort('127.0.8.10') };
    const dead2 = { host: '127.0.8.13', port: await deadPort('127.0.8.13') };
    const t = await fx.tether({
      objects: [
        ingressClass(),
        ingress('retry', { rules: [{ host: 'retry.test', paths: [{ path: '/', service: 'mixed' }] }] }),
        ...backend('mixed', [dead, a, dead2, b]),
      ],
      workers: 1,
    });
    const seen = new Set();
    for (let i = 0; i < 12; i++) {
      const r = await t.req(`/r/${i}`, { host: 'retry.test' });
      assert.equal(r.status, 200, `request ${i}: ${r.status} ${r.text}`);
      seen.add(r.json().pod);
    }
    assert.deepEqual([...seen].sort(), ['live-a', 'live-b']);
    await t.waitAccess(() => t.access().filter((l) => String(l.path).startsWith('/r/')).length >= 12);
    const lines = t.access().filter((l) => String(l.path).startsWith('/r/'));
    assert.equal(lines.length, 12, t.logText());
    for (const l of lines) assert.ok([a.addr, b.addr].includes(l.upstream), `upstream ${l.upstream}`);
  });

  test('--proxy-next-upstream-tries 1 disables the retry (some requests hit the dead endpoint → 502)', async () => {
    const a = await fx.echo({ host: '127.0.8.31', name: 'live' });
    const dead = { host: '127.0.8.30', port: await deadPort('127.0.8.30') };
    const t = await fx.tether({
      objects: [
        ingressClass(),
        ingress('retry', { rules: [{ host: 'retry.test', paths: [{ path: '/', service: 'mixed' }] }] }),
        ...backend('mixed', [dead, a]),
      ],
      workers: 1,
      args: ['--proxy-next-upstream-tries', '1'],
    });
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await t.req(`/n/${i}`, { host: 'retry.test' })).status);
    assert.ok(statuses.includes(502), `statuses: ${statuses}`);
    assert.ok(statuses.includes(200), `statuses: ${statuses}`);
  });

  test('POST body is still delivered after a retried connect', async () => {
    const a = await fx.echo({ host: '127.0.8.21', name: 'live' });
    const dead = { host: '127.0.8.20', port: await deadPort('127.0.8.20') };
    const t = await fx.tether({
      objects: [
        ingressClass(),
        ingress('retry', { rules: [{ host: 'retry.test', paths: [{ path: '/', service: 'mixed' }] }] }),
        ...backend('mixed', [dead, a]),
      ],
      workers: 1,
    });
    for (let i = 0; i < 4; i++) {
      const body = `payload-${i}-${'z'.repeat(5000)}`;
      const r = await t.req(`/p/${i}`, { host: 'retry.test', method: 'POST', body });
      assert.equal(r.status, 200);
      assert.equal(r.json().bodyLength, body.length);
    }
  });
});

describe('mixed load', SUITE, () => {
  const fx = fixture();
  after(() => fx.close());

  test('40 clients × pipelined mixes of GET/POST/chunked/errors, some vanishing: every answer is right', async () => {
    const pods = [];
    for (let i = 0; i < 3; i++) pods.push(await fx.echo({ host: `127.0.8.${41 + i}`, name: `m${i}`, keepAliveTimeout: 200 + i * 300 }));
    const t = await fx.tether({
      objects: [
        ingressClass(),
        ingress('mixed', { annotations: { 'nginx.ingress.kubernetes.io/proxy-body-size': '0' }, rules: [{ host: 'mix.test', paths: [{ path: '/', service: 'mix' }] }] }),
        ...backend('mix', pods),
      ],
      workers: 2,
    });
    let seed = 42;
    const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x80000000; };
    const kinds = [['/x', 200], ['/delay/20', 200], ['/bytes/70000?chunked=1', 200], ['/bytes/5000', 200], ['/status/404', 404], ['/close', 502], ['/eof/3000', 200]];
    const wrong = [];
    let answered = 0;
    const client = async () => {
      for (let round = 0; round < 8; round++) {
        const c = await RawConn.connect(t.httpPort);
        const n = 1 + Math.floor(rnd() * 8);
        const want = [];
        let bytes = '';
        for (let j = 0; j < n; j++) {
          const [path, status] = kinds[Math.floor(rnd() * kinds.length)];
          want.push([path, status]);
          const r = rnd();
          if (r < 0.3) {
            const b = 'b'.repeat(Math.floor(rnd() * 40000));
            bytes += `POST ${path} HTTP/1.1\r\nHost: mix.test\r\nContent-Length: ${b.length}\r\n\r\n${b}`;
          } else if (r < 0.45) {
            bytes += `POST ${path} HTTP/1.1\r\nHost: mix.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`;
          } else {
            bytes += `GET ${path} HTTP/1.1\r\nHost: mix.test\r\n\r\n`;
          }
        }
        await c.write(bytes);
        if (rnd() < 0.15) {
          await sleep(Math.floor(rnd() * 30));
          c.destroy();
          continue;
        }
        await c.waitResponses(n, 10_000 * SLOW);
        if (c.responses.length !== n) wrong.push(`${c.responses.length}/${n} responses for ${want.map((w) => w[0])}`);
        c.responses.forEach((r, k) => {
          answered++;
          if (r.statusCode !== want[k][1]) wrong.push(`${want[k][0]} → ${r.statusCode}`);
        });
        c.destroy();
      }
    };
    await Promise.all(Array.from({ length: 40 }, client));
    assert.deepEqual(wrong.slice(0, 20), []);
    assert.ok(answered > 500, `only ${answered} answers`);
    assert.equal((await t.admin('/healthz')).status, 200);
    assert.equal(t.exit, null);
  });
});
