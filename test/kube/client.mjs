// Minimal clients for talking to a stand-in from tests without kubectl: request() for one JSON
// exchange, and RawWatch, which reads a watch over a bare socket and keeps the HTTP chunk
// boundaries, whether the terminating chunk arrived, and how the connection ended — the things
// the stream fault switches change and node:http would hide.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';

function caOf(kube, opts) {
  if (opts.ca !== undefined) return opts.ca || undefined;
  return kube.caFile ? readFileSync(kube.caFile) : undefined;
}

function authHeader(kube, opts) {
  const t = opts.token !== undefined ? opts.token : kube.token;
  return t ? { Authorization: `Bearer ${t}` } : {};
}

// request(kube, 'GET', '/api/v1/namespaces', { body, contentType, token, headers, ca })
// → { status, headers, text, json }. token: undefined = the accepted one, null = none.
// Rejects only on transport errors (refused connection, TLS verification failure).
export function request(kube, method, path, opts = {}) {
  const url = new URL(path, kube.url);
  const body = opts.body === undefined ? null
    : Buffer.from(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body));
  const headers = { Accept: 'application/json', ...authHeader(kube, opts), ...(opts.headers || {}) };
  if (body) {
    headers['Content-Type'] = opts.contentType || 'application/json';
    headers['Content-Length'] = body.length;
  }
  const mod = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { method, headers, agent: false, ca: caOf(kube, opts), timeout: opts.timeoutMs || 10000 }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString();
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

export class RawWatch {
  constructor() {
    this.status = 0;
    this.headers = {};
    this.chunks = [];          // Buffer per HTTP chunk, in arrival order
    this.events = [];          // parsed {type, object} lines
    this.partial = '';         // bytes after the last newline
    this.terminated = false;   // saw the 0-size terminating chunk
    this.closed = false;
    this.error = null;         // e.g. ECONNRESET
    this.body = '';            // whole body of a non-chunked (error) answer
    this.buf = Buffer.alloc(0);
    this.state = 'head';
    this.waiters = new Set();
  }

  feed(data) {
    this.buf = Buffer.concat([this.buf, data]);
    for (;;) {
      if (this.state === 'head') {
        const i = this.buf.indexOf('\r\n\r\n');
        if (i < 0) break;
        const lines = this.buf.subarray(0, i).toString().split('\r\n');
        this.status = Number(lines[0].split(' ')[1]);
        for (const l of lines.slice(1)) {
          const c = l.indexOf(':');
          this.headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
        }
        this.buf = this.buf.subarray(i + 4);
        this.state = /chunked/i.test(this.headers['transfer-encoding'] || '') ? 'size' : 'plain';
      } else if (this.state === 'plain') {
        this.body += this.buf.toString();
        this.buf = Buffer.alloc(0);
        break;
      } else if (this.state === 'size') {
        const i = this.buf.indexOf('\r\n');
        if (i < 0) break;
        const size = parseInt(this.buf.subarray(0, i).toString(), 16);
        if (size === 0) { this.terminated = true; this.state = 'done'; break; }
        if (this.buf.length < i + 2 + size + 2) break;
        const chunk = this.buf.subarray(i + 2, i + 2 + size);
        this.buf = this.buf.subarray(i + 2 + size + 2);
        this.chunks.push(Buffer.from(chunk));
        this.partial += chunk.toString();
        let nl;
        while ((nl = this.partial.indexOf('\n')) >= 0) {
          this.events.push(JSON.parse(this.partial.slice(0, nl)));
          this.partial = this.partial.slice(nl + 1);
        }
      } else {
        break;
      }
    }
    this.notify();
  }

  notify() {
    for (const w of [...this.waiters]) w();
  }

  // Resolves once pred(this) is true; rejects after ms with what was seen so far.
  until(pred, ms = 3000, what = 'condition') {
    if (pred(this)) return Promise.resolve(this);
    return new Promise((resolve, reject) => {
      const check = () => {
        if (pred(this)) { cleanup(); resolve(this); }
      };
      const t = setTimeout(() => {
        cleanup();
        reject(new Error(`watch: timed out waiting for ${what}; status ${this.status}, events ${JSON.stringify(this.events.map((e) => e.type))}, closed ${this.closed}`));
      }, ms);
      const cleanup = () => { clearTimeout(t); this.waiters.delete(check); };
      this.waiters.add(check);
    });
  }

  waitEvents(n, ms) { return this.until((w) => w.events.length >= n, ms, `${n} events`); }
  waitClosed(ms) { return this.until((w) => w.closed, ms, 'close'); }

  close() {
    this.sock?.destroy();
  }
}

// Opens GET |path| (a watch URL) on a bare socket. Resolves once connected; events arrive later.
export function rawWatch(kube, path, opts = {}) {
  const w = new RawWatch();
  const url = new URL(path, kube.url);
  const head = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`, 'Accept: application/json',
    'Connection: close', ...Object.entries(authHeader(kube, opts)).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
  return new Promise((resolve, reject) => {
    const onConnect = () => { sock.write(head); resolve(w); };
    const sock = url.protocol === 'https:'
      ? tls.connect({ host: url.hostname, port: Number(url.port), ca: caOf(kube, opts) }, onConnect)
      : net.connect({ host: url.hostname, port: Number(url.port) }, onConnect);
    w.sock = sock;
    sock.on('data', (d) => w.feed(d));
    sock.on('error', (e) => { w.error = e; reject(e); w.notify(); });
    sock.on('close', () => { w.closed = true; w.notify(); });
  });
}
