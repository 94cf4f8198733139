// Fault switches: the ways a test can make the stand-in misbehave like a real, imperfect API
// server. The object doubles as the state the HTTP handler and the watch pump consult, so a
// switch takes effect on the next request or the next byte written. Every switch is listed in
// README.md; faults.reset() turns all of them off.
import { errors, ApiError } from './status.mjs';

export class Faults {
  // hooks: { hub, store, stopListening(), startListening() → Promise, setBadCert(bool) }
  constructor(hooks) {
    this.hooks = hooks;
    this.clearState();
  }

  clearState() {
    this.dripDelayMs = 5;       // pause between the pieces of a split event
    this.coalesceMs = 50;       // how long events are buffered before one combined chunk
    this.splitBytes = 0;
    this.coalesceOn = false;
    this.silencedUntil = 0;
    this.watchErrors = [];      // HTTP codes for the next watch requests' in-stream ERROR
    this.failRules = [];        // { remaining, status, retryAfter, path, method, reason, message }
  }

  // ---- consulted by the handler and the watch hub ----

  takeWatchError() {
    return this.watchErrors.length ? this.watchErrors.shift() : 0;
  }

  // Returns the ApiError to answer this request with, or null.
  takeFailure(method, pathAndQuery) {
    for (const r of this.failRules) {
      if (r.remaining <= 0) continue;
      if (r.path && !matchPath(r.path, pathAndQuery)) continue;
      if (r.method && r.method.toUpperCase() !== method) continue;
      r.remaining--;
      this.failRules = this.failRules.filter((x) => x.remaining > 0);
      // 504 without a message mimics the real "Too large resource version" answer.
      const e = r.status === 504 && !r.message ? errors.tooLargeRV(this.hooks.store.counter + 1, this.hooks.store.counter)
        : new ApiError(r.status, r.message || `injected fault: ${r.status}`, { reason: r.reason });
      if (r.retryAfter !== undefined) {
        e.headers = { ...e.headers, 'Retry-After': String(r.retryAfter) };
        e.status.details = { ...(e.status.details || {}), retryAfterSeconds: Number(r.retryAfter) };
      }
      return e;
    }
    return null;
  }

  // ---- the switches ----

  // Ends every open watch now. Default: TCP close without the terminating chunk.
  // { reset: true } sends an RST; { partial: true } writes half an event first; { clean: true }
  // ends properly with the terminating chunk (like a server-side timeout). Returns the count.
  dropStreams(opts = {}) {
    const how = opts.reset ? 'reset' : opts.partial ? 'partial' : opts.clean ? 'clean' : 'fin';
    return this.hooks.hub.drop(how);
  }

  // In-stream ERROR (410 Expired by default, or e.g. 500) on every open watch, then a clean end.
  errorStreams(code = 410) {
    return this.hooks.hub.errorAll(code);
  }

  // Compaction: a watch from any RV handed out so far gets 200 + ERROR 410; continue tokens issued
  // so far expire too. A fresh LIST gives a watchable RV again.
  expireHistory() {
    this.hooks.store.compact();
  }

  // The next n watch requests get 200 + one ERROR event (410 Expired) and are closed.
  forceWatch410(n = 1) {
    this.forceWatchError(n, 410);
  }

  forceWatchError(n = 1, code = 500) {
    for (let i = 0; i < n; i++) this.watchErrors.push(code);
  }

  // The next n requests (optionally only those whose path+query matches opts.path, a RegExp or
  // a substring, and whose method is opts.method) are answered with |status| and a Status body;
  // opts.retryAfter adds Retry-After; opts.reason/message override the Status fields.
  failNext(n = 1, status = 503, opts = {}) {
    this.failRules.push({ remaining: n, status, ...opts });
  }

  // Every watch event is written in pieces of at most |bytes| bytes, one chunk each, with
  // dripDelayMs between pieces. 0 turns it off.
  splitChunks(bytes) {
    this.splitBytes = Math.max(0, bytes | 0);
  }

  // Buffer watch events for coalesceMs and write them together as one chunk.
  coalesce(on = true, ms) {
    this.coalesceOn = !!on;
    if (ms !== undefined) this.coalesceMs = ms;
  }

  // Hold every watch event back for |ms| (streams stay open and silent), then release them.
  silence(ms) {
    this.silencedUntil = Date.now() + ms;
  }

  // Stop listening (and drop every connection) for |ms|, then listen on the same port again with
  // the same state. Without ms, stays down until acceptConnections() or reset(). Returns a
  // promise that resolves when the port accepts connections again.
  refuseConnections(ms) {
    return this.hooks.refuse(ms);
  }

  acceptConnections() {
    const p = this.hooks.accept();
    p.catch(() => {});          // a caller that does not await must not crash the process
    return p;
  }

  expireContinueTokens() {
    this.hooks.store.continueEpoch++;
  }

  // Serve a certificate the exposed CA did not sign (TLS only). New connections see it.
  badCert(on = true) {
    this.hooks.setBadCert(!!on);
  }

  reset() {
    this.clearState();
    this.hooks.setBadCert(false, true);
    this.acceptConnections();
  }
}

// opts.path may be a RegExp or a substring.
function matchPath(p, s) {
  if (typeof p === 'string') return s.includes(p);
  p.lastIndex = 0;
  return p.test(s);
}
