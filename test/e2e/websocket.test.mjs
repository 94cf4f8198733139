// WebSocket: the Upgrade handshake is forwarded, 101 comes back with the right accept key, then
// the connection is a raw byte tunnel in both directions until either side closes.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { fixture, ingressClass, ingress, backend, SLOW, sleep, SUITE } from './lib/tether.mjs';
import { RawConn } from './lib/raw.mjs';
import { acceptKey, newKey, encodeFrame, FrameReader, OP } from './lib/ws.mjs';

// Opens a WebSocket through tether. Returns {conn, res, next(timeout), send(op, payload), frames}.
async function openWs(port, { host = 'ws.test', path = '/ws', extra = '' } = {}) {
  const conn = await RawConn.connect(port);
  const key = newKey();
  await conn.write(
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
  );
  const res = await conn.response(1);
  const reader = new FrameReader();
  const frames = [];
  let wake = null;
  const ws = { conn, res, key, frames };
  if (!res || res.statusCode !== 101) return ws;
  // From here on the bytes are WebSocket frames, not HTTP.
  conn.sock.removeAllListeners('data');
  conn.sock.on('data', (d) => {
    frames.push(...reader.push(d));
    if (wake) wake();
  });
  if (conn.rest.length) frames.push(...reader.push(Buffer.from(conn.rest)));
  ws.send = (op, payload) => conn.write(encodeFrame(op, payload, true));
  ws.next = async (timeout = 3000 * SLOW) => {
    const end = Date.now() + timeout;
    while (frames.length === 0) {
      if (Date.now() > end || conn.closed) return null;
      await new Promise((r) => {
        wake = r;
        setTimeout(r, 50);
      });
      wake = null;
    }
    return frames.shift();
  };
  return ws;
}

describe('websocket', SUITE, () => {
  const fx = fixture();
  let t;
  let pod;
  after(() => fx.close());
  before(async () => {
    pod = await fx.echo({ host: '127.0.4.1', name: 'wsecho' });
    t = await fx.tether({
      objects: [
        ingressClass(),
        ingress('ws', { rules: [{ host: 'ws.test', paths: [{ path: '/', service: 'wsecho' }] }] }),
        ...backend('wsecho', [pod]),
      ],
    });
  });

  test('handshake: 101 with the upstream accept key; upstream saw Upgrade and Connection: upgrade', async () => {
    const ws = await openWs(t.httpPort);
    try {
      assert.equal(ws.res?.statusCode, 101, ws.res ? ws.res.body.toString() : 'no response');
      assert.equal(ws.res.headers['sec-websocket-accept'], acceptKey(ws.key));
      assert.match(ws.res.headers.upgrade ?? '', /^websocket$/i);
      assert.match(ws.res.headers.connection ?? '', /upgrade/i);
      const seen = pod.seen('/ws').at(-1);
      assert.ok(seen, 'upstream did not see the handshake');
      assert.match(seen.headers.upgrade ?? '', /^websocket$/i);
      assert.match(seen.headers.connection ?? '', /upgrade/i);
      assert.equal(seen.headers['sec-websocket-key'], ws.key);
      assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    } finally {
      ws.conn.destroy();
    }
  });

  test('messages flow both ways: text, 1 MiB binary, ping/pong, close', async () => {
    const ws = await openWs(t.httpPort);
    try {
      assert.equal(ws.res?.statusCode, 101);
      await ws.send(OP.TEXT, 'hello through tether');
      let f = await ws.next();
      assert.ok(f, 'no echo');
      assert.equal(f.opcode, OP.TEXT);
      assert.equal(f.payload.toString(), 'hello through tether');
      await ws.send(OP.TEXT, 'whoami');
      f = await ws.next();
      assert.equal(f?.payload.toString(), 'wsecho');
      const big = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
      await ws.send(OP.BINARY, big);
      f = await ws.next(10_000 * SLOW);
      assert.ok(f, 'no binary echo');
      assert.equal(f.opcode, OP.BINARY);
      assert.ok(f.payload.equals(big), 'binary payload corrupted');
      await ws.send(OP.PING, 'p');
      f = await ws.next();
      assert.equal(f?.opcode, OP.PONG);
      for (let i = 0; i < 50; i++) await ws.send(OP.TEXT, `m${i}`);
      for (let i = 0; i < 50; i++) assert.equal((await ws.next())?.payload.toString(), `m${i}`);
      await ws.send(OP.CLOSE, Buffer.from([0x03, 0xe8]));
      f = await ws.next();
      assert.equal(f?.opcode, OP.CLOSE);
      assert.ok(await ws.conn.waitClose(3000 * SLOW), 'tunnel not closed after the upstream closed');
    } finally {
      ws.conn.destroy();
    }
  });

  test('tunnel stays open while idle longer than the keep-alive timeout', async () => {
    const t2 = await fx.tether({
      objects: [
        ingressClass(),
        ingress('ws', { rules: [{ host: 'ws.test', paths: [{ path: '/', service: 'wsecho' }] }] }),
        ...backend('wsecho', [pod]),
      ],
      args: ['--keepalive-timeout', '500ms', '--client-header-timeout', '500ms'],
    });
    const ws = await openWs(t2.httpPort);
    try {
      assert.equal(ws.res?.statusCode, 101);
      await sleep(1200);
      assert.equal(ws.conn.closed, false, 'tunnel closed by an HTTP timeout');
      await ws.send(OP.TEXT, 'still here');
      assert.equal((await ws.next())?.payload.toString(), 'still here');
    } finally {
      ws.conn.destroy();
    }
  });

  test('client closing the tunnel closes the upstream side', async () => {
    const ws = await openWs(t.httpPort, { path: '/ws-close' });
    assert.equal(ws.res?.statusCode, 101);
    await ws.send(OP.TEXT, 'x');
    assert.ok(await ws.next());
    const rec = pod.seen('/ws-close').at(-1);
    assert.ok(rec);
    assert.equal(rec.socketClosed, false);
    ws.conn.destroy();
    const end = Date.now() + 3000 * SLOW;
    while (!rec.socketClosed && Date.now() < end) await sleep(50);
    assert.ok(rec.socketClosed, 'upstream tunnel socket left open after the client went away');
  });

  test('finished tunnels release their sockets (either side closing) and do not hold up shutdown', async () => {
    const t3 = await fx.tether({
      objects: [
        ingressClass(),
        ingress('ws', { rules: [{ host: 'ws.test', paths: [{ path: '/', service: 'wsecho' }] }] }),
        ...backend('wsecho', [pod]),
      ],
      workers: 1,
      args: ['--shutdown-grace-period', '20s'],
    });
    const fds = () => readdirSync(`/proc/${t3.pid}/fd`).length;
    const base = fds();
    for (let i = 0; i < 10; i++) {
      const ws = await openWs(t3.httpPort, { path: `/ws-fin-${i}` });
      assert.equal(ws.res?.statusCode, 101);
      if (i % 2 === 0) {
        // upstream-initiated close: the echo pod answers the close frame and ends its socket
        await ws.send(OP.CLOSE, Buffer.from([0x03, 0xe8]));
        assert.ok(await ws.conn.waitClose(3000 * SLOW), 'client side not closed after the upstream closed');
      }
      ws.conn.destroy();
    }
    await sleep(300 * SLOW);
    const leaked = fds() - base;
    assert.ok(leaked <= 2, `${leaked} file descriptors still open after 10 finished tunnels`);
    const t0 = Date.now();
    t3.proc.kill('SIGTERM');
    const exit = await Promise.race([t3.exited, sleep(8000 * SLOW).then(() => null)]);
    assert.ok(exit, 'SIGTERM did not end tether within 8 s although every tunnel had finished');
    assert.equal(exit.code, 0);
    assert.ok(Date.now() - t0 < 3000 * SLOW, `exit took ${Date.now() - t0} ms: finished tunnels still counted as open`);
  });

  test('upgrade refused by upstream (non-101) is relayed as a normal response', async () => {
    const c = await RawConn.connect(t.httpPort);
    try {
      await c.write('GET /ws HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n');
      const r = await c.response(1);
      assert.ok(r, 'no response');
      assert.equal(r.statusCode, 400);
    } finally {
      c.destroy();
    }
  });
});

