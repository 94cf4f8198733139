// The HTTP front: request log, health endpoints, bearer-token check, injected failures, then
// routing of /version, discovery, OpenAPI and the resource URL space (§1.1 of the API notes) to
// the store and the watch hub. Every error leaves as a metav1.Status body.
import { randomUUID } from 'node:crypto';
import { ApiError, errors, statusBody } from './status.mjs';
import { resourceFor } from './resources.mjs';
import { selectorFor } from './selectors.mjs';
import { versionInfo, apiVersions } from './discovery.mjs';
import { handleScale } from './scale.mjs';

const MAX_BODY = 10 * 1024 * 1024;
const HEALTH = new Set(['/healthz', '/readyz', '/livez']);
// Paths the real server lets anonymous clients read (system:public-info-viewer).
const PUBLIC = new Set(['/version', '/healthz', '/readyz', '/livez']);

const PATCH_TYPES = {
  'application/merge-patch+json': 'merge',
  'application/json-patch+json': 'json',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
  'application/apply-patch+cbor': 'apply-cbor',
};

function send(res, code, body, headers = {}) {
  if (res.headersSent) { res.end(); return; }
  const data = JSON.stringify(body) + '\n';
  res.writeHead(code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private',
    'Audit-Id': randomUUID(), 'Content-Length': Buffer.byteLength(data), ...headers });
  res.end(data);
}

function sendError(res, e) {
  if (e instanceof ApiError) send(res, e.code, e.status, e.headers);
  else send(res, 500, statusBody(500, `internal error: ${e && e.message}`));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const parts = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n > MAX_BODY) { reject(new ApiError(413, 'Request entity too large: limit is 10485760')); req.destroy(); return; }
      parts.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

function parseJSON(buf, what = 'request body') {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (e) {
    throw errors.badRequest(`the ${what} could not be decoded as JSON: ${e.message}`);
  }
}

const mediaType = (h) => (h || '').split(';')[0].trim().toLowerCase();

function writeOptions(q, body) {
  const dry = q.getAll('dryRun');
  for (const d of dry) if (d !== 'All') throw errors.badRequest(`Invalid dry run value: ${d}`);
  const fv = q.get('fieldValidation');
  if (fv && !['Ignore', 'Warn', 'Strict'].includes(fv)) {
    throw errors.badRequest(`fieldValidation parameter unsupported: ${fv}`);
  }
  const bodyDry = body && Array.isArray(body.dryRun) && body.dryRun.includes('All');
  return { dryRun: dry.length > 0 || bodyDry };
}

// ctx: { store, hub, faults, token(), requests, serverAddress(), versionMinor, resources (the served
// types), discovery (discoveryFor(resources)) }
export function createHandler(ctx) {
  return (req, res) => {
    const entry = { method: req.method, path: req.url, status: 0, contentType: req.headers['content-type'] || '',
      userAgent: req.headers['user-agent'] || '', time: Date.now() };
    ctx.requests.push(entry);
    // Bounded so a long `make demo` run does not grow without limit.
    if (ctx.requests.length > 20000) ctx.requests.splice(0, ctx.requests.length - 10000);
    const writeHead = res.writeHead;
    res.writeHead = function (code, ...rest) {
      entry.status = code;
      return writeHead.call(this, code, ...rest);
    };
    handle(ctx, req, res).catch((e) => sendError(res, e));
  };
}

async function handle(ctx, req, res) {
  const u = new URL(req.url, 'http://stand-in');
  const path = u.pathname.length > 1 ? u.pathname.replace(/\/+$/, '') : u.pathname;
  if (HEALTH.has(path) || path.startsWith('/healthz/') || path.startsWith('/readyz/') || path.startsWith('/livez/')) {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': 2 });
    res.end('ok');
    return;
  }
  const token = ctx.token();
  if (token) {
    const auth = req.headers.authorization;
    // A presented but wrong token fails authentication even on public paths, as on the real server.
    if (auth ? auth !== `Bearer ${token}` : !PUBLIC.has(path)) {
      throw new ApiError(401, 'Unauthorized', { reason: 'Unauthorized' });
    }
  }
  const injected = ctx.faults.takeFailure(req.method, req.url);
  if (injected) throw injected;

  if (path === '/version') return send(res, 200, versionInfo(ctx.versionMinor));
  if (path === '/api') return send(res, 200, apiVersions(ctx.serverAddress()));
  // Legacy discovery answered as plain application/json even when aggregated discovery is asked
  // for: kubectl then falls back to per-group-version documents.
  if (path === '/apis') return send(res, 200, ctx.discovery.apiGroupList());
  const segs = path.split('/').filter(Boolean);
  if (segs[0] === 'openapi') {
    if (segs[1] === 'v3' && segs.length === 2) return send(res, 200, ctx.discovery.openapiIndex());
    const doc = segs[1] === 'v3' ? ctx.discovery.openapiDoc(segs.slice(2).join('/')) : null;
    if (doc) return send(res, 200, doc);
    throw errors.notFoundPath();
  }
  if (segs[0] === 'api' && segs[1] === 'v1') return resourcePath(ctx, req, res, u, '', 'v1', segs.slice(2));
  if (segs[0] === 'apis' && segs.length === 2) {
    const g = ctx.discovery.apiGroupDoc(segs[1]);
    if (!g) throw errors.notFoundPath();
    return send(res, 200, g);
  }
  if (segs[0] === 'apis' && segs.length >= 3) return resourcePath(ctx, req, res, u, segs[1], segs[2], segs.slice(3));
  throw errors.notFoundPath();
}

async function resourcePath(ctx, req, res, u, group, version, rest) {
  if (rest.length === 0) {
    const list = ctx.discovery.apiResourceList(group, version);
    if (!list || req.method !== 'GET') throw errors.notFoundPath();
    return send(res, 200, list);
  }
  let ns = null;
  if (rest[0] === 'namespaces' && rest.length >= 3 && resourceFor(group, version, rest[2], ctx.resources)?.namespaced) {
    ns = rest[1];
    rest = rest.slice(2);
  }
  const r = resourceFor(group, version, rest[0], ctx.resources);
  if (!r || rest.length > 3 || (r.namespaced && ns === null && rest.length > 1)) throw errors.notFoundPath();
  const name = rest[1];
  const sub = rest[2];
  if (sub !== undefined && !(sub === 'status' && r.status) && !(sub === 'scale' && r.scale)) throw errors.notFoundPath();
  const accept = req.headers.accept;
  if (accept && !/json|\*\/\*/.test(accept)) {
    throw new ApiError(406, `only the following media types are accepted: application/json`, { reason: 'NotAcceptable' });
  }
  const q = u.searchParams;
  const { store, hub } = ctx;
  const m = req.method;

  if (name === undefined) {
    if (m === 'GET') {
      const pred = selectorFor(q, r);
      if (['true', '1'].includes(q.get('watch'))) return hub.serve(res, r, ns, q, pred);
      return send(res, 200, store.list(r, ns, q, pred));
    }
    if (m === 'POST') {
      const body = await jsonBody(req);
      return send(res, 201, store.create(r, ns, body, { ...writeOptions(q), fromApi: true }));
    }
    if (m === 'DELETE') {
      const buf = await readBody(req);
      const opts = buf.length ? parseJSON(buf) : {};
      const pred = selectorFor(q, r);
      const wo = writeOptions(q, opts);
      const items = store.entries(r, ns, pred).map(([, o]) =>
        store.delete(r, o.metadata.namespace, o.metadata.name, { ...wo, preconditions: opts.preconditions }));
      return send(res, 200, { kind: `${r.kind}List`, apiVersion: r.apiVersion,
        metadata: { resourceVersion: store.rv() }, items });
    }
    throw errors.methodNotAllowed(m);
  }

  const ons = r.namespaced ? ns : null;
  if (sub === 'scale') return scalePath(store, req, res, q, r, ons, name);
  if (m === 'GET') {
    const o = store.get(r, ons, name);
    if (!o) throw errors.notFound(r, name);
    return send(res, 200, o);
  }
  if (m === 'PUT') {
    const body = await jsonBody(req);
    return send(res, 200, store.update(r, ons, name, body, { ...writeOptions(q), subresource: sub }));
  }
  if (m === 'PATCH') {
    const type = PATCH_TYPES[mediaType(req.headers['content-type'])];
    if (!type) {
      throw errors.unsupportedMedia(`the body of the request was in an unknown format - accepted media types include: ${Object.keys(PATCH_TYPES).filter((t) => !t.endsWith('cbor')).join(', ')}`);
    }
    if (type === 'apply-cbor') throw errors.unsupportedMedia('this stand-in does not decode CBOR; send application/apply-patch+yaml with a JSON body');
    const buf = await readBody(req);
    let body;
    if (type === 'apply') {
      if (!q.get('fieldManager')) throw errors.badRequest('PATCH requests with apply content type require fieldManager');
      try {
        body = JSON.parse(buf.toString('utf8'));
      } catch {
        throw errors.unsupportedMedia('this stand-in only understands JSON bodies for application/apply-patch+yaml (kubectl sends JSON); YAML is not parsed');
      }
    } else {
      body = parseJSON(buf);
    }
    const { obj, created } = store.patch(r, ons, name, type, body, { ...writeOptions(q), subresource: sub });
    return send(res, created ? 201 : 200, obj);
  }
  if (m === 'DELETE' && sub === undefined) {
    const buf = await readBody(req);
    const opts = buf.length ? parseJSON(buf) : {};
    return send(res, 200, store.delete(r, ons, name, { ...writeOptions(q, opts), preconditions: opts.preconditions }));
  }
  throw errors.methodNotAllowed(m);
}

// {parent}/scale: the parent seen as an autoscaling/v1 Scale (scale.mjs).
async function scalePath(store, req, res, q, r, ns, name) {
  const m = req.method;
  if (m === 'GET') return send(res, 200, handleScale(store, r, ns, name, 'GET'));
  let body, patchType;
  if (m === 'PUT') {
    body = await jsonBody(req);
  } else if (m === 'PATCH') {
    patchType = PATCH_TYPES[mediaType(req.headers['content-type'])];
    if (!['merge', 'json', 'strategic'].includes(patchType)) {
      throw errors.unsupportedMedia('a Scale accepts merge, JSON and strategic merge patches');
    }
    body = parseJSON(await readBody(req));
  } else {
    throw errors.methodNotAllowed(m);
  }
  return send(res, 200, handleScale(store, r, ns, name, m, body, { patchType, ...writeOptions(q) }));
}

async function jsonBody(req) {
  const ct = mediaType(req.headers['content-type']);
  if (ct && ct !== 'application/json' && ct !== '*/*') {
    throw errors.unsupportedMedia(`the body of the request was in an unknown format - accepted media types include: application/json (this stand-in does not decode ${ct})`);
  }
  return parseJSON(await readBody(req));
}
