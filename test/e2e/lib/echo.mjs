// Echo "pod" for the end-to-end tests: a node:http server on one loopback address that reports
// what it received (method, URL, headers, body digest, connection id), records every request for
// later assertions, and offers a few behaviours: /bytes/N, /delay/MS, /status/CODE, /close,
// /hang, and a WebSocket echo on Upgrade.
import http from 'node:http';
import { createHash } from 'node:crypto';
import { acceptKey, encodeFrame, FrameReader, OP } from './ws.mjs';

// Deterministic download content: a fixed 64 KiB block repeated. patternSha256(n) gives the digest.
const BLOCK = (() => {
  const b = Buffer.alloc(64 * 1024);
  let x = 0x12345678;
  for (let i = 0; i < b.length; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
})();

export function patternChunk(offset, len) {
  const out = Buffer.alloc(len);
  let o = 0;
  while (o < len) {
    const pos = (offset + o) % BLOCK.length;
    const n = Math.min(BLOCK.length - pos, len - o);
    BLOCK.copy(out, o, pos, pos + n);
    o += n;
  }
  return out;
}

export function patternSha256(n) {
  const h = createHash('sha256');
  let off = 0;
  while (off < n) {
    const len = Math.min(BLOCK.length, n - off);
    h.update(len === BLOCK.length ? BLOCK : BLOCK.subarray(0, len));
    off += len;
  }
  return h.digest('hex');
}

// Starts one echo pod. opts: host (127.0.0.x), name, port (0 = ephemeral), keepAliveTimeout (ms).
export async function startEcho(opts = {}) {
  const host = opts.host ?? '127.0.0.1';
  const name = opts.name ?? `pod-${host}`;
  let nextConn = 0;
  const stats = {
    requests: [], // every request head seen, in arrival order
    connections: 0, // accepted TCP connections
    clientErrors: [], // parse errors node reported (what tether sent that was not HTTP)
    upgrades: 0,
  };
  const sockets = new Set();
  const server = http.createServer({
    maxHeaderSize: 1024 * 1024,
    keepAliveTimeout: opts.keepAliveTimeout ?? 60_000,
    requestTimeout: 0,
    headersTimeout: 60_000,
  });
  server.keepAliveTimeout = opts.keepAliveTimeout ?? 60_000;
  server.on('connection', (sock) => {
    sock.connId = ++nextConn;
    stats.connections++;
    sockets.add(sock);
    sock.on('close', () => {
      sockets.delete(sock);
      sock.wasClosed = true;
    });
  });
  server.on('clientError', (err, sock) => {
    stats.clientErrors.push({ code: err.code, message: err.message, connectionId: sock.connId });
    sock.destroy();
  });

  function record(req) {
    const rec = {
      method: req.method,
      url: req.url,
      httpVersion: req.httpVersion,
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      connectionId: req.socket.connId,
      remoteAddress: req.socket.remoteAddress,
      remotePort: req.socket.remotePort,
      bodyLength: 0,
      bodySha256: null,
      complete: false,
      trailers: null,
    };
    const sock = req.socket;
    Object.defineProperty(rec, 'socketClosed', { enumerable: true, get: () => sock.wasClosed === true });
    stats.requests.push(rec);
    return rec;
  }

  function describe(req, rec) {
    return {
      pod: name,
      method: req.method,
      url: req.url,
      httpVersion: req.httpVersion,
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      bodyLength: rec.bodyLength,
      bodySha256: rec.bodySha256,
      firstMismatch: rec.firstMismatch,
      remoteAddress: req.socket.remoteAddress,
      remotePort: req.socket.remotePort,
      connectionId: req.socket.connId,
    };
  }

  function sendJson(res, code, obj) {
    const body = Buffer.from(JSON.stringify(obj));
    res.writeHead(code, {
      'content-type': 'application/json',
      'content-length': body.length,
      'x-pod': name,
    });
    res.end(body);
  }

  server.on('request', (req, res) => {
    const rec = record(req);
    const h = createHash('sha256');
    const url = new URL(req.url, 'http://x');
    const p = url.pathname;
    // ?verify=1: the body is expected to be patternChunk(0, n); note where it first differs.
    const verify = url.searchParams.get('verify') === '1';
    if (verify) rec.firstMismatch = null;
    req.on('data', (d) => {
      if (verify && rec.firstMismatch === null) {
        const want = patternChunk(rec.bodyLength, d.length);
        if (!want.equals(d)) {
          let i = 0;
          while (want[i] === d[i]) i++;
          rec.firstMismatch = { offset: rec.bodyLength + i, chunkStart: rec.bodyLength, chunkLength: d.length };
        }
      }
      if (rec.bodyLength === 0) rec.firstBodyByteAt = Date.now();
      rec.bodyLength += d.length;
      h.update(d);
    });
    const bodyDone = new Promise((resolve) => {
      req.on('end', () => {
        rec.bodySha256 = h.digest('hex');
        rec.complete = true;
        rec.trailers = req.trailers;
        resolve();
      });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
    });
    // ?pause=MS: stop reading the request body for a while (backpressure tests).
    const pause = Number(url.searchParams.get('pause') ?? 0);
    if (pause > 0) {
      req.pause();
      setTimeout(() => req.resume(), pause);
    }
    // ?close=1: answer with Connection: close (the proxy must not reuse this connection).
    if (url.searchParams.get('close') === '1') res.setHeader('connection', 'close');
    let m;
    if (p === '/close') {
      req.socket.destroy();
      return;
    }
    if ((m = /^\/eof\/(\d+)$/.exec(p))) {
      // A response framed by closing the connection (no Content-Length, not chunked).
      const n = Number(m[1]);
      bodyDone.then(() => {
        req.socket.end(Buffer.concat([
          Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nX-Pod: ${name}\r\nConnection: close\r\n\r\n`),
          patternChunk(0, n),
        ]));
      });
      return;
    }
    if ((m = /^\/truncate\/(\d+)$/.exec(p))) {
      // Promises N bytes, sends half of them, then drops the connection.
      const n = Number(m[1]);
      bodyDone.then(() => {
        req.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${n}\r\nX-Pod: ${name}\r\n\r\n`);
        req.socket.write(patternChunk(0, Math.floor(n / 2)), () => setTimeout(() => req.socket.destroy(), 50));
      });
      return;
    }
    if ((m = /^\/stream\/(\d+)\/(\d+)$/.exec(p))) {
      // N chunks, one every MS milliseconds (server-sent-events style).
      const n = Number(m[1]);
      const ms = Number(m[2]);
      bodyDone.then(async () => {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'x-pod': name });
        for (let i = 0; i < n && !res.destroyed; i++) {
          res.write(`data: ${i}\n\n`);
          await new Promise((r) => setTimeout(r, ms));
        }
        res.end();
      });
      return;
    }
    if (p === '/hang') {
      req.resume();
      return;
    }
    if ((m = /^\/bytes\/(\d+)$/.exec(p))) {
      const n = Number(m[1]);
      const chunked = url.searchParams.get('chunked') === '1';
      req.resume();
      bodyDone.then(async () => {
        const headers = { 'content-type': 'application/octet-stream', 'x-pod': name };
        if (!chunked) headers['content-length'] = n;
        res.writeHead(200, headers);
        let off = 0;
        let closed = false;
        res.on('close', () => { closed = true; });
        while (off < n && !closed) {
          const len = Math.min(BLOCK.length, n - off);
          const ok = res.write(patternChunk(off, len));
          off += len;
          if (!ok) {
            await new Promise((r) => {
              const done = () => { res.off('drain', done); res.off('close', done); r(); };
              res.on('drain', done);
              res.on('close', done);
            });
          }
        }
        if (!closed) res.end();
      });
      return;
    }
    if ((m = /^\/delay\/(\d+)$/.exec(p))) {
      const ms = Number(m[1]);
      bodyDone.then(() => setTimeout(() => {
        if (!res.destroyed) sendJson(res, 200, describe(req, rec));
      }, ms));
      return;
    }
    if ((m = /^\/status\/(\d{3})$/.exec(p))) {
      const code = Number(m[1]);
      bodyDone.then(() => {
        const body = Buffer.from(`status ${code} from ${name}\n`);
        const noBody = code === 204 || code === 304;
        res.writeHead(code, noBody ? { 'x-pod': name } : { 'content-type': 'text/plain', 'content-length': body.length, 'x-pod': name });
        res.end(noBody ? undefined : body);
      });
      return;
    }
    if (p === '/cookies') {
      bodyDone.then(() => {
        res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT', 'c=3']);
        res.setHeader('x-pod', name);
        res.setHeader('content-length', 2);
        res.end('ok');
      });
      return;
    }
    if (p === '/headers') {
      // Response with hop-by-hop headers that a proxy must not pass on to the client.
      bodyDone.then(() => {
        res.writeHead(200, {
          'content-type': 'text/plain',
          'x-pod': name,
          'keep-alive': 'timeout=5, max=7777',
          'x-upstream-private': 'secret',
          connection: 'keep-alive, x-upstream-private',
          'content-length': 2,
        });
        res.end('ok');
      });
      return;
    }
    bodyDone.then(() => sendJson(res, 200, describe(req, rec)));
  });

  // WebSocket echo: answer the handshake, then echo every data frame back (unmasked).
  server.on('upgrade', (req, sock, head) => {
    const rec = record(req);
    rec.complete = true;
    stats.upgrades++;
    const key = req.headers['sec-websocket-key'];
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket' || !key) {
      sock.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    sock.write(
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${acceptKey(key)}\r\nX-Pod: ${name}\r\n\r\n`,
    );
    const reader = new FrameReader();
    const onData = (d) => {
      let frames;
      try {
        frames = reader.push(d);
      } catch {
        sock.destroy();
        return;
      }
      for (const f of frames) {
        if (f.opcode === OP.CLOSE) {
          sock.end(encodeFrame(OP.CLOSE, f.payload, false));
          return;
        }
        if (f.opcode === OP.PING) {
          sock.write(encodeFrame(OP.PONG, f.payload, false));
          continue;
        }
        if (!f.masked) {
          // RFC 6455 §5.1: a server must close on an unmasked client frame.
          sock.destroy();
          return;
        }
        if (f.opcode === OP.TEXT && f.payload.toString() === 'whoami') {
          sock.write(encodeFrame(OP.TEXT, name, false));
          continue;
        }
        sock.write(encodeFrame(f.opcode, f.payload, false));
      }
    };
    sock.on('data', onData);
    sock.on('error', () => {});
    // http.Server sockets allow half-open connections: finish our side when the peer does.
    sock.on('end', () => sock.end());
    if (head && head.length) onData(head);
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: opts.port ?? 0, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = server.address().port;

  return {
    host,
    port,
    name,
    addr: `${host}:${port}`,
    stats,
    // Requests whose URL matches (string: exact path or path+query; RegExp).
    seen(match) {
      return stats.requests.filter((r) =>
        match instanceof RegExp ? match.test(r.url) : r.url === match || r.url.split('?')[0] === match,
      );
    },
    reset() {
      stats.requests.length = 0;
      stats.clientErrors.length = 0;
    },
    // Number of TCP connections (HTTP or upgraded) currently open.
    openSockets() {
      return sockets.size;
    },
    // Destroys open connections (simulates a pod closing its keep-alive connections).
    dropConnections() {
      for (const s of sockets) s.destroy();
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(() => r()));
    },
  };
}
