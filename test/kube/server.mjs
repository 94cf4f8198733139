// Entry point of the local Kubernetes API stand-in: startKube() wires the store, the watch hub,
// the fault switches and an HTTP(S) server on 127.0.0.1, and returns the JS API the tests and
// `make demo` use. Run directly, it serves until SIGTERM/SIGINT:
//   node test/kube/server.mjs --port N [--host 127.0.0.1] [--tls] [--token T] [--dir D] [--load F]
//        [--workloads] [--cluster [--pod-net 127.0.0] [--first-host 11]]
// and prints one JSON line {"url","kubeconfig",...} once it is listening. --cluster also runs the
// mini controller-manager and kubelet of cluster.mjs in the same process.
import http from 'node:http';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Store } from './store.mjs';
import { WatchHub } from './watch.mjs';
import { Faults } from './faults.mjs';
import { createHandler } from './api.mjs';
import { resolveKind, servedResources } from './resources.mjs';
import { discoveryFor } from './discovery.mjs';
import { testPKI } from './tls.mjs';
import { writeKubeconfig, writeAtomic } from './kubeconfig.mjs';
import { clone } from './patch.mjs';

const newToken = () => randomBytes(16).toString('hex');

export async function startKube(opts = {}) {
  const o = { tls: false, token: null, historyLimit: 1000, bookmarkIntervalMs: 60000, host: '127.0.0.1', port: 0,
    versionMinor: '32', namespaces: ['default', 'kube-system'], workloads: false, ...opts };
  const store = new Store({ historyLimit: o.historyLimit });
  const nsRes = resolveKind('Namespace');
  for (const n of o.namespaces) store.create(nsRes, null, { metadata: { name: n } });
  const pki = o.tls ? await testPKI() : null;
  const requests = [];
  const tokenFiles = new Set();
  const tempDirs = [];
  const sockets = new Set();
  let token = o.token === true ? newToken() : o.token || null;
  let listening = false;
  let closed = false;
  let refuseTimer = null;
  let backWaiters = [];
  let port = o.port;

  const hooks = {};
  const faults = new Faults(hooks);
  const hub = new WatchHub(store, faults, { bookmarkIntervalMs: o.bookmarkIntervalMs });
  const resources = servedResources({ workloads: o.workloads });
  const handler = createHandler({ store, hub, faults, requests, token: () => token,
    serverAddress: () => `${o.host}:${port}`, versionMinor: o.versionMinor, resources,
    discovery: discoveryFor(resources) });
  const server = o.tls
    ? https.createServer({ key: pki.key, cert: pki.cert, minVersion: 'TLSv1.2' }, handler)
    : http.createServer(handler);
  // Watches are long; the per-request receive timer must not cut anything. Idle kept-alive
  // connections live longer than Node's 5 s default so a client reusing one rarely races the close.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 65000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {});   // clients refusing a bad cert are expected

  function listen() {
    return new Promise((resolve, reject) => {
      const onErr = (e) => reject(e);
      server.once('error', onErr);
      server.listen(port, o.host, () => {
        server.off('error', onErr);
        port = server.address().port;
        listening = true;
        resolve();
      });
    });
  }

  function stopListening() {
    if (!listening) return;
    listening = false;
    hub.drop('fin');
    server.close();
    for (const s of sockets) s.destroy();
  }

  hooks.hub = hub;
  hooks.store = store;
  hooks.refuse = (ms) => {
    stopListening();
    clearTimeout(refuseTimer);
    const back = new Promise((resolve, reject) => backWaiters.push({ resolve, reject }));
    // A failed re-listen reaches the caller through |back|; the timer itself must not throw.
    if (ms !== undefined && ms !== Infinity) refuseTimer = setTimeout(() => hooks.accept().catch(() => {}), ms);
    back.catch(() => {});       // only callers that await it hear about a failed re-listen
    return back;
  };
  hooks.accept = async () => {
    clearTimeout(refuseTimer);
    refuseTimer = null;
    if (listening || closed) return;
    const waiters = backWaiters;
    backWaiters = [];
    try {
      await listen();
      for (const w of waiters) w.resolve();
    } catch (e) {
      for (const w of waiters) w.reject(e);
      throw e;
    }
  };
  let badCertOn = false;
  hooks.setBadCert = (on, quiet) => {
    if (!o.tls) {
      if (quiet) return;
      throw new Error('kube stand-in: badCert needs { tls: true }');
    }
    if (on === badCertOn) return;
    badCertOn = on;
    server.setSecureContext(on ? { key: pki.bad.key, cert: pki.bad.cert } : { key: pki.key, cert: pki.cert });
    // Kept-alive connections would keep the old certificate; make clients handshake again.
    server.closeIdleConnections();
  };

  await listen();
  const url = `${o.tls ? 'https' : 'http'}://${o.host}:${port}`;

  function objArgs(obj) {
    const r = resolveKind(obj.kind);
    const ns = r.namespaced ? obj.metadata?.namespace || 'default' : null;
    return { r, ns, name: obj.metadata?.name };
  }

  const kube = {
    url,
    port,
    host: o.host,
    versionMinor: o.versionMinor,
    workloads: o.workloads,
    caFile: pki ? pki.caFile : null,
    get token() { return token; },
    requests,
    faults,
    store,

    // Writes a kubeconfig into |dir| and returns its path. opts: { format: 'yaml'|'json',
    // tokenFile: bool (token in a separate file that rotateToken() rewrites), embedCA: bool,
    // namespace, name, token (write this token instead of the accepted one) }.
    writeKubeconfig(dir, wopts = {}) {
      const { path, tokenPath } = writeKubeconfig(kube, dir, wopts);
      // Only files holding the live token follow rotateToken(); a deliberately wrong one stays wrong.
      if (tokenPath && wopts.token === undefined) tokenFiles.add(tokenPath);
      return path;
    },
    // A temp dir removed by close(); kubectl.mjs keeps its kubeconfig and cache there.
    tempDir(prefix = 'tether-kube-') {
      const d = mkdtempSync(join(tmpdir(), prefix));
      tempDirs.push(d);
      return d;
    },

    // ---- direct object access (no HTTP; same write semantics and watch events) ----
    apply(obj) {
      const { r, ns, name } = objArgs(obj);
      if (!store.get(r, ns, name)) return store.create(r, ns, obj);
      const body = clone(obj);
      if (body.metadata) delete body.metadata.resourceVersion;
      return store.update(r, ns, name, body, { keepStatus: false });
    },
    create(obj) {
      const { r, ns } = objArgs(obj);
      return store.create(r, ns, obj);
    },
    get(kind, ns, name) {
      const r = resolveKind(kind);
      const got = store.get(r, r.namespaced ? ns || 'default' : null, name);
      return got ? clone(got) : null;
    },
    list(kind, ns) {
      const r = resolveKind(kind);
      return store.entries(r, r.namespaced ? ns : null).map(([, x]) => clone(x));
    },
    remove(kind, ns, name) {
      const r = resolveKind(kind);
      const n = r.namespaced ? ns || 'default' : null;
      return store.get(r, n, name) ? store.delete(r, n, name) : null;
    },
    rv() { return store.rv(); },

    clearRequests() { requests.length = 0; },
    // Open watch streams: total, or for one type (Kind, plural or short name).
    watchers(kind) { return hub.count(kind ? resolveKind(kind).name : null); },

    // A new random token (or |t|) becomes the only accepted one; token files are rewritten
    // atomically. Returns the new token.
    rotateToken(t) {
      token = t || newToken();
      for (const f of tokenFiles) writeAtomic(f, token);
      return token;
    },
    setToken(t) {
      token = t || null;
      for (const f of tokenFiles) writeAtomic(f, token || '');
      return token;
    },
    // BOOKMARK now on every watch that asked for bookmarks; returns how many got one.
    bookmark() { return hub.bookmark(); },

    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(refuseTimer);
      for (const w of backWaiters) w.resolve();
      backWaiters = [];
      hub.close();
      if (listening) {
        listening = false;
        const done = new Promise((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        for (const s of sockets) s.destroy();
        await done;
      } else {
        for (const s of sockets) s.destroy();
      }
      for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
    },
  };
  return kube;
}

// ---- standalone ----

function parseArgs(argv) {
  const a = { port: 0, host: '127.0.0.1', tls: false, token: null, dir: null, load: [], cluster: null };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
      return argv[++i];
    };
    if (k === '--port') a.port = Number(v());
    else if (k === '--host') a.host = v();
    else if (k === '--tls') a.tls = true;
    else if (k === '--token') a.token = v();
    else if (k === '--dir') a.dir = v();
    else if (k === '--load') a.load.push(v());
    else if (k === '--history') a.historyLimit = Number(v());
    else if (k === '--bookmark-ms') a.bookmarkIntervalMs = Number(v());
    else if (k === '--workloads') a.workloads = true;
    else if (k === '--cluster') a.cluster ??= {};
    else if (k === '--pod-net') (a.cluster ??= {}).podNet = v();
    else if (k === '--first-host') (a.cluster ??= {}).firstHost = Number(v());
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`kube stand-in: ${e.message}\nusage: node test/kube/server.mjs --port N [--host H] [--tls] [--token T] [--dir D] [--load FILE.json] [--history N] [--bookmark-ms MS] [--workloads] [--cluster [--pod-net 127.0.0] [--first-host 11]]\n`);
    process.exit(2);
  }
  // The cluster creates Pods and drives Deployments, so it needs the workload types served.
  if (args.cluster) args.workloads = true;
  const kube = await startKube(args);
  let cluster = null;
  if (args.cluster) {
    const { startCluster } = await import('./cluster.mjs');
    cluster = await startCluster(kube, { ...args.cluster, log: (msg) => process.stderr.write(`cluster: ${msg}\n`) });
  }
  for (const f of args.load) {
    const doc = JSON.parse(readFileSync(f, 'utf8'));
    for (const obj of Array.isArray(doc) ? doc : doc.items || [doc]) kube.apply(obj);
  }
  const dir = args.dir || kube.tempDir();
  const kubeconfig = kube.writeKubeconfig(dir, { tokenFile: !!kube.token });
  const kubeconfigJson = kube.writeKubeconfig(dir, { format: 'json', tokenFile: !!kube.token });
  const out = { url: kube.url, kubeconfig, kubeconfigJson };
  if (kube.caFile) out.caFile = kube.caFile;
  if (kube.token) out.token = kube.token;
  if (cluster) out.cluster = { podNet: cluster.podNet, firstHost: cluster.firstHost };
  process.stdout.write(JSON.stringify(out) + '\n');
  const stop = async () => {
    if (cluster) await cluster.close();
    await kube.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

const self = (() => {
  try {
    return process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
})();
if (self) {
  main().catch((e) => {
    process.stderr.write(`kube stand-in: ${e.stack || e}\n`);
    process.exit(1);
  });
}
