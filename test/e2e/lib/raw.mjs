// Raw-socket HTTP/1.1 client for the end-to-end tests: send exact bytes (smuggling vectors,
// pipelining, partial heads), parse the responses that come back, notice when the peer closes.
import net from 'node:net';
import { SLOW } from './tether.mjs';

const CRLF = Buffer.from('\r\n');

// Tries to parse one response at buf[off..]. Returns {resp, end} or null if incomplete.
// `closed` finalizes a read-until-close body. `headRequest` marks a response without body.
export function parseResponse(buf, off = 0, closed = false, headRequest = false) {
  const headEnd = buf.indexOf('\r\n\r\n', off);
  if (headEnd < 0) return null;
  const head = buf.subarray(off, headEnd).toString('latin1');
  const lines = head.split('\r\n');
  const m = /^HTTP\/(\d\.\d) (\d{3})(?: (.*))?$/.exec(lines[0]);
  if (!m) throw new Error(`bad status line: ${JSON.stringify(lines[0])}`);
  const statusCode = Number(m[2]);
  const headers = {};
  const rawHeaders = [];
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) throw new Error(`bad header line: ${JSON.stringify(line)}`);
    const k = line.slice(0, i).toLowerCase();
    const v = line.slice(i + 1).trim();
    rawHeaders.push([line.slice(0, i), v]);
    headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
  }
  let pos = headEnd + 4;
  const resp = { httpVersion: m[1], statusCode, reason: m[3] ?? '', headers, rawHeaders, body: Buffer.alloc(0) };
  if ((statusCode >= 100 && statusCode < 200) || statusCode === 204 || statusCode === 304 || headRequest) {
    return { resp, end: pos };
  }
  const te = headers['transfer-encoding'];
  if (te && /chunked\s*$/i.test(te)) {
    const parts = [];
    for (;;) {
      const le = buf.indexOf(CRLF, pos);
      if (le < 0) return null;
      const size = parseInt(buf.subarray(pos, le).toString('latin1').split(';')[0].trim(), 16);
      if (Number.isNaN(size)) throw new Error('bad chunk size');
      pos = le + 2;
      if (size === 0) {
        // trailers until an empty line
        for (;;) {
          const te2 = buf.indexOf(CRLF, pos);
          if (te2 < 0) return null;
          const empty = te2 === pos;
          pos = te2 + 2;
          if (empty) break;
        }
        break;
      }
      if (buf.length < pos + size + 2) return null;
      parts.push(buf.subarray(pos, pos + size));
      pos += size + 2;
    }
    resp.body = Buffer.concat(parts);
    return { resp, end: pos };
  }
  if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    if (buf.length < pos + n) return null;
    resp.body = Buffer.from(buf.subarray(pos, pos + n));
    return { resp, end: pos + n };
  }
  if (!closed) return null;
  resp.body = Buffer.from(buf.subarray(pos));
  resp.untilClose = true;
  return { resp, end: buf.length };
}

// One raw connection. Responses are queued as they are parsed.
export class RawConn {
  static connect(port, opts = {}) {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ port, host: opts.host ?? '127.0.0.1', localAddress: opts.localAddress });
      const c = new RawConn(sock);
      sock.once('connect', () => resolve(c));
      sock.once('error', (e) => { if (!c.connected) reject(e); });
    });
  }

  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.off = 0;
    this.responses = [];
    this.closed = false;
    this.error = null;
    this.waiters = new Set();
    this.headRequests = 0; // responses still expected to be bodiless (HEAD): set before writing
    sock.on('connect', () => { this.connected = true; });
    sock.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this._parse();
    });
    sock.on('error', (e) => { this.error = e; });
    sock.on('close', () => {
      this.closed = true;
      this._parse();
      this._wake();
    });
  }

  _parse() {
    for (;;) {
      let r;
      try {
        r = parseResponse(this.buf, this.off, this.closed, this.headRequests > 0);
      } catch (e) {
        this.parseError = e;
        break;
      }
      if (!r) break;
      this.responses.push(r.resp);
      this.off = r.end;
      if (this.headRequests > 0 && r.resp.statusCode >= 200) this.headRequests--;
      if (r.resp.untilClose) break;
    }
    this._wake();
  }

  _wake() {
    for (const w of [...this.waiters]) w();
  }

  _wait(pred, timeout) {
    return new Promise((resolve) => {
      const check = () => {
        if (pred()) { cleanup(); resolve(true); return true; }
        return false;
      };
      const timer = setTimeout(() => { cleanup(); resolve(false); }, timeout);
      const cleanup = () => { clearTimeout(timer); this.waiters.delete(check); };
      if (!check()) this.waiters.add(check);
    });
  }

  write(data) {
    return new Promise((resolve) => {
      if (this.closed || this.sock.destroyed) return resolve(false);
      this.sock.write(data, (err) => resolve(!err));
    });
  }

  // Waits for the n-th response overall (1-based count); returns it or null on timeout/close.
  async response(n, timeout = 5000 * SLOW) {
    await this._wait(() => this.responses.length >= n || this.closed, timeout);
    return this.responses[n - 1] ?? null;
  }

  // Next response with a final (non-1xx) status after `after` responses already consumed.
  async waitResponses(n, timeout = 5000 * SLOW) {
    await this._wait(() => this.responses.length >= n || this.closed, timeout);
    return this.responses.slice(0, n);
  }

  // True if the peer closed the connection within `timeout` ms.
  async waitClose(timeout = 3000 * SLOW) {
    return this._wait(() => this.closed, timeout);
  }

  // Bytes received after the last parsed response.
  get rest() {
    return this.buf.subarray(this.off);
  }

  destroy() {
    this.sock.destroy();
  }
}

// Sends `data` (Buffer/string, or an array of parts with optional {delay} objects between them),
// then collects responses until `responses` are complete, the peer closes, or timeout.
// Options: waitClose (ms) — after the responses, also wait that long to see whether it closes.
export async function rawExchange(port, data, opts = {}) {
  const c = await RawConn.connect(port, opts);
  try {
    const parts = Array.isArray(data) ? data : [data];
    for (const p of parts) {
      if (p && typeof p === 'object' && 'delay' in p) {
        await new Promise((r) => setTimeout(r, p.delay));
      } else {
        await c.write(p);
      }
    }
    const timeout = opts.timeout ?? 5000 * SLOW;
    const want = opts.responses ?? 1;
    await c._wait(() => c.responses.length >= want || c.closed, timeout);
    let closed = c.closed;
    if (!closed && opts.waitClose) closed = await c.waitClose(opts.waitClose);
    return {
      responses: c.responses,
      closed,
      raw: c.buf,
      rest: c.rest,
      error: c.error,
      parseError: c.parseError,
    };
  } finally {
    c.destroy();
  }
}
