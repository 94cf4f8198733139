#!/usr/bin/env node
// bench/rebuild.mjs - `make bench-rebuild`: how long tether takes to build a route table, at
// startup and on reloads, for many Services with and without cookie affinity.
//
// Method: generate N Ingresses, each with its own Service of P endpoints (10.x.y.z, never
// contacted), as one JSON List; run `tether --manifests` on loopback ports; reload it with
// SIGHUP R times and read the "route table built" line's build_ms each time. Reloads of an
// unchanged file show what an unchanged sticky backend costs (its ring is reused); "one
// changed" reloads rewrite one Service's endpoints first (only its ring is rebuilt). Prints
// medians per case. The build runs on one thread, so the machine's other load matters little,
// but run it on a quiet machine anyway.
//
// Environment: TETHER_BIN (build/tether) SERVICES (200) PODS (100) RELOADS (5)
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import readline from 'node:readline';

const BIN = process.env.TETHER_BIN ?? 'build/tether';
const N = Number(process.env.SERVICES ?? 200);
const P = Number(process.env.PODS ?? 100);
const R = Number(process.env.RELOADS ?? 5);

function manifests(sticky, bump = -1) {
  const items = [{ apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass', metadata: { name: 'tether' },
    spec: { controller: 'tether.dev/ingress-controller' } }];
  for (let i = 0; i < N; i++) {
    const name = `s${i}`;
    const first = i === bump ? 2 : 1; // "one changed": this Service's endpoints shift by one
    items.push({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' },
      spec: { ports: [{ name: 'http', port: 80, targetPort: 8000 }] } });
    items.push({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name: `${name}-a`, namespace: 'default', labels: { 'kubernetes.io/service-name': name } },
      addressType: 'IPv4', ports: [{ name: 'http', port: 8000 }],
      endpoints: Array.from({ length: P }, (_, k) => ({
        addresses: [`10.${i >> 8}.${i & 255}.${first + k}`], conditions: { ready: true } })) });
    items.push({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress',
      metadata: { name, namespace: 'default',
        annotations: sticky ? { 'nginx.ingress.kubernetes.io/affinity': 'cookie' } : {} },
      spec: { ingressClassName: 'tether',
        rules: [{ host: `h${i}.test`, http: { paths: [{ path: '/', pathType: 'Prefix',
          backend: { service: { name, port: { number: 80 } } } }] } }] } });
  }
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
}

const freePort = () => new Promise((resolve, reject) => {
  const s = net.createServer();
  s.once('error', reject);
  s.listen({ host: '127.0.0.1', port: 0 }, () => { const { port } = s.address(); s.close(() => resolve(port)); });
});
const median = (v) => { const s = [...v].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

async function run(sticky, dir) {
  const file = join(dir, `m${sticky ? 1 : 0}.json`);
  writeFileSync(file, manifests(sticky));
  const args = ['--manifests', file, '--http-port', String(await freePort()),
    '--healthz-port', String(await freePort()), '--bind-address', '127.0.0.1', '--workers', '1'];
  const p = spawn(BIN, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TT_LOG: 'info' } });
  const builds = [];
  let serving = false;
  let exited = null;
  let wake = null;
  p.on('exit', (code, signal) => { exited = { code, signal }; wake?.(); });
  readline.createInterface({ input: p.stderr }).on('line', (l) => {
    if (process.env.DEBUG) console.error(l);
    try {
      const o = JSON.parse(l);
      if (o.msg === 'route table built') builds.push(o.build_ms);
      if (o.msg === 'serving') serving = true; // SIGHUP is handled from here on
      wake?.();
      if (o.level === 'error') console.error(`tether: ${l}`);
    } catch { /* not JSON */ }
  });
  const next = (n) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no build within 60 s (${BIN} ${args.join(' ')})`)), 60_000);
    wake = () => {
      if (exited) { clearTimeout(timer); reject(new Error(`tether exited: ${JSON.stringify(exited)}`)); }
      if (builds.length >= n && serving) { clearTimeout(timer); wake = null; resolve(); }
    };
    wake();
  });
  try {
    await next(1);
    const startup = builds[0];
    const unchanged = [];
    const changed = [];
    for (let i = 0; i < R; i++) {
      p.kill('SIGHUP');
      await next(builds.length + 1);
      unchanged.push(builds.at(-1));
      writeFileSync(file, manifests(sticky, i % 2 === 0 ? 0 : -1)); // flip Service 0 each time
      p.kill('SIGHUP');
      await next(builds.length + 1);
      changed.push(builds.at(-1));
    }
    return { startup, unchanged: median(unchanged), changed: median(changed) };
  } finally {
    if (!exited) {
      p.kill('SIGTERM');
      await new Promise((r) => p.once('exit', r));
    }
  }
}

const dir = mkdtempSync(join(tmpdir(), 'tether-rebuild-'));
try {
  console.log(`# ${N} Ingresses x ${P} endpoints, ${R} reloads of each kind; build_ms (median of reloads)`);
  console.log('affinity     startup  reload-unchanged  reload-one-changed');
  for (const sticky of [false, true]) {
    const r = await run(sticky, dir);
    console.log(`${(sticky ? 'cookie' : 'none').padEnd(12)} ${r.startup.toFixed(1).padStart(7)}  ` +
      `${r.unchanged.toFixed(1).padStart(16)}  ${r.changed.toFixed(1).padStart(18)}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
