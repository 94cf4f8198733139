// The harness checked against itself, without tether: the echo pod, the raw client's response
// parser, the WebSocket framing and the YAML writer. If these are wrong, every other file lies.
import { describe, test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { fixture, request, toYaml, ingress, SUITE } from './lib/tether.mjs';
import { patternSha256 } from './lib/echo.mjs';
import { rawExchange, RawConn, parseResponse } from './lib/raw.mjs';
import { encodeFrame, FrameReader, newKey, acceptKey, OP } from './lib/ws.mjs';

describe('harness', SUITE, () => {
  const fx = fixture();
  let e;
  const H = '127.0.0.2';
  before(async () => { e = await fx.echo({ host: H, name: 'self' }); });
  after(() => fx.close());

  test('echo reports method, url, headers, body digest, peer address', async () => {
    const r = await request(e.port, { connectHost: H, path: '/x?y=1', host: 'foo', method: 'POST', body: 'hello', localAddress: '127.0.0.9' });
    const j = r.json();
    assert.equal(j.pod, 'self');
    assert.equal(j.url, '/x?y=1');
    assert.equal(j.headers.host, 'foo');
    assert.equal(j.bodyLength, 5);
    assert.equal(j.bodySha256, createHash('sha256').update('hello').digest('hex'));
    assert.equal(j.remoteAddress, '127.0.0.9');
    assert.equal(e.seen('/x').length, 1);
  });

  test('echo /bytes/N matches patternSha256 (Content-Length and chunked)', async () => {
    for (const q of ['', '?chunked=1']) {
      const r = await request(e.port, { connectHost: H, path: `/bytes/1000003${q}` });
      assert.equal(r.body.length, 1000003);
      assert.equal(createHash('sha256').update(r.body).digest('hex'), patternSha256(1000003));
      assert.equal(r.headers['transfer-encoding'], q ? 'chunked' : undefined);
    }
  });

  test('raw client parses pipelined, chunked and 1xx responses; connection ids track reuse', async () => {
    const x = await rawExchange(e.port,
      'GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n' +
      'GET /bytes/10?chunked=1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n',
      { host: H, responses: 3, waitClose: 1000 });
    assert.equal(x.responses.length, 3);
    assert.equal(JSON.parse(x.responses[1].body).bodyLength, 3);
    assert.equal(x.responses[2].body.length, 10);
    assert.equal(JSON.parse(x.responses[0].body).connectionId, JSON.parse(x.responses[1].body).connectionId);
    assert.ok(x.closed);
    const c = await RawConn.connect(e.port, { host: H });
    await c.write('POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    assert.equal((await c.response(1)).statusCode, 100);
    await c.write('12345');
    assert.equal(JSON.parse((await c.response(2)).body).bodyLength, 5);
    c.destroy();
    const p = parseResponse(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab'));
    assert.equal(p, null);
  });

  test('WebSocket echo through the raw client', async () => {
    const w = await RawConn.connect(e.port, { host: H });
    const key = newKey();
    await w.write(`GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    const r = await w.response(1);
    assert.equal(r.statusCode, 101);
    assert.equal(r.headers['sec-websocket-accept'], acceptKey(key));
    const fr = new FrameReader();
    const got = [];
    w.sock.removeAllListeners('data');
    w.sock.on('data', (d) => got.push(...fr.push(d)));
    await w.write(encodeFrame(OP.TEXT, 'hi', true));
    await w.write(encodeFrame(OP.BINARY, Buffer.alloc(200000, 7), true));
    for (let i = 0; i < 50 && got.length < 2; i++) await new Promise((res) => setTimeout(res, 20));
    assert.equal(got[0].payload.toString(), 'hi');
    assert.equal(got[1].payload.length, 200000);
    w.destroy();
  });

  test('YAML writer output round-trips the values that matter', () => {
    const y = toYaml([ingress('a', { annotations: { 'nginx.ingress.kubernetes.io/proxy-body-size': '0' }, rules: [{ host: '*.x.test', paths: [{ path: '/', service: 's', port: 'http' }] }] })]);
    assert.match(y, /nginx\.ingress\.kubernetes\.io\/proxy-body-size: "0"/);
    assert.match(y, /- host: "\*\.x\.test"/);
    assert.match(y, /path: "\/"/);
    assert.match(y, /ingressClassName: tether/);
  });
});
