// Harness for the end-to-end tests: manifests (IngressClass, Ingress, Service, EndpointSlice as
// JSON or YAML), free ports, spawning the real tether binary with --manifests, collecting its
// JSON log lines, waiting for /readyz, stopping it (SIGTERM, then SIGKILL), and an HTTP client.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import http from 'node:http';
import readline from 'node:readline';

export const BIN = process.env.TETHER_BIN ?? new URL('../../../build/tether', import.meta.url).pathname;
// Sanitizer builds are several times slower: stretch every timeout.
export const SLOW = process.env.TT_TEST_SLOW ? 5 : 1;
export const MiB = 1024 * 1024;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn() until it returns a truthy value; returns it, or throws naming `what` and the last value.
export async function until(fn, what, timeout = 5000 * SLOW, every = 10) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    await sleep(every);
  }
}

// ---------------------------------------------------------------- cleanup registry

const live = new Set();
function killAllSync() {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
}
process.on('exit', killAllSync);

// ---------------------------------------------------------------- ports

export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen({ host, port: 0, exclusive: true }, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// A port that refuses connections on `host` (nobody listens there after we close it).
export const deadPort = freePort;

// ---------------------------------------------------------------- manifest objects

export function ingressClass(name = 'tether', controller = 'tether.dev/ingress-controller') {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'IngressClass',
    metadata: { name },
    spec: { controller },
  };
}

function portRef(p) {
  return typeof p === 'number' ? { number: p } : { name: p };
}

export function backendRef(service, port = 80) {
  return { service: { name: service, port: portRef(port) } };
}

// paths: [{path, pathType='Prefix', service, port=80}] ; rules: [{host?, paths}]
export function ingress(name, opts = {}) {
  const spec = {};
  if (opts.className !== null) spec.ingressClassName = opts.className ?? 'tether';
  if (opts.defaultBackend) spec.defaultBackend = backendRef(opts.defaultBackend.service, opts.defaultBackend.port ?? 80);
  if (opts.rules) {
    spec.rules = opts.rules.map((r) => {
      const rule = {};
      if (r.host !== undefined) rule.host = r.host;
      rule.http = {
        paths: r.paths.map((p) => {
          const o = { path: p.path ?? '/' };
          if (p.pathType !== null) o.pathType = p.pathType ?? 'Prefix';
          o.backend = backendRef(p.service, p.port ?? 80);
          return o;
        }),
      };
      return rule;
    });
  }
  const metadata = { name, namespace: opts.ns ?? 'default' };
  if (opts.annotations) metadata.annotations = opts.annotations;
  return { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata, spec };
}

// ports: [{name, port}] (service port numbers)
export function service(name, opts = {}) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: opts.ns ?? 'default' },
    spec: {
      type: 'ClusterIP',
      ports: (opts.ports ?? [{ name: 'http', port: 80 }]).map((p) => ({
        name: p.name,
        protocol: 'TCP',
        port: p.port,
        targetPort: p.targetPort ?? p.port,
      })),
    },
  };
}

// ports: [{name, port}] (target ports); endpoints: [{ip, ready?}]
export function endpointSlice(name, opts) {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name,
      namespace: opts.ns ?? 'default',
      labels: {
        'kubernetes.io/service-name': opts.service,
        'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
      },
    },
    addressType: 'IPv4',
    ports: opts.ports.map((p) => ({ name: p.name, port: p.port, protocol: 'TCP' })),
    endpoints: opts.endpoints.map((e) => {
      const ep = { addresses: [e.ip] };
      if (e.ready !== undefined) ep.conditions = { ready: e.ready };
      else ep.conditions = { ready: true, serving: true, terminating: false };
      return ep;
    }),
  };
}

// A Service (port `servicePort`, named `portName`) plus one EndpointSlice per pod, since every
// echo pod listens on its own ephemeral port. pods: echo servers or {host, port, ready}.
export function backend(svcName, pods, opts = {}) {
  const ns = opts.ns ?? 'default';
  const portName = opts.portName ?? 'http';
  const servicePort = opts.servicePort ?? 80;
  const objs = [service(svcName, { ns, ports: [{ name: portName, port: servicePort }] })];
  pods.forEach((p, i) => {
    objs.push(
      endpointSlice(`${svcName}-${i}`, {
        ns,
        service: svcName,
        ports: [{ name: portName, port: p.port }],
        endpoints: [{ ip: p.host, ready: p.ready }],
      }),
    );
  });
  return objs;
}

// ---------------------------------------------------------------- YAML / JSON writers

function yScalar(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = String(v);
  // Plain scalars for identifier-like words (as people write manifests), double quotes otherwise
  // (a JSON string is a valid YAML double-quoted scalar).
  if (/^[A-Za-z][A-Za-z0-9_.\/-]*$/.test(s) && !/^(y|n|yes|no|true|false|on|off|null)$/i.test(s)) return s;
  return JSON.stringify(s);
}
function yKey(k) {
  return /^[A-Za-z_][A-Za-z0-9_.\/-]*$/.test(k) ? k : JSON.stringify(k);
}
function isScalar(v) {
  return v === null || typeof v !== 'object';
}
function yEmit(v, ind) {
  const pad = ' '.repeat(ind);
  const out = [];
  if (Array.isArray(v)) {
    for (const item of v) {
      if (isScalar(item)) out.push(`${pad}- ${yScalar(item)}`);
      else if (Array.isArray(item)) out.push(`${pad}- ${JSON.stringify(item)}`);
      else if (Object.keys(item).length === 0) out.push(`${pad}- {}`);
      else {
        const lines = yEmit(item, ind + 2);
        lines[0] = `${pad}- ${lines[0].slice(ind + 2)}`;
        out.push(...lines);
      }
    }
    return out;
  }
  for (const [k, val] of Object.entries(v)) {
    if (val === undefined) continue;
    if (isScalar(val)) out.push(`${pad}${yKey(k)}: ${yScalar(val)}`);
    else if (Array.isArray(val) && val.length === 0) out.push(`${pad}${yKey(k)}: []`);
    else if (!Array.isArray(val) && Object.keys(val).length === 0) out.push(`${pad}${yKey(k)}: {}`);
    else {
      out.push(`${pad}${yKey(k)}:`);
      out.push(...yEmit(val, ind + 2));
    }
  }
  return out;
}

export function toYaml(objs) {
  return objs.map((o) => `---\n# ${o.kind} ${o.metadata?.name}\n${yEmit(o, 0).join('\n')}\n`).join('');
}

export function toJsonList(objs) {
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }, null, 2);
}

// Writes objs into a fresh temp dir. format: 'yaml' (multi-doc file), 'json' (kind: List),
// 'dir' (one file per object, alternating .yaml and .json). Returns {path, dir}.
export function writeManifests(objs, format = 'yaml') {
  const dir = mkdtempSync(join(tmpdir(), 'tether-e2e-'));
  let path;
  if (format === 'yaml') {
    path = join(dir, 'manifests.yaml');
    writeFileSync(path, toYaml(objs));
  } else if (format === 'json') {
    path = join(dir, 'manifests.json');
    writeFileSync(path, toJsonList(objs));
  } else if (format === 'dir') {
    path = join(dir, 'objects');
    mkdirSync(path);
    objs.forEach((o, i) => {
      const base = `${String(i).padStart(2, '0')}-${o.kind.toLowerCase()}-${o.metadata.name}`;
      if (i % 2) writeFileSync(join(path, `${base}.json`), JSON.stringify(o, null, 1));
      else writeFileSync(join(path, `${base}.yaml`), toYaml([o]));
    });
  } else {
    throw new Error(`unknown format ${format}`);
  }
  return { path, dir };
}

// ---------------------------------------------------------------- the tether process

function durationArg(v) {
  return typeof v === 'number' ? `${v}ms` : v;
}

// The first line of a sanitizer report. The asan build aborts on the first error and LSan
// reports leaks at exit; either must fail the test that started the process.
const SANITIZER_REPORT = /^==\d+==ERROR: \w+Sanitizer|: runtime error: /;

// Starts tether. opts: nofile (descriptor limit), apiserver (--apiserver-host URL), kubeconfig (path: routes come from that API server, see test/kube/),
// or objects (manifest objects) or manifests (path), format, workers, args (extra flags), env,
// ready (wait for /readyz, default true).
export async function startTether(opts = {}) {
  let mdir = null;
  let mpath = opts.manifests;
  if (!mpath && !opts.kubeconfig && !opts.apiserver) {
    const w = writeManifests(opts.objects ?? [ingressClass()], opts.format ?? 'yaml');
    mpath = w.path;
    mdir = w.dir;
  }
  const bind = opts.bindAddress ?? '127.0.0.1';
  const httpPort = opts.httpPort ?? (await freePort(bind));
  const healthzPort = opts.healthzPort ?? (await freePort(bind));
  const args = [
    ...(opts.kubeconfig ? ['--kubeconfig', opts.kubeconfig] : []),
    ...(opts.apiserver ? ['--apiserver-host', opts.apiserver] : []),
    ...(opts.kubeconfig || opts.apiserver ? [] : ['--manifests', mpath]),
    '--http-port', String(httpPort),
    '--healthz-port', String(healthzPort),
    '--bind-address', bind,
    '--workers', String(opts.workers ?? 2),
    ...(opts.args ?? []).map(String),
  ];
  // opts.nofile: run under `ulimit -n` (the shell execs tether, so the pid is tether's).
  const proc = opts.nofile
    ? spawn('/bin/sh', ['-c', `ulimit -n ${Number(opts.nofile)} && exec "$0" "$@"`, BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...(opts.env ?? {}) },
    })
    : spawn(BIN, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...(opts.env ?? {}) },
  });
  live.add(proc);
  const t = {
    proc,
    pid: proc.pid,
    args,
    httpPort,
    healthzPort,
    manifests: mpath,
    stdout: [], // raw lines
    stderr: [],
    exit: null, // {code, signal} once exited
    sanitizerReports: [], // first lines of ASan/LSan/UBSan reports (sanitizer builds)
    exited: null,
  };
  t.exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => {
      t.exit = { code, signal };
      live.delete(proc);
      resolve(t.exit);
    });
    proc.on('error', (err) => {
      t.exit = { code: null, signal: null, error: err };
      live.delete(proc);
      resolve(t.exit);
    });
  });
  readline.createInterface({ input: proc.stdout }).on('line', (l) => t.stdout.push(l));
  readline.createInterface({ input: proc.stderr }).on('line', (l) => {
    t.stderr.push(l);
    if (SANITIZER_REPORT.test(l)) t.sanitizerReports.push(l);
  });

  const parse = (l) => { try { return JSON.parse(l); } catch { return null; } };
  t.access = () => t.stdout.map(parse).filter((o) => o && o.type === 'access');
  t.logs = () => t.stderr.map(parse).filter(Boolean);
  t.logText = () => `--- tether stderr (last 40 lines) ---\n${t.stderr.slice(-40).join('\n')}\n--- stdout (last 10) ---\n${t.stdout.slice(-10).join('\n')}`;
  // Waits until an access line matches pred; returns it (or null on timeout).
  t.waitAccess = async (pred, timeout = 3000 * SLOW) => {
    const end = Date.now() + timeout;
    for (;;) {
      const hit = t.access().find(pred);
      if (hit) return hit;
      if (Date.now() > end) return null;
      await sleep(20);
    }
  };
  t.waitLog = async (pred, timeout = 3000 * SLOW) => {
    const end = Date.now() + timeout;
    for (;;) {
      const hit = t.logs().find(pred);
      if (hit) return hit;
      if (Date.now() > end) return null;
      await sleep(20);
    }
  };
  t.rssKiB = () => {
    const s = readFileSync(`/proc/${proc.pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(s);
    return m ? Number(m[1]) : NaN;
  };
  t.admin = (path) => get(healthzPort, path, { timeout: 2000 * SLOW, connectHost: bind });
  t.req = (path, o = {}) => request(httpPort, { path, connectHost: bind, ...o });
  t.waitReady = async (timeout = 10_000 * SLOW) => {
    const end = Date.now() + timeout;
    let last = null;
    while (Date.now() < end) {
      if (t.exit) throw new Error(`tether exited early (${JSON.stringify(t.exit)})\n${t.logText()}`);
      try {
        const r = await t.admin('/readyz');
        if (r.status === 200) return;
        last = r.status;
      } catch (e) {
        last = e.code ?? e.message;
      }
      await sleep(50);
    }
    throw new Error(`tether not ready within ${timeout} ms (last: ${last})\n${t.logText()}`);
  };
  // SIGTERM, then SIGKILL after `grace` ms. Returns the exit status.
  t.stop = async (grace = 8000 * SLOW) => {
    if (!t.exit) {
      try { proc.kill('SIGTERM'); } catch { /* gone */ }
      const timer = setTimeout(() => { try { proc.kill('SIGKILL'); } catch { /* gone */ } }, grace);
      await t.exited;
      clearTimeout(timer);
    }
    if (mdir) rmSync(mdir, { recursive: true, force: true });
    return t.exit;
  };
  if (opts.ready !== false) {
    try {
      await t.waitReady();
    } catch (e) {
      await t.stop(1000);
      throw e;
    }
  }
  return t;
}

// Runs the binary to completion (for --help/--version/bad flags). Returns {code, signal, stdout, stderr}.
export function runTether(args, timeout = 5000 * SLOW, env = process.env) {
  return new Promise((resolve) => {
    const p = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    live.add(p);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), timeout);
    p.on('error', (error) => { clearTimeout(timer); live.delete(p); resolve({ code: null, error, stdout, stderr }); });
    p.on('close', (code, signal) => { clearTimeout(timer); live.delete(p); resolve({ code, signal, stdout, stderr }); });
  });
}

// ---------------------------------------------------------------- HTTP client

// One request on a fresh connection (no agent). opts: host (Host header), method, headers,
// body (Buffer/string), localAddress, timeout, agent. Resolves {status, headers, body, json()}.
export function request(port, opts = {}) {
  return new Promise((resolve, reject) => {
    const headers = { ...(opts.headers ?? {}) };
    if (opts.host !== undefined) headers.host = opts.host;
    const req = http.request({
      host: opts.connectHost ?? '127.0.0.1',
      port,
      method: opts.method ?? 'GET',
      path: opts.path ?? '/',
      headers,
      agent: opts.agent ?? false,
      localAddress: opts.localAddress,
      setHost: opts.host === undefined && !('host' in headers),
    });
    const timeout = opts.timeout ?? 5000 * SLOW;
    req.setTimeout(timeout, () => req.destroy(Object.assign(new Error(`timeout after ${timeout} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.on('response', (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(parts);
        resolve({
          status: res.statusCode,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body,
          text: body.toString(),
          json() {
            try {
              return JSON.parse(body.toString());
            } catch {
              throw new Error(`not JSON (status ${res.statusCode}): ${body.toString().slice(0, 300)}`);
            }
          },
          socketLocalPort: req.socket?.localPort,
        });
      });
    });
    if (opts.body !== undefined) req.end(opts.body);
    else req.end();
  });
}

export const get = (port, path, opts = {}) => request(port, { ...opts, path });

// Pods on distinct loopback addresses: 127.0.<net>.<i+1>. `net` keeps test files apart.
export function podHost(netId, i) {
  return `127.0.${netId}.${i + 1}`;
}

// ---------------------------------------------------------------- fixtures

// Collects everything a test (or a file) starts and closes it in reverse order.
// Use: const fx = fixture(); after(() => fx.close());
export function fixture() {
  const items = [];
  return {
    async echo(o) {
      const { startEcho } = await import('./echo.mjs');
      const e = await startEcho(o);
      items.push(() => e.close());
      return e;
    },
    // A local Kubernetes API stand-in (test/kube/server.mjs), closed with the fixture.
    async kube(o) {
      const { startKube } = await import('../../kube/server.mjs');
      const k = await startKube(o);
      items.push(() => k.close());
      return k;
    },
    // A tether process; closing the fixture stops it and fails if a sanitizer reported.
    async tether(o) {
      const t = await startTether(o);
      items.push(async () => {
        await t.stop();
        if (t.sanitizerReports.length) {
          throw new Error(`tether ${t.pid}: ${t.sanitizerReports.join(' | ')}\n${t.logText()}`);
        }
      });
      return t;
    },
    defer(fn) {
      items.push(fn);
    },
    // Closes everything, then rethrows the first error a closer raised (sanitizer reports).
    async close() {
      let first = null;
      while (items.length) {
        const f = items.pop();
        try { await f(); } catch (e) { first ??= e; }
      }
      if (first) throw first;
    },
  };
}

// GET through tether and return the answering pod's name, or the status if not 200.
export async function who(t, host, path, opts = {}) {
  const r = await t.req(path, { host, ...opts });
  if (r.status !== 200) return r.status;
  return r.headers['x-pod'] ?? r.json().pod;
}

// A raw TCP "pod" that answers every chunk it reads with `respond()` bytes (misbehaving upstreams).
export async function startRawUpstream(host, respond) {
  const srv = net.createServer((s) => {
    s.on('data', (d) => {
      const out = respond(d);
      if (out) s.write(out);
    });
    s.on('error', () => {});
  });
  const socks = new Set();
  srv.on('connection', (s) => { socks.add(s); s.on('close', () => socks.delete(s)); });
  await new Promise((r) => srv.listen({ host, port: 0 }, r));
  return {
    host,
    port: srv.address().port,
    close: () => new Promise((r) => { for (const s of socks) s.destroy(); srv.close(() => r()); }),
  };
}

// An address whose connect() hangs: a listener with a full accept queue that never accepts
// (SYNs are then dropped). Needs python3, since node always accepts; returns null without it.
export async function startBlackhole(host) {
  const code = 'import socket,sys\ns=socket.socket()\ns.bind((sys.argv[1],0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()\n';
  const p = spawn('python3', ['-c', code, host], { stdio: ['pipe', 'pipe', 'ignore'] });
  live.add(p);
  const port = await new Promise((resolve) => {
    p.on('error', () => resolve(null));
    p.stdout.once('data', (d) => resolve(Number(String(d).trim())));
    p.on('exit', () => resolve(null));
  });
  if (!port) {
    live.delete(p);
    return null;
  }
  // Fill the accept queue so later SYNs go unanswered.
  const fillers = [];
  for (let i = 0; i < 2; i++) fillers.push(net.connect({ host, port }).on('error', () => {}));
  await sleep(100);
  return {
    host,
    port,
    close: async () => {
      for (const f of fillers) f.destroy();
      p.kill('SIGKILL');
      live.delete(p);
    },
  };
}

// Upper bound for one describe() block, so a hung test fails instead of hanging the suite
// (the suite's after() hooks still run and stop every process).
export const SUITE = { timeout: 240_000 * SLOW };
