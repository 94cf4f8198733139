// The object store: every served object, the one global resourceVersion counter, and a bounded
// history of change events that watches replay from. All write semantics live here (uid,
// generation, status subresource rules, conflicts, no-op updates, dry runs), so the HTTP layer
// and the in-process JS API behave identically.
//
// Invariants: stored objects are never mutated after they are stored (every write stores a fresh
// copy), so history entries and watch queues can share them. Callers always get clones.
import { randomUUID } from 'node:crypto';
import { errors, ApiError } from './status.mjs';
import { clone, deepEqual, isObj, mergePatch, jsonPatch } from './patch.mjs';
import { strategicMergePatch } from './smp.mjs';
import { RESOURCES } from './resources.mjs';

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

// Top-level fields that are neither metadata nor status: what "spec changed" means for generation.
function specPart(o) {
  const r = {};
  for (const [k, v] of Object.entries(o)) if (!['metadata', 'status', 'kind', 'apiVersion'].includes(k)) r[k] = v;
  return r;
}

// Equality for no-op detection: resourceVersion and managedFields don't count.
function sameObject(a, b) {
  const strip = (o) => ({ ...o, metadata: { ...o.metadata, resourceVersion: undefined, managedFields: undefined } });
  return deepEqual(JSON.parse(JSON.stringify(strip(a))), JSON.parse(JSON.stringify(strip(b))));
}

export class Store {
  constructor({ historyLimit = 1000, rvStart = 100 } = {}) {
    this.counter = rvStart;
    // A watch from RV n can be served from history iff n >= floor: everything after floor is kept.
    this.floor = rvStart;
    this.historyLimit = historyLimit;
    this.history = [];                  // { rv, res, type, obj, prev } oldest first
    this.objects = new Map(RESOURCES.map((r) => [r.name, new Map()]));
    this.listeners = new Set();
    this.continueEpoch = 0;             // bumping it invalidates every continue token
    this.nextIP = 1;
  }

  rv() { return String(this.counter); }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  key(res, ns, name) { return res.namespaced ? `${ns}/${name}` : name; }

  get(res, ns, name) { return this.objects.get(res.name).get(this.key(res, ns, name)) || null; }

  // Matching objects sorted by key (etcd key order), as [key, obj] pairs.
  entries(res, ns, pred) {
    const all = [...this.objects.get(res.name).entries()]
      .filter(([, o]) => (!res.namespaced || !ns || o.metadata.namespace === ns) && (!pred || pred(o)));
    return all.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }

  // Compaction: forget all history so a watch from any RV issued so far is "too old". A revision
  // is consumed so the next LIST returns an RV that is watchable again.
  compact() {
    this.counter++;
    this.floor = this.counter;
    this.history = [];
  }

  commit(res, type, obj, prev) {
    this.counter++;
    const stored = clone(obj);
    stored.metadata.resourceVersion = String(this.counter);
    const map = this.objects.get(res.name);
    const k = this.key(res, stored.metadata.namespace, stored.metadata.name);
    if (type === 'DELETED') map.delete(k);
    else map.set(k, stored);
    const ev = { rv: this.counter, res: res.name, type, obj: stored, prev };
    this.history.push(ev);
    while (this.history.length > this.historyLimit) this.floor = this.history.shift().rv;
    for (const fn of [...this.listeners]) fn(ev);
    return stored;
  }

  // ---- normalisation shared by create and update ----

  checkTypeMeta(res, body) {
    if (!isObj(body)) throw errors.badRequest('the request body must be a JSON object');
    if (body.apiVersion !== undefined && body.apiVersion !== res.apiVersion) {
      throw errors.badRequest(`the API version in the data (${body.apiVersion}) does not match the expected API version (${res.apiVersion})`);
    }
    if (body.kind !== undefined && body.kind !== res.kind) {
      throw errors.badRequest(`the kind in the data (${body.kind}) does not match the expected kind (${res.kind})`);
    }
    if (body.metadata !== undefined && !isObj(body.metadata)) throw errors.badRequest('metadata must be an object');
  }

  // Server-side defaulting the real registries do that clients can observe.
  defaults(res, o, old) {
    o.kind = res.kind;
    o.apiVersion = res.apiVersion;
    o.metadata ??= {};
    if (res.kind === 'Secret') {
      o.type ??= 'Opaque';
      if (isObj(o.stringData)) {
        o.data = { ...(o.data || {}) };
        for (const [k, v] of Object.entries(o.stringData)) o.data[k] = Buffer.from(String(v)).toString('base64');
      }
      delete o.stringData;
    }
    if (res.kind === 'Service') {
      o.spec = isObj(o.spec) ? o.spec : {};
      const s = o.spec;
      s.type ??= 'ClusterIP';
      s.sessionAffinity ??= 'None';
      if (Array.isArray(s.ports)) {
        for (const p of s.ports) {
          if (!isObj(p)) continue;
          p.protocol ??= 'TCP';
          if (p.targetPort === undefined && p.port !== undefined) p.targetPort = p.port;
        }
      }
      if (s.type !== 'ExternalName') {
        if (!s.clusterIP && old?.spec?.clusterIP) { s.clusterIP = old.spec.clusterIP; s.clusterIPs = old.spec.clusterIPs; }
        if (!s.clusterIP) {
          const n = this.nextIP++;
          s.clusterIP = `10.96.${(n >> 8) & 255}.${n & 255}`;
        }
        s.clusterIPs ??= [s.clusterIP];
      }
    }
    if (res.kind === 'Deployment') {
      // apps/v1 SetDefaults_Deployment: what `kubectl get deploy -o yaml` shows for a bare manifest.
      o.spec = isObj(o.spec) ? o.spec : {};
      const s = o.spec;
      s.replicas ??= 1;
      s.revisionHistoryLimit ??= 10;
      s.progressDeadlineSeconds ??= 600;
      s.strategy ??= { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } };
    }
    if (res.kind === 'Namespace') {
      o.metadata.labels = { ...(o.metadata.labels || {}), 'kubernetes.io/metadata.name': o.metadata.name };
      o.spec ??= { finalizers: ['kubernetes'] };
    }
    if (res.status && o.status === undefined && res.defaultStatus) o.status = res.defaultStatus();
    // Field order as the real server prints it: kind, apiVersion, metadata, spec..., status.
    const { kind, apiVersion, metadata, status, ...rest } = o;
    const out = { kind, apiVersion, metadata, ...rest };
    if (status !== undefined) out.status = status;
    return out;
  }

  // ---- writes; opts: { dryRun, fromApi, keepStatus } ----

  create(res, ns, body, opts = {}) {
    this.checkTypeMeta(res, body);
    let o = clone(body);
    o.metadata = o.metadata || {};
    const m = o.metadata;
    if (res.namespaced) {
      if (m.namespace && ns && m.namespace !== ns) {
        throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      m.namespace = m.namespace || ns || 'default';
    } else {
      delete m.namespace;
    }
    if (!m.name && m.generateName) m.name = m.generateName + Math.random().toString(36).slice(2, 7);
    if (!m.name) throw errors.invalid(res, '', 'metadata.name: Required value: name or generateName is required');
    if (this.get(res, m.namespace, m.name)) throw errors.alreadyExists(res, m.name);
    m.uid = randomUUID();
    m.creationTimestamp = now();
    m.generation = 1;
    delete m.resourceVersion;
    delete m.deletionTimestamp;
    delete m.managedFields;
    // Over HTTP, create ignores status for types with a status subresource (registry PrepareForCreate).
    if (opts.fromApi && res.status) delete o.status;
    o = this.defaults(res, o, null);
    if (opts.dryRun) return { ...o, metadata: { ...o.metadata, resourceVersion: this.rv() } };
    return clone(this.commit(res, 'ADDED', o, null));
  }

  // Full replacement (PUT). subresource 'status' changes only status; otherwise status is kept for
  // types that have the subresource (unless opts.keepStatus === false, used by the JS apply()).
  update(res, ns, name, body, opts = {}) {
    this.checkTypeMeta(res, body);
    const old = this.get(res, ns, name);
    if (!old) throw errors.notFound(res, name);
    const bm = body.metadata || {};
    if (bm.name !== undefined && bm.name !== name) {
      throw errors.badRequest(`the name of the object (${bm.name}) does not match the name on the URL (${name})`);
    }
    if (res.namespaced && bm.namespace && bm.namespace !== old.metadata.namespace) {
      throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    if (bm.resourceVersion !== undefined && bm.resourceVersion !== '' && bm.resourceVersion !== old.metadata.resourceVersion) {
      throw errors.conflict(res, name);
    }
    let o;
    if (opts.subresource === 'status') {
      o = clone(old);
      if (body.status === undefined) delete o.status;
      else o.status = clone(body.status);
    } else {
      o = clone(body);
      o.metadata = clone(bm);
      if (res.status && opts.keepStatus !== false) {
        if (old.status === undefined) delete o.status;
        else o.status = clone(old.status);
      } else if (opts.keepStatus === false && o.status === undefined && old.status !== undefined) {
        o.status = clone(old.status);
      }
    }
    const m = o.metadata;
    m.name = name;
    if (res.namespaced) m.namespace = old.metadata.namespace;
    else delete m.namespace;
    m.uid = old.metadata.uid;
    m.creationTimestamp = old.metadata.creationTimestamp;
    m.generation = old.metadata.generation;
    m.resourceVersion = old.metadata.resourceVersion;
    delete m.managedFields;
    o = this.defaults(res, o, old);
    if (!deepEqual(JSON.parse(JSON.stringify(specPart(o))), specPart(old))) o.metadata.generation = (old.metadata.generation || 0) + 1;
    // The real apiserver skips the storage write (no new RV, no event) when nothing changed.
    if (sameObject(o, old)) return clone(old);
    if (opts.dryRun) return o;
    return clone(this.commit(res, 'MODIFIED', o, old));
  }

  // type: 'merge' | 'json' | 'strategic' | 'apply'. Returns { obj, created }.
  patch(res, ns, name, type, patchBody, opts = {}) {
    const old = this.get(res, ns, name);
    if (type === 'apply') return this.serverSideApply(res, ns, name, patchBody, old, opts);
    if (!old) throw errors.notFound(res, name);
    let next;
    if (type === 'merge') next = mergePatch(old, patchBody);
    else if (type === 'json') next = jsonPatch(old, patchBody);
    else if (type === 'strategic') next = strategicMergePatch(old, patchBody, res.kind);
    else throw errors.unsupportedMedia(`unsupported patch type ${type}`);
    if (!isObj(next)) throw new ApiError(422, 'the patched object is not a JSON object', { reason: 'Invalid' });
    // A resourceVersion in the patch is a precondition (it survives into |next| only if it differs).
    const rv = next.metadata?.resourceVersion;
    if (rv !== undefined && rv !== old.metadata.resourceVersion) throw errors.conflict(res, name);
    if (next.kind !== res.kind || next.apiVersion !== res.apiVersion) {
      throw errors.badRequest('a patch may not change kind or apiVersion');
    }
    return { obj: this.update(res, ns, name, next, opts), created: false };
  }

  // Single-manager approximation of server-side apply: upsert; the applied object's spec-like
  // fields, labels and annotations replace the live ones; status is kept (or, on /status, replaced).
  serverSideApply(res, ns, name, applied, old, opts) {
    this.checkTypeMeta(res, applied);
    if (applied.apiVersion === undefined || applied.kind === undefined) {
      throw errors.badRequest('apiVersion and kind must be set in an apply patch');
    }
    const am = applied.metadata || {};
    if (am.name !== undefined && am.name !== name) {
      throw errors.badRequest(`the name of the object (${am.name}) does not match the name on the URL (${name})`);
    }
    if (!old) {
      if (opts.subresource === 'status') throw errors.notFound(res, name);
      const body = clone(applied);
      body.metadata = { ...clone(am), name };
      return { obj: this.create(res, ns, body, { ...opts, fromApi: true }), created: true };
    }
    if (am.resourceVersion !== undefined && am.resourceVersion !== old.metadata.resourceVersion) {
      throw errors.conflict(res, name);
    }
    let next;
    if (opts.subresource === 'status') {
      next = { ...clone(old), status: clone(applied.status) };
    } else {
      next = { metadata: clone(old.metadata) };
      for (const [k, v] of Object.entries(applied)) if (k !== 'metadata' && k !== 'status') next[k] = clone(v);
      if (old.status !== undefined) next.status = clone(old.status);
      for (const f of ['labels', 'annotations']) {
        if (am[f] === undefined) delete next.metadata[f];
        else next.metadata[f] = clone(am[f]);
      }
      delete next.metadata.resourceVersion;
    }
    return { obj: this.update(res, ns, name, next, opts), created: false };
  }

  delete(res, ns, name, opts = {}) {
    const old = this.get(res, ns, name);
    if (!old) throw errors.notFound(res, name);
    const pre = opts.preconditions || {};
    if (pre.uid && pre.uid !== old.metadata.uid) {
      throw errors.conflict(res, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`);
    }
    if (pre.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) {
      throw errors.conflict(res, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`);
    }
    if (opts.dryRun) return clone(old);
    // DELETED carries the last state with the RV of the deletion itself.
    const gone = clone(this.commit(res, 'DELETED', old, old));
    // The namespace controller empties a deleted namespace; here it happens at once, after the
    // namespace's own DELETED event.
    if (res.kind === 'Namespace') {
      for (const r of RESOURCES) {
        if (!r.namespaced) continue;
        for (const [, o] of this.entries(r, name)) this.commit(r, 'DELETED', o, o);
      }
    }
    return gone;
  }

  // ---- LIST with paging ----

  encodeContinue(rv, lastKey) {
    return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start: lastKey, e: this.continueEpoch }))
      .toString('base64url');
  }

  // q: URLSearchParams; pred: selector predicate. Returns the List object (items without kind).
  list(res, ns, q, pred) {
    let listRV = this.counter;
    let after = null;
    const rvParam = q.get('resourceVersion') || '';
    const match = q.get('resourceVersionMatch') || '';
    const cont = q.get('continue') || '';
    if (rvParam !== '' && !/^[0-9]+$/.test(rvParam)) throw errors.badRequest(`invalid resource version "${rvParam}"`);
    if (cont) {
      if (rvParam !== '' && rvParam !== '0') {
        throw errors.badRequest('specifying resource version is not allowed when using continue');
      }
      let t;
      try {
        t = JSON.parse(Buffer.from(cont, 'base64url').toString());
      } catch {
        t = null;
      }
      if (!t || typeof t.rv !== 'number' || typeof t.start !== 'string') throw errors.badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
      if (t.e !== this.continueEpoch || t.rv < this.floor) {
        const e = errors.expired('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.');
        e.status.metadata = { continue: this.encodeContinue(this.counter, t.start) };
        throw e;
      }
      listRV = t.rv;
      after = t.start;
    } else if (rvParam !== '' && rvParam !== '0') {
      const n = Number(rvParam);
      if (n > this.counter) throw errors.tooLargeRV(n, this.counter);
      // Only the latest state is kept, so an exact read of an older RV is as good as compacted.
      if (match === 'Exact' && n !== this.counter) {
        throw errors.expired(`too old resource version: ${n} (${this.counter})`);
      }
      if (n < this.floor && match === 'Exact') throw errors.expired(`too old resource version: ${n} (${this.floor})`);
    }
    let rows = this.entries(res, ns, pred);
    if (after !== null) rows = rows.filter(([k]) => k > after);
    const limit = Number(q.get('limit') || 0);
    const meta = { resourceVersion: String(listRV) };
    if (limit > 0 && rows.length > limit) {
      const rest = rows.length - limit;
      rows = rows.slice(0, limit);
      meta.continue = this.encodeContinue(listRV, rows[rows.length - 1][0]);
      if (!pred?.any) meta.remainingItemCount = rest;
    }
    const items = rows.map(([, o]) => {
      const { kind, apiVersion, ...rest } = o;
      return clone(rest);
    });
    return { kind: `${res.kind}List`, apiVersion: res.apiVersion, metadata: meta, items };
  }
}
