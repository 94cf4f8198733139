// The mini cluster (test/kube/cluster.mjs) driven the way a user drives a real one: the
// walkthrough manifests go in with the real `kubectl apply -f`, `kubectl scale` starts and stops
// hello "pods" and the EndpointSlice follows, deletes clean up. Then tether watches the same
// stand-in and spreads requests over the pods, before and after a scale-up: what `make demo` and
// the browser test of issue #4 stand on.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { startKube } from '../kube/server.mjs';
import { startCluster } from '../kube/cluster.mjs';
import { request } from '../kube/client.mjs';
import { kubectl, findKubectl } from '../kube/kubectl.mjs';
import { fixture, who, sleep, until, SLOW, SUITE } from './lib/tether.mjs';

const STICKY = fileURLToPath(new URL('../../deploy/examples/sticky-sessions.yaml', import.meta.url));
const CANARY = fileURLToPath(new URL('../../deploy/examples/canary.yaml', import.meta.url));
const NO_KUBECTL = findKubectl() ? false : 'kubectl not found on PATH (scripts/deps.sh installs it)';
// Generated names: <deployment>-<pod-template-hash>-<5 chars> from the apiserver's alphabet.
const POD_NAME = /^deno-hello-[bcdfghjklmnpqrstvwxz2456789]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5}$/;


async function ok(kube, args) {
  const r = await kubectl(kube, args);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

// Connects to a pod address: the pod's name from x-pod, or the connect error code.
function probe(ip, port = 8000) {
  return new Promise((resolve) => {
    const s = net.connect({ host: ip, port });
    s.setTimeout(2000);
    s.on('connect', () => s.end('GET / HTTP/1.1\r\nHost: pod\r\nConnection: close\r\n\r\n'));
    let got = '';
    s.on('data', (d) => { got += d; });
    s.on('end', () => resolve(/x-pod: (\S+)/i.exec(got)?.[1] ?? 'no x-pod'));
    s.on('timeout', () => { s.destroy(); resolve('timeout'); });
    s.on('error', (e) => resolve(e.code));
  });
}

const slicesOf = (kube, svc) => kube.list('EndpointSlice', 'default')
  .filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] === svc);
const readyIps = (kube, svc) => slicesOf(kube, svc).flatMap((s) => s.endpoints)
  .filter((e) => e.conditions.ready).map((e) => e.addresses[0]).sort();
const podsOf = (cluster, dep) => cluster.pods('default').filter((p) => p.deployment === dep && !p.terminating);

describe('mini cluster driven by kubectl', { ...SUITE, skip: NO_KUBECTL }, () => {
  let kube;
  let cluster;
  before(async () => {
    kube = await startKube({ workloads: true });
    cluster = await startCluster(kube, { podNet: '127.0.77', firstHost: 11, terminationGraceMs: 100 });
  });
  after(async () => {
    await cluster?.close();
    await kube?.close();
  });

  test('apply the sticky-sessions walkthrough: 5 pods and a slice of 5 ready endpoints', async () => {
    await ok(kube, ['apply', '-f', STICKY]);
    await cluster.idle();
    const pods = podsOf(cluster, 'deno-hello');
    assert.equal(pods.length, 5);
    assert.deepEqual(pods.map((p) => p.ip), ['11', '12', '13', '14', '15'].map((h) => `127.0.77.${h}`),
      'addresses handed out in order');
    for (const p of pods) assert.match(p.name, POD_NAME);
    assert.equal(new Set(pods.map((p) => p.name.split('-')[2])).size, 1, 'one pod-template-hash');

    const listed = (await ok(kube, ['get', 'pods', '-o', 'name'])).trim().split('\n').sort();
    assert.deepEqual(listed, pods.map((p) => `pod/${p.name}`).sort());
    const obj = kube.get('Pod', 'default', pods[0].name);
    assert.equal(obj.status.phase, 'Running');
    assert.equal(obj.status.podIP, pods[0].ip);
    assert.equal(obj.status.conditions.find((c) => c.type === 'Ready').status, 'True');
    assert.equal(obj.metadata.labels.app, 'deno-hello');
    assert.equal(obj.metadata.labels['pod-template-hash'], pods[0].name.split('-')[2]);

    const [slice, ...more] = slicesOf(kube, 'deno-hello-service');
    assert.equal(more.length, 0, 'one slice');
    assert.match(slice.metadata.name, /^deno-hello-service-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    assert.equal(slice.metadata.labels['endpointslice.kubernetes.io/managed-by'], 'endpointslice-controller.k8s.io');
    assert.deepEqual(slice.ports, [{ name: 'deno-hello-port', port: 8000, protocol: 'TCP' }]);
    assert.equal(slice.endpoints.length, 5);
    for (const [i, e] of slice.endpoints.entries()) {
      assert.deepEqual(e.conditions, { ready: true, serving: true, terminating: false });
      assert.deepEqual([e.addresses[0], e.targetRef.kind, e.targetRef.name], [pods[i].ip, 'Pod', pods[i].name]);
      assert.equal(e.targetRef.uid, kube.get('Pod', 'default', pods[i].name).metadata.uid);
      assert.equal(e.nodeName, 'tether-local');
    }
    // Each pod answers as itself (MY_POD_NAME from the downward API), on its own address.
    for (const p of pods) assert.equal(await probe(p.ip), p.name);
    const dep = kube.get('Deployment', 'default', 'deno-hello');
    assert.deepEqual([dep.status.replicas, dep.status.readyReplicas, dep.status.observedGeneration], [5, 5, 1]);

    const again = await ok(kube, ['apply', '-f', STICKY]);
    assert.match(again, /deployment.apps\/deno-hello unchanged/);
  });

  test('kubectl scale --replicas=15 starts 10 more pods and fills the slice', async () => {
    const before = podsOf(cluster, 'deno-hello').map((p) => p.name);
    assert.match(await ok(kube, ['scale', 'deployment', 'deno-hello', '--replicas=15']), /scaled/);
    await cluster.idle();
    const pods = podsOf(cluster, 'deno-hello');
    assert.equal(pods.length, 15);
    assert.deepEqual(pods.slice(0, 5).map((p) => p.name), before, 'the first five keep running');
    assert.equal(new Set(pods.map((p) => p.ip)).size, 15);
    assert.deepEqual(readyIps(kube, 'deno-hello-service'), pods.map((p) => p.ip).sort());
    assert.equal(slicesOf(kube, 'deno-hello-service').length, 1);
    const scale = await request(kube, 'GET', '/apis/apps/v1/namespaces/default/deployments/deno-hello/scale');
    assert.deepEqual([scale.json.apiVersion, scale.json.kind, scale.json.spec.replicas, scale.json.status.replicas,
      scale.json.status.selector], ['autoscaling/v1', 'Scale', 15, 15, 'app=deno-hello']);
    for (const p of pods.slice(5)) assert.equal(await probe(p.ip), p.name);
  });

  test('scale to 2: the newest pods leave the slice (terminating first), then their servers close', async () => {
    const all = podsOf(cluster, 'deno-hello');
    const states = new Map();   // ip -> conditions it was seen with, in order
    const off = kube.store.subscribe((ev) => {
      if (ev.res !== 'endpointslices' || ev.type === 'DELETED') return;
      const ips = new Set();
      for (const e of ev.obj.endpoints) {
        ips.add(e.addresses[0]);
        const seen = states.get(e.addresses[0]) ?? [];
        const s = e.conditions.terminating ? 'terminating' : 'ready';
        if (seen.at(-1) !== s) states.set(e.addresses[0], [...seen, s]);
      }
      for (const [ip, seen] of states) if (!ips.has(ip) && seen.at(-1) !== 'gone') seen.push('gone');
    });
    try {
      await ok(kube, ['scale', 'deploy', 'deno-hello', '--replicas=2']);
      await cluster.idle();
    } finally {
      off();
    }
    const pods = podsOf(cluster, 'deno-hello');
    assert.deepEqual(pods.map((p) => p.name), all.slice(0, 2).map((p) => p.name), 'the two oldest stay');
    assert.equal(cluster.pods().length, 2, 'no pod left terminating');
    assert.deepEqual(readyIps(kube, 'deno-hello-service'), pods.map((p) => p.ip));
    assert.equal(slicesOf(kube, 'deno-hello-service')[0].endpoints.length, 2);
    for (const p of all.slice(2)) {
      assert.deepEqual(states.get(p.ip), ['terminating', 'gone'], p.ip);
      assert.equal(await probe(p.ip), 'ECONNREFUSED', `${p.name} still listens`);
      assert.equal(kube.get('Pod', 'default', p.name), null);
    }
    assert.equal(kube.get('Deployment', 'default', 'deno-hello').status.readyReplicas, 2);
  });

  test('a deleted pod is replaced on the lowest free address; a changed template rolls out', async () => {
    const [first, second] = podsOf(cluster, 'deno-hello');
    await ok(kube, ['delete', 'pod', first.name]);
    await cluster.idle();
    const now = podsOf(cluster, 'deno-hello');
    assert.equal(now.length, 2);
    assert.equal(now[0].name, second.name);
    assert.notEqual(now[1].name, first.name);
    assert.equal(now[1].ip, first.ip, 'the freed address is reused');
    assert.equal(await probe(now[1].ip), now[1].name);

    await ok(kube, ['set', 'image', 'deployment/deno-hello', 'deno-hello=irbull/deno-hello:v2']);
    await cluster.idle();
    const rolled = podsOf(cluster, 'deno-hello');
    assert.equal(rolled.length, 2);
    assert.notEqual(rolled[0].name.split('-')[2], now[0].name.split('-')[2], 'a new pod-template-hash');
    assert.equal(readyIps(kube, 'deno-hello-service').length, 2);
  });

  test('kubectl delete -f removes the pods and the slice', async () => {
    const ips = podsOf(cluster, 'deno-hello').map((p) => p.ip);
    await ok(kube, ['delete', '-f', STICKY]);
    await cluster.idle();
    assert.deepEqual(cluster.pods(), []);
    assert.deepEqual(kube.list('Pod'), []);
    assert.deepEqual(slicesOf(kube, 'deno-hello-service'), []);
    for (const ip of ips) assert.equal(await probe(ip), 'ECONNREFUSED');
  });

  test('the canary walkthrough: v1 and v2 pods say which image they run', async () => {
    await ok(kube, ['apply', '-f', CANARY]);
    await cluster.idle();
    const v1 = podsOf(cluster, 'shop-v1');
    const v2 = podsOf(cluster, 'shop-v2');
    assert.deepEqual([v1.length, v2.length], [3, 1]);
    for (const [pods, image, svc] of [[v1, 'example/shop:v1', 'shop-v1'], [v2, 'example/shop:v2', 'shop-v2']]) {
      assert.deepEqual(readyIps(kube, svc), pods.map((p) => p.ip).sort());
      for (const p of pods) {
        const r = await fetch(`http://${p.ip}:8000/`);
        assert.equal(r.headers.get('x-image'), image);
        assert.match(await r.text(), new RegExp(`Hello from ${p.name}.*\\n.*${image}`));
      }
    }
    await ok(kube, ['delete', '-f', CANARY]);
    await cluster.idle();
    assert.deepEqual(cluster.pods(), []);
  });
});

describe('mini cluster through the JS API', SUITE, () => {
  let kube;
  let cluster;
  let started = 0;
  let onStart = null;
  before(async () => {
    kube = await startKube({ workloads: true });
    cluster = await startCluster(kube, { podNet: '127.0.79', firstHost: 11, terminationGraceMs: 50,
      log: (msg) => { if (/ running on /.test(msg)) { started++; onStart?.(); } },
      images: { 'shop:v2': (pod) => (req, res) => res.writeHead(200, { 'x-pod': `v2-${pod.name}` }).end() } });
  });
  after(async () => {
    await cluster?.close();
    await kube?.close();
  });

  const deployment = (replicas, image = 'shop:v1') => ({ apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name: 'shop' }, spec: { replicas, selector: { matchLabels: { app: 'shop' } },
      template: { metadata: { labels: { app: 'shop' } },
        spec: { containers: [{ name: 'shop', image, ports: [{ name: 'web', containerPort: 9000 }] }] } } } });

  test('named target ports, the latest replica count wins, image handlers, Service delete, hand-made slices', async () => {
    kube.apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'shop' },
      spec: { selector: { app: 'shop' }, ports: [{ name: 'http', port: 80, targetPort: 'web' }] } });
    // A scale-down to 3 while the 10 pods are starting: the burst stops at 3.
    onStart = () => {
      onStart = null;
      setImmediate(() => kube.apply(deployment(3)));
    };
    kube.apply(deployment(10));
    await cluster.idle();
    const pods = podsOf(cluster, 'shop');
    assert.equal(pods.length, 3);
    assert.ok(started < 10, `${started} pods started`);
    assert.deepEqual(pods.map((p) => p.ports), [[9000], [9000], [9000]]);
    assert.deepEqual(slicesOf(kube, 'shop').map((s) => s.ports), [[{ name: 'http', port: 9000, protocol: 'TCP' }]]);
    assert.deepEqual(readyIps(kube, 'shop'), pods.map((p) => p.ip).sort());
    assert.equal(await probe(pods[0].ip, 9000), pods[0].name);

    kube.apply({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
      metadata: { name: 'shop-by-hand', labels: { 'kubernetes.io/service-name': 'shop' } },
      addressType: 'IPv4', ports: [{ name: 'http', port: 1 }], endpoints: [{ addresses: ['10.9.9.9'] }] });
    kube.apply(deployment(3, 'shop:v2'));
    await cluster.idle();
    const v2 = podsOf(cluster, 'shop');
    assert.equal(v2.length, 3);
    assert.deepEqual(await Promise.all(v2.map((p) => probe(p.ip, 9000))), v2.map((p) => `v2-${p.name}`));
    assert.ok(kube.get('EndpointSlice', 'default', 'shop-by-hand'), 'hand-made slice left alone');

    kube.remove('Service', 'default', 'shop');
    await cluster.idle();
    assert.deepEqual(slicesOf(kube, 'shop').map((s) => s.metadata.name), ['shop-by-hand']);
    assert.equal(podsOf(cluster, 'shop').length, 3, 'pods outlive their Service');
    kube.remove('Deployment', 'default', 'shop');
    await cluster.idle();
    assert.deepEqual(cluster.pods(), []);
  });
});

describe('stand-in workload types', SUITE, () => {
  let kube;
  let plain;
  before(async () => {
    kube = await startKube({ workloads: true });
    plain = await startKube();
  });
  after(async () => {
    await kube?.close();
    await plain?.close();
  });

  test('discovery lists apps/v1 Deployments (deploy, scale in autoscaling/v1) and Pods only when asked to', async () => {
    const apps = (await request(kube, 'GET', '/apis/apps/v1')).json.resources;
    const d = apps.find((r) => r.name === 'deployments');
    assert.deepEqual([d.kind, d.namespaced, d.shortNames], ['Deployment', true, ['deploy']]);
    const s = apps.find((r) => r.name === 'deployments/scale');
    assert.deepEqual([s.group, s.version, s.kind, s.verbs], ['autoscaling', 'v1', 'Scale', ['get', 'patch', 'update']]);
    assert.ok(apps.some((r) => r.name === 'deployments/status'));
    const core = (await request(kube, 'GET', '/api/v1')).json.resources;
    assert.deepEqual(core.find((r) => r.name === 'pods').shortNames, ['po']);
    const doc = (await request(kube, 'GET', (await request(kube, 'GET', '/openapi/v3')).json.paths['apis/apps/v1'].serverRelativeURL)).json;
    assert.deepEqual(doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale'].patch['x-kubernetes-group-version-kind'],
      { group: 'autoscaling', version: 'v1', kind: 'Scale' });

    assert.ok(!(await request(plain, 'GET', '/apis')).json.groups.some((g) => g.name === 'apps'));
    assert.equal((await request(plain, 'GET', '/apis/apps/v1')).status, 404);
    assert.equal((await request(plain, 'GET', '/api/v1/pods')).status, 404);
  });

  test('the scale subresource: GET, PUT with a resourceVersion, merge and JSON patches, errors', async () => {
    const path = '/apis/apps/v1/namespaces/default/deployments';
    const c = await request(kube, 'POST', path, { body: { apiVersion: 'apps/v1', kind: 'Deployment',
      metadata: { name: 'web' }, spec: { selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'web:1' }] } } } } });
    assert.equal(c.status, 201);
    assert.equal(c.json.spec.replicas, 1, 'defaulted');
    const sc = (await request(kube, 'GET', `${path}/web/scale`)).json;
    assert.deepEqual([sc.spec.replicas, sc.metadata.resourceVersion], [1, c.json.metadata.resourceVersion]);

    const put = await request(kube, 'PUT', `${path}/web/scale`, { body: { ...sc, spec: { replicas: 3 } } });
    assert.equal(put.status, 200);
    assert.equal(put.json.spec.replicas, 3);
    const dep = kube.get('Deployment', 'default', 'web');
    assert.deepEqual([dep.spec.replicas, dep.metadata.generation, dep.metadata.resourceVersion], [3, 2, put.json.metadata.resourceVersion]);
    const stale = await request(kube, 'PUT', `${path}/web/scale`, { body: { ...sc, spec: { replicas: 4 } } });
    assert.deepEqual([stale.status, stale.json.reason], [409, 'Conflict']);

    const mp = await request(kube, 'PATCH', `${path}/web/scale`, { body: { spec: { replicas: 5 } },
      contentType: 'application/merge-patch+json' });
    assert.equal(mp.json.spec.replicas, 5);
    const jp = await request(kube, 'PATCH', `${path}/web/scale`, { body: [{ op: 'replace', path: '/spec/replicas', value: 0 }],
      contentType: 'application/json-patch+json' });
    assert.equal(jp.json.spec.replicas, 0);
    assert.equal(kube.get('Deployment', 'default', 'web').spec.replicas, 0);

    const neg = await request(kube, 'PATCH', `${path}/web/scale`, { body: { spec: { replicas: -1 } },
      contentType: 'application/merge-patch+json' });
    assert.equal(neg.status, 422);
    assert.equal((await request(kube, 'GET', `${path}/nope/scale`)).status, 404);
    assert.equal((await request(kube, 'GET', '/api/v1/namespaces/default/services/x/scale')).status, 404);
  });
});

describe('tether in front of the mini cluster', { ...SUITE, skip: NO_KUBECTL }, () => {
  const fx = fixture();
  let kube;
  let cluster;
  let t;
  after(() => fx.close());
  before(async () => {
    kube = await fx.kube({ workloads: true });
    cluster = await startCluster(kube, { podNet: '127.0.78', firstHost: 11, terminationGraceMs: 100 });
    fx.defer(() => cluster.close());
    t = await fx.tether({ kubeconfig: kube.writeKubeconfig(kube.tempDir()), args: ['--ingress-class', 'nginx'], workers: 1 });
  });

  // Fresh connections without cookies: answers spread over every ready pod. Returns the names seen.
  async function spread(n) {
    const seen = new Map();
    for (let i = 0; i < n; i++) {
      const p = await who(t, 'hello.localhost', '/');
      seen.set(p, (seen.get(p) ?? 0) + 1);
    }
    return seen;
  }

  test('Host: hello.localhost reaches all 5 pods of the walkthrough, then all 8 after a scale-up', async () => {
    await ok(kube, ['apply', '-f', STICKY]);
    await cluster.idle();
    const five = podsOf(cluster, 'deno-hello').map((p) => p.name).sort();
    await until(async () => five.includes(await who(t, 'hello.localhost', '/')), 'a pod answering through tether');
    const seen = await until(async () => {
      const s = await spread(50);
      return s.size === 5 ? s : null;
    }, 'all five pods answering', 5000 * SLOW, 50);
    assert.deepEqual([...seen.keys()].sort(), five);

    await ok(kube, ['scale', 'deployment', 'deno-hello', '--replicas=8']);
    await cluster.idle();
    const eight = podsOf(cluster, 'deno-hello').map((p) => p.name).sort();
    assert.equal(eight.length, 8);
    const seen8 = await until(async () => {
      const s = await spread(80);
      return s.size === 8 ? s : null;
    }, 'all eight pods answering', 5000 * SLOW, 50);
    assert.deepEqual([...seen8.keys()].sort(), eight);
  });
});
