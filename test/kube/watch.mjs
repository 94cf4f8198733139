// Watch streams: a chunked application/json response of {"type","object"}\n lines per open
// watch. The hub turns store events into per-watcher events (namespace and selector filtering,
// with objects that stop matching becoming DELETED like the apiserver's cacheWatcher), replays
// history from a resourceVersion, and sends bookmarks. Each watcher writes through a small pump so
// the stream faults (split/drip, coalesce, silence) apply to every byte it sends.
import { errors, statusBody } from './status.mjs';

const line = (type, object) => JSON.stringify({ type, object }) + '\n';

export function tooOldStatus(rv, oldest) {
  return statusBody(410, `too old resource version: ${rv} (${oldest})`, { reason: 'Expired' });
}

class Watcher {
  constructor(hub, httpRes, res, ns, pred, bookmarks) {
    this.hub = hub;
    this.httpRes = httpRes;
    this.res = res;
    this.ns = ns;
    this.pred = pred;
    this.bookmarks = bookmarks;
    this.queue = [];
    this.busy = false;
    this.closed = false;
    this.endAfterDrain = false;
    this.timers = [];
    this.wake = null;                 // resolves the pump's current sleep early on close
  }

  matches(o) {
    return !!o && (!this.ns || o.metadata.namespace === this.ns) && this.pred(o);
  }

  // Store event → the event this watcher should see, or null.
  translate(ev) {
    if (ev.res !== this.res.name) return null;
    if (ev.type === 'ADDED') return this.matches(ev.obj) ? line('ADDED', ev.obj) : null;
    if (ev.type === 'DELETED') return this.matches(ev.obj) ? line('DELETED', ev.obj) : null;
    const now = this.matches(ev.obj), before = this.matches(ev.prev);
    if (now && before) return line('MODIFIED', ev.obj);
    if (now) return line('ADDED', ev.obj);
    if (before) {
      // cacheWatcher: the previous state, stamped with the RV of the change that hid it.
      const gone = { ...ev.prev, metadata: { ...ev.prev.metadata, resourceVersion: String(ev.rv) } };
      return line('DELETED', gone);
    }
    return null;
  }

  bookmarkLine(extraMeta = {}) {
    return line('BOOKMARK', { kind: this.res.kind, apiVersion: this.res.apiVersion,
      metadata: { resourceVersion: this.hub.store.rv(), ...extraMeta } });
  }

  enqueue(l) {
    if (this.closed) return;
    this.queue.push(l);
    this.pump();
  }

  sleep(ms) {
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.wake = null; resolve(); }, Math.max(0, ms));
      this.wake = () => { clearTimeout(t); this.wake = null; resolve(); };
    });
  }

  async write(data) {
    const f = this.hub.faults;
    if (!f.splitBytes) {
      this.httpRes.write(data);
      return;
    }
    const buf = Buffer.from(data);
    for (let i = 0; i < buf.length && !this.closed; i += f.splitBytes) {
      this.httpRes.write(buf.subarray(i, i + f.splitBytes));
      if (i + f.splitBytes < buf.length) await this.sleep(f.dripDelayMs);
    }
  }

  async pump() {
    if (this.busy || this.closed) return;
    this.busy = true;
    const f = this.hub.faults;
    while (this.queue.length && !this.closed) {
      const hold = f.silencedUntil - Date.now();
      if (hold > 0) { await this.sleep(hold); continue; }
      if (f.coalesceOn) {
        await this.sleep(f.coalesceMs);
        if (this.closed) break;
        await this.write(this.queue.splice(0).join(''));
        continue;
      }
      await this.write(this.queue.shift());
    }
    this.busy = false;
    if (this.endAfterDrain && !this.closed && this.queue.length === 0) this.finish('clean');
  }

  // how: 'clean' (terminating chunk), 'fin' (TCP close without it), 'reset' (RST),
  // 'partial' (half an event, then TCP close), 'gone' (client went away; nothing to send).
  finish(how = 'clean') {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t), clearInterval(t);
    this.timers = [];
    this.wake?.();
    this.hub.watchers.delete(this);
    const sock = this.httpRes.socket;
    if (how === 'clean') this.httpRes.end();
    else if (how === 'reset') {
      // Over TLS the RST must go out on the underlying TCP socket (resetAndDestroy needs a TCP handle).
      const raw = sock?._parent || sock;
      raw?.resetAndDestroy();
      if (raw !== sock) sock?.destroy();
    }
    else if (how === 'partial') {
      this.httpRes.write(`{"type":"MODIFIED","object":{"kind":"${this.res.kind}","apiVersion":"${this.res.apiVersion}","metadata":{"name":"`);
      sock?.end();
    } else if (how === 'fin') sock?.end();
  }
}

export class WatchHub {
  constructor(store, faults, { bookmarkIntervalMs = 60000 } = {}) {
    this.store = store;
    this.faults = faults;
    this.bookmarkIntervalMs = bookmarkIntervalMs;
    this.watchers = new Set();
    this.unsubscribe = store.subscribe((ev) => {
      for (const w of this.watchers) {
        const l = w.translate(ev);
        if (l) w.enqueue(l);
      }
    });
  }

  count(resName) {
    let n = 0;
    for (const w of this.watchers) if (!resName || w.res.name === resName) n++;
    return n;
  }

  // Validates the request (pre-stream errors throw ApiError and become plain HTTP errors), then
  // starts the 200 stream.
  serve(httpRes, res, ns, q, pred) {
    const store = this.store;
    const rvParam = q.get('resourceVersion') || '';
    if (rvParam !== '' && !/^[0-9]+$/.test(rvParam)) throw errors.badRequest(`invalid resource version "${rvParam}"`);
    const n = rvParam === '' ? 0 : Number(rvParam);
    if (n > store.counter) throw errors.tooLargeRV(n, store.counter);
    const sendInitial = q.get('sendInitialEvents') === 'true';
    const bookmarks = ['true', '1'].includes(q.get('allowWatchBookmarks'));
    const timeout = Number(q.get('timeoutSeconds') || 0);

    // Headers go out now, before any event, as the apiserver flushes them immediately.
    httpRes.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked' });
    httpRes.flushHeaders();
    httpRes.socket?.setNoDelay(true);

    const w = new Watcher(this, httpRes, res, ns, pred, bookmarks);
    w.startRV = n;
    this.watchers.add(w);
    httpRes.on('close', () => w.finish('gone'));

    const forced = this.faults.takeWatchError();
    if (forced) {
      const st = forced === 410 ? tooOldStatus(n, store.counter)
        : statusBody(forced, `injected watch error ${forced}`);
      w.endAfterDrain = true;
      w.enqueue(line('ERROR', st));
      return;
    }
    if (n !== 0 && n < store.floor && !sendInitial) {
      w.endAfterDrain = true;
      w.enqueue(line('ERROR', tooOldStatus(n, store.floor)));
      return;
    }
    if (n === 0 || sendInitial) {
      for (const [, o] of store.entries(res, ns, pred)) w.enqueue(line('ADDED', o));
    } else {
      for (const ev of store.history) {
        if (ev.rv <= n) continue;
        const l = w.translate(ev);
        if (l) w.enqueue(l);
      }
    }
    if (sendInitial && bookmarks) w.enqueue(w.bookmarkLine({ annotations: { 'k8s.io/initial-events-end': 'true' } }));
    if (timeout > 0) w.timers.push(setTimeout(() => w.finish('clean'), timeout * 1000));
    if (bookmarks && this.bookmarkIntervalMs > 0) {
      w.timers.push(setInterval(() => w.enqueue(w.bookmarkLine()), this.bookmarkIntervalMs));
    }
  }

  bookmark() {
    let n = 0;
    for (const w of this.watchers) if (w.bookmarks) { w.enqueue(w.bookmarkLine()); n++; }
    return n;
  }

  // Sends an in-stream ERROR on every open watch, then closes each stream cleanly.
  errorAll(code = 410) {
    const n = this.watchers.size;
    for (const w of [...this.watchers]) {
      const st = code === 410 ? tooOldStatus(w.startRV, this.store.counter) : statusBody(code, `injected watch error ${code}`);
      w.endAfterDrain = true;
      w.enqueue(line('ERROR', st));
    }
    return n;
  }

  drop(how) {
    const n = this.watchers.size;
    for (const w of [...this.watchers]) w.finish(how);
    return n;
  }

  close() {
    this.unsubscribe();
    this.drop('clean');
  }
}
