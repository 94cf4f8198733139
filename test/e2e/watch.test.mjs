// Routes from the Kubernetes API: tether lists and watches the local API stand-in (test/kube/)
// over HTTPS with a rotating token file, and every change - written directly, or with the real
// kubectl - reaches the data plane. Each fault the stand-in can inject is survived without
// losing an update; bad objects are skipped with one log line; propagation time is measured;
// and 100 changes under steady load fail no request.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import http from 'node:http';
import {
  fixture, ingressClass, ingress, service, endpointSlice, backend, toYaml, freePort, runTether,
  sleep, until, SLOW, SUITE,
} from './lib/tether.mjs';
import { kubectl, findKubectl } from '../kube/kubectl.mjs';

const NET = 31; // pods of this file live on 127.0.31.x


const statusOf = async (t, host, path = '/') => (await t.req(path, { host })).status;
const podOf = async (t, host, path = '/') => {
  const r = await t.req(path, { host });
  return r.status === 200 ? r.headers['x-pod'] ?? r.json().pod : r.status;
};

// Echo pods that share one port on 127.0.NET.first.. (a Service's endpoints share the target port).
async function pods(fx, first, n, prefix) {
  const port = await freePort(`127.0.${NET}.${first}`);
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push(await fx.echo({ host: `127.0.${NET}.${first + i}`, port, name: `${prefix}-${i}` }));
  }
  return out;
}

const slice = (svc, ps, name = `${svc}-abc`) => endpointSlice(name, {
  service: svc, ports: [{ name: 'http', port: ps[0].port }], endpoints: ps.map((p) => ({ ip: p.host })),
});

describe('routes from the API server', SUITE, () => {
  const fx = fixture();
  let kube;
  let t;
  let web;
  after(() => fx.close());
  before(async () => {
    kube = await fx.kube({ tls: true, token: true });
    web = await pods(fx, 1, 3, 'web');
    for (const o of [ingressClass(), service('web'), slice('web', web.slice(0, 1)),
      ingress('web', { rules: [{ host: 'web.test', paths: [{ path: '/', service: 'web' }] }] })]) kube.apply(o);
    const kc = kube.writeKubeconfig(kube.tempDir('tether-kc-'), { tokenFile: true });
    t = await fx.tether({ kubeconfig: kc, workers: 2 });
  });

  test('serves what the API holds, over HTTPS with a bearer token', async () => {
    assert.equal(await podOf(t, 'web.test'), 'web-0');
    const lists = kube.requests.filter((r) => r.method === 'GET' && !/watch=/.test(r.path));
    for (const p of ['/ingresses?', '/ingressclasses?', '/services?', '/endpointslices?', '/secrets?'])
      assert.ok(lists.some((r) => r.path.includes(p) && r.status === 200), `no list of ${p}`);
    assert.ok(kube.requests.some((r) => /secrets\?.*fieldSelector=type%3Dkubernetes.io%2Ftls/.test(r.path)),
      'secrets are not narrowed to kubernetes.io/tls');
    assert.equal(kube.watchers(), 5, 'one watch per kind');
    const pub = t.logs().find((l) => l.msg === 'routes published');
    assert.equal(pub.cause, 'initial sync');
    const metrics = (await t.admin('/metrics')).body.toString();
    for (const kind of ['Ingress', 'IngressClass', 'Service', 'EndpointSlice', 'Secret'])
      assert.match(metrics, new RegExp(`^tether_k8s_synced\\{kind="${kind}"\\} 1$`, 'm'));
    assert.match(metrics, /^tether_k8s_objects\{kind="Ingress"\} 1$/m);
    assert.match(metrics, /^tether_config_rebuilds_total [1-9]/m);
  });

  test('an Ingress deleted and created again: 404, then served', async () => {
    kube.remove('Ingress', 'default', 'web');
    await until(async () => (await statusOf(t, 'web.test')) === 404, 'the route to go');
    kube.apply(ingress('web', { rules: [{ host: 'web.test', paths: [{ path: '/', service: 'web' }] }] }));
    await until(async () => (await statusOf(t, 'web.test')) === 200, 'the route to return');
    const rebuild = await t.waitLog((l) => l.msg === 'routes published' && /Ingress default\/web/.test(l.cause));
    assert.ok(rebuild && rebuild.build_ms >= 0 && rebuild.generation > 1, 'rebuild logged with cause and duration');
  });

  test('an EndpointSlice scaled from 1 to 3 endpoints spreads traffic to the new pods', async () => {
    kube.apply(slice('web', web));
    await until(async () => {
      const seen = new Set();
      for (let i = 0; i < 12; i++) seen.add(await podOf(t, 'web.test'));
      return seen.size === 3;
    }, 'all three pods to answer');
    kube.apply(slice('web', web.slice(2)));
    await until(async () => {
      for (let i = 0; i < 6; i++) if ((await podOf(t, 'web.test')) !== 'web-2') return false;
      return true;
    }, 'traffic to leave the removed pods');
    // A pod that stops being ready leaves the rotation too.
    kube.apply(endpointSlice('web-abc', { service: 'web', ports: [{ name: 'http', port: web[0].port }],
      endpoints: [{ ip: web[0].host, ready: true }, { ip: web[2].host, ready: false }] }));
    await until(async () => (await podOf(t, 'web.test')) === 'web-0', 'the not-ready pod to leave');
  });

  test('Ingresses of another class are ignored', async () => {
    kube.apply(ingressClass('other', 'example.com/other-controller'));
    kube.apply(ingress('theirs', { className: 'other', rules: [{ host: 'theirs.test', paths: [{ path: '/', service: 'web' }] }] }));
    const legacy = ingress('legacy', { className: null, rules: [{ host: 'legacy.test', paths: [{ path: '/', service: 'web' }] }] });
    legacy.metadata.annotations = { 'kubernetes.io/ingress.class': 'nginx' };
    kube.apply(legacy);
    kube.apply(ingress('mine', { rules: [{ host: 'mine.test', paths: [{ path: '/', service: 'web' }] }] }));
    await until(async () => (await statusOf(t, 'mine.test')) === 200, 'our Ingress');
    assert.equal(await statusOf(t, 'theirs.test'), 404);
    assert.equal(await statusOf(t, 'legacy.test'), 404);
    // Moving an Ingress to our class takes it over.
    kube.apply(ingress('theirs', { rules: [{ host: 'theirs.test', paths: [{ path: '/', service: 'web' }] }] }));
    await until(async () => (await statusOf(t, 'theirs.test')) === 200, 'the Ingress moved to our class');
  });

  test('a bad Ingress is skipped with one log line naming it; other routes keep working', async () => {
    const bad = ingress('bad', { rules: [{ host: 'bad.test', paths: [
      { path: '/ok', service: 'web' }, { path: '/typo', pathType: 'Prefixx', service: 'web' }] }] });
    kube.apply(bad);
    // Structurally broken: spec.rules is not a list. The stand-in, unlike a real apiserver, does not validate.
    kube.apply({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'broken', namespace: 'default' },
      spec: { rules: 'everything' } });
    await until(async () => (await statusOf(t, 'bad.test', '/ok')) === 200, 'the good path of the bad Ingress');
    assert.equal(await statusOf(t, 'bad.test', '/typo'), 404);
    assert.equal(await podOf(t, 'web.test') !== 404, true);
    // More rebuilds must not repeat the lines.
    for (let i = 0; i < 3; i++) {
      kube.apply(ingress(`churn-${i}`, { rules: [{ host: `churn${i}.test`, paths: [{ path: '/', service: 'web' }] }] }));
      await until(async () => (await statusOf(t, `churn${i}.test`)) === 200, `churn ${i}`);
    }
    const lines = (obj) => t.logs().filter((l) => l.object === obj && l.level === 'warn');
    assert.equal(lines('default/bad').length, 1, JSON.stringify(lines('default/bad')));
    assert.match(lines('default/bad')[0].reason, /Prefixx/);
    assert.equal(lines('default/broken').length, 1, JSON.stringify(lines('default/broken')));
    assert.match(lines('default/broken')[0].reason, /spec\.rules/);
    // Fixing it brings the path back; breaking it again is reported again.
    kube.apply(ingress('bad', { rules: [{ host: 'bad.test', paths: [{ path: '/ok', service: 'web' }, { path: '/typo', service: 'web' }] }] }));
    await until(async () => (await statusOf(t, 'bad.test', '/typo')) === 200, 'the fixed path');
    kube.apply(bad);
    await until(async () => (await statusOf(t, 'bad.test', '/typo')) === 404, 'the broken path again');
    await until(() => lines('default/bad').length === 2, 'a second report after breaking it again');
  });
});

// Each fault test runs its own tether, so the backoff one test builds up (client-go's rule:
// reset only after two quiet minutes) does not slow the next one down.
describe('API faults: tether recovers and loses no update', SUITE, () => {
  const fx = fixture();
  let kube;
  let kc;
  let web;
  let n = 0;
  after(() => fx.close());
  before(async () => {
    kube = await fx.kube({ tls: true, token: true });
    web = await pods(fx, 10, 1, 'fault');
    for (const o of [ingressClass(), service('web'), slice('web', web),
      ingress('web', { rules: [{ host: 'web.test', paths: [{ path: '/', service: 'web' }] }] })]) kube.apply(o);
    kc = kube.writeKubeconfig(kube.tempDir('tether-kc-'), { tokenFile: true });
  });
  async function freshTether() {
    const t = await fx.tether({ kubeconfig: kc, workers: 1 });
    await until(() => kube.watchers() >= 5, 'five watches');
    return t;
  }
  // Inject a fault, change something while it is in force, and require the change.
  async function changeSurvives(t, what, inject, settle) {
    const host = `f${++n}.test`;
    await inject();
    kube.apply(ingress(`f${n}`, { rules: [{ host, paths: [{ path: '/', service: 'web' }] }] }));
    if (settle) await settle();
    await until(async () => (await statusOf(t, host)) === 200, `${what}: the change to arrive`, 20000 * SLOW, 25);
    kube.faults.reset();
    return host;
  }

  test('streams dropped (closed, reset, or cut mid-event): tether re-watches, nothing is lost', async () => {
    const t = await freshTether();
    await changeSurvives(t, 'closed', () => kube.faults.dropStreams());
    await changeSurvives(t, 'reset', () => kube.faults.dropStreams({ reset: true }));
    await changeSurvives(t, 'cut mid-event', async () => {
      kube.faults.splitChunks(40);
      kube.faults.dripDelayMs = 20;
    }, async () => { await sleep(30); kube.faults.dropStreams({ partial: true }); });
    await t.stop();
  });

  test('410 Expired in the stream and compacted history: tether relists, deletions in the gap included', async () => {
    const t = await freshTether();
    const gone = await changeSurvives(t, 'forced 410', async () => { kube.faults.forceWatch410(5); kube.faults.dropStreams(); });
    assert.ok(t.logs().some((l) => l.msg === 'relisting'), 'no relist was logged');
    // Delete while no watch is open, then compact: only a relist can reveal the deletion.
    const back = kube.faults.refuseConnections(400);
    kube.faults.dropStreams();
    kube.remove('Ingress', 'default', gone.replace('.test', ''));
    kube.faults.expireHistory();
    await back;
    await until(async () => (await statusOf(t, gone)) === 404, 'the deletion made during the gap', 30000 * SLOW, 50);
    await t.stop();
  });

  test('5xx and 429 answers: tether backs off and recovers', async () => {
    const t = await freshTether();
    await changeSurvives(t, '500 on lists and watches', async () => {
      kube.faults.failNext(3, 500);
      kube.faults.dropStreams();
    });
    await changeSurvives(t, '429 with Retry-After', async () => {
      kube.faults.failNext(2, 429, { retryAfter: 1 });
      kube.faults.dropStreams();
    });
    assert.ok(t.logs().some((l) => l.mod === 'k8s' && (l.status === 500 || l.status === 429)), 'failures were not logged');
    await t.stop();
  });

  test('events split into tiny chunks, or coalesced into one', async () => {
    const t = await freshTether();
    await changeSurvives(t, 'split', () => { kube.faults.splitChunks(3); kube.faults.dripDelayMs = 1; });
    kube.faults.coalesce(true, 50);
    const hosts = [];
    for (let i = 0; i < 5; i++) {
      hosts.push(`c${i}.test`);
      kube.apply(ingress(`c${i}`, { rules: [{ host: `c${i}.test`, paths: [{ path: '/', service: 'web' }] }] }));
    }
    for (const h of hosts) await until(async () => (await statusOf(t, h)) === 200, `coalesced ${h}`);
    kube.faults.reset();
    await t.stop();
  });

  test('API server down for a while, then back with newer state', async () => {
    const t = await freshTether();
    const back = kube.faults.refuseConnections(1500);
    kube.faults.dropStreams();
    await sleep(100);
    kube.apply(ingress('while-down', { rules: [{ host: 'down.test', paths: [{ path: '/', service: 'web' }] }] }));
    assert.equal(await podOf(t, 'web.test'), 'fault-0', 'routes must keep working while the API is down');
    await back;
    await until(async () => (await statusOf(t, 'down.test')) === 200, 'the change made while down', 30000 * SLOW, 50);
    await t.stop();
  });

  test('token rotation: the 401 makes tether re-read its token file and retry at once', async () => {
    const t = await freshTether();
    kube.clearRequests();
    kube.rotateToken();
    await changeSurvives(t, 'rotated token', () => kube.faults.dropStreams());
    assert.ok(kube.requests.some((r) => r.status === 401), 'the old token was never refused');
    assert.ok(t.logs().some((l) => l.msg === 'token file changed'), 'no immediate retry after the 401');
    const last = kube.requests.filter((r) => /ingresses/.test(r.path)).at(-1);
    assert.equal(last.status, 200);
    await t.stop();
  });
});

describe('propagation and changes under load', SUITE, () => {
  const fx = fixture();
  let kube;
  let t;
  let ps;
  after(() => fx.close());
  before(async () => {
    kube = await fx.kube({ token: true });
    ps = await pods(fx, 20, 4, 'load');
    for (const o of [ingressClass(), service('load'), slice('load', ps),
      ingress('load', { rules: [{ host: 'load.test', paths: [{ path: '/', service: 'load' }] }] })]) kube.apply(o);
    t = await fx.tether({ kubeconfig: kube.writeKubeconfig(kube.tempDir('tether-kc-')), workers: 2 });
  });

  test('object written -> first request routed by the new table (median under 50 ms)', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const times = [];
    try {
      for (let i = 0; i < 40; i++) {
        const host = `p${i}.test`;
        const t0 = process.hrtime.bigint();
        kube.apply(ingress(`p${i}`, { rules: [{ host, paths: [{ path: '/', service: 'load' }] }] }));
        await until(async () => (await t.req('/', { host, agent })).status === 200, host, 5000 * SLOW, 1);
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    } finally {
      agent.destroy();
    }
    times.sort((a, b) => a - b);
    const median = times[times.length >> 1];
    const p90 = times[Math.floor(times.length * 0.9)];
    console.log(`# propagation: median ${median.toFixed(1)} ms, p90 ${p90.toFixed(1)} ms, max ${times.at(-1).toFixed(1)} ms over ${times.length} writes`);
    assert.ok(median < 50 * SLOW, `median propagation ${median.toFixed(1)} ms`);
  });

  test('100 EndpointSlice and Ingress changes under steady load fail no request', async (ctx) => {
    const wrk = await new Promise((resolve) => {
      const p = spawn('wrk', ['--version'], { stdio: 'ignore' });
      p.on('error', () => resolve(false));
      p.on('exit', () => resolve(true));
    });
    if (!wrk) return ctx.skip('wrk is not installed (scripts/deps.sh installs it)');
    const seconds = 6;
    const out = [];
    const load = spawn('wrk', ['-t1', '-c8', `-d${seconds}s`, '-H', 'Host: load.test',
      `http://127.0.0.1:${t.httpPort}/changes`], { stdio: ['ignore', 'pipe', 'pipe'] });
    fx.defer(() => load.kill('SIGKILL'));
    load.stdout.on('data', (d) => out.push(d));
    const done = new Promise((r) => load.on('exit', r));
    await sleep(300);
    const gen0 = (await t.admin('/metrics')).body.toString();
    // 50 EndpointSlice changes (always at least one ready pod) and 50 Ingress changes.
    for (let i = 0; i < 50; i++) {
      const k = 1 + (i % 4);
      kube.apply(slice('load', i % 2 ? ps.slice(0, k) : ps.slice(4 - k)));
      const extra = [{ path: `/extra${i}`, service: 'load' }];
      const ing = ingress('load', { rules: [{ host: 'load.test', paths: [{ path: '/', service: 'load' }, ...extra] }] });
      ing.metadata.annotations = { 'nginx.ingress.kubernetes.io/proxy-body-size': `${i + 1}m` };
      kube.apply(ing);
      await sleep(40);
    }
    await done;
    const text = Buffer.concat(out).toString();
    const total = Number(/(\d+) requests in/.exec(text)?.[1] ?? 0);
    assert.ok(total > 500 / SLOW, `too few requests:\n${text}`);
    assert.doesNotMatch(text, /Non-2xx or 3xx responses/, text);
    assert.doesNotMatch(text, /Socket errors/, text);
    const published = t.logs().filter((l) => l.msg === 'routes published').length;
    console.log(`# under load: ${total} requests, 0 failed, ${published} tables published, ${gen0.length > 0 ? 'metrics ok' : ''}`);
    assert.ok(published > 10, `only ${published} tables published`);
  });
});

describe('configuration sources', SUITE, () => {
  const fx = fixture();
  after(() => fx.close());

  test('kubectl apply and delete drive the routes', async (ctx) => {
    if (!findKubectl()) return ctx.skip('kubectl is not installed');
    // kubectl sends bearer tokens only over HTTPS.
    const kube = await fx.kube({ tls: true, token: true });
    const ps2 = await pods(fx, 40, 1, 'kc');
    const t = await fx.tether({ kubeconfig: kube.writeKubeconfig(kube.tempDir('tether-kc-'), { format: 'json' }), workers: 1 });
    const dir = kube.tempDir('tether-manifests-');
    const file = join(dir, 'app.yaml');
    writeFileSync(file, toYaml([ingressClass(), service('kc'), slice('kc', ps2),
      ingress('kc', { rules: [{ host: 'kc.test', paths: [{ path: '/', service: 'kc' }] }] })]));
    let r = await kubectl(kube, ['apply', '-f', file]);
    assert.equal(r.code, 0, r.stderr);
    await until(async () => (await podOf(t, 'kc.test')) === 'kc-0', 'the applied route');
    r = await kubectl(kube, ['delete', '-f', file]);
    assert.equal(r.code, 0, r.stderr);
    await until(async () => (await statusOf(t, 'kc.test')) === 404, 'the deleted route');
  });

  test('--watch-namespace: only that namespace is listed and served', async () => {
    const kube = await fx.kube();
    const [p] = await pods(fx, 50, 1, 'ns');
    for (const ns of ['team-a', 'team-b']) {
      for (const o of [service('svc', { ns }), { ...slice('svc', [p]), metadata: { ...slice('svc', [p]).metadata, namespace: ns } },
        ingress('app', { rules: [{ host: `${ns}.test`, paths: [{ path: '/', service: 'svc' }] }] })]) {
        o.metadata.namespace = ns;
        kube.apply(o);
      }
    }
    kube.apply(ingressClass());
    const t = await fx.tether({ kubeconfig: kube.writeKubeconfig(kube.tempDir('tether-kc-')), workers: 1, args: ['--watch-namespace', 'team-a'] });
    assert.equal(await statusOf(t, 'team-a.test'), 200);
    assert.equal(await statusOf(t, 'team-b.test'), 404);
    assert.ok(kube.requests.some((r) => r.path.startsWith('/apis/networking.k8s.io/v1/namespaces/team-a/ingresses')));
    assert.ok(!kube.requests.some((r) => r.path.startsWith('/apis/networking.k8s.io/v1/ingresses')));
  });

  test('--apiserver-host alone reaches a plain-HTTP API, and overrides a kubeconfig\'s server', async () => {
    const kube = await fx.kube();
    const [p] = await pods(fx, 60, 1, 'host');
    for (const o of [ingressClass(), service('svc'), slice('svc', [p]),
      ingress('app', { rules: [{ host: 'host.test', paths: [{ path: '/', service: 'svc' }] }] })]) kube.apply(o);
    const env = { HOME: '/nonexistent', KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' };
    const alone = await fx.tether({ apiserver: kube.url, workers: 1, env });
    assert.equal(await podOf(alone, 'host.test'), 'host-0');
    assert.match(alone.logs().find((l) => l.msg === 'serving').detail, /source=.*127\.0\.0\.1/);
    // A kubeconfig naming a dead server: the flag's URL wins.
    const dead = `http://127.0.0.1:${await freePort()}`;
    const kc = join(kube.tempDir('tether-kc-'), 'dead.json');
    writeFileSync(kc, JSON.stringify({ 'current-context': 'x', contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      clusters: [{ name: 'c', cluster: { server: dead } }], users: [{ name: 'u', user: {} }] }));
    const over = await fx.tether({ kubeconfig: kc, args: ['--apiserver-host', kube.url], workers: 1, env });
    assert.equal(await podOf(over, 'host.test'), 'host-0');
  });

  test('/readyz stays 503 until every kind has listed', async () => {
    const kube = await fx.kube();
    kube.apply(ingressClass());
    kube.faults.failNext(4, 503, { path: /endpointslices/ });
    const t = await fx.tether({ kubeconfig: kube.writeKubeconfig(kube.tempDir('tether-kc-')), workers: 1, ready: false });
    await until(async () => { try { return (await t.admin('/readyz')).status === 503; } catch { return false; } }, 'the admin listener');
    await until(() => kube.requests.some((r) => /endpointslices/.test(r.path) && r.status === 503), 'a failed list');
    assert.equal((await t.admin('/readyz')).status, 503);
    await t.waitReady(30000 * SLOW);
  });

  test('no API configuration: one clear line and a non-zero exit', async () => {
    const env = { ...process.env, HOME: '/nonexistent', KUBECONFIG: '' };
    delete env.KUBERNETES_SERVICE_HOST;
    const r = await runTether(['--http-port', '0'], 5000 * SLOW, env);
    assert.notEqual(r.code, 0);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /no Kubernetes API configuration: pass --kubeconfig, run in a cluster, or use --manifests/);
    const bad = await runTether(['--kubeconfig', '/nonexistent/kubeconfig'], 5000 * SLOW, env);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /\/nonexistent\/kubeconfig/);
  });
});
