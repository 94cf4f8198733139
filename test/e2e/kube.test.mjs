// The local Kubernetes API stand-in (test/kube/) checked against itself, over real HTTP and with
// the real kubectl: the end-to-end controller tests trust it, so its list/watch semantics, write
// semantics, auth/TLS and every fault switch are pinned down here.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { startKube } from '../kube/server.mjs';
import { request, rawWatch } from '../kube/client.mjs';
import { kubectl, findKubectl } from '../kube/kubectl.mjs';

const SUITE = { timeout: 120_000 };
const ING = '/apis/networking.k8s.io/v1';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const ingress = (ns, name, extra = {}) => ({
  apiVersion: 'networking.k8s.io/v1', kind: 'Ingress',
  metadata: { name, namespace: ns, ...(extra.metadata || {}) },
  spec: extra.spec || { rules: [{ host: `${name}.test`, http: { paths: [{ path: '/', pathType: 'Prefix',
    backend: { service: { name: 'echo', port: { number: 80 } } } }] } }] },
});
const ingPath = (ns, name = '') => `${ING}/namespaces/${ns}/ingresses${name ? `/${name}` : ''}`;

// Watches opened by a test are closed in its finally through this list.
function tracker() {
  const open = [];
  return {
    async watch(kube, path, opts) {
      const w = await rawWatch(kube, path, opts);
      open.push(w);
      return w;
    },
    closeAll() { for (const w of open.splice(0)) w.close(); },
  };
}

describe('kube stand-in over HTTP', SUITE, () => {
  let kube;
  const t = tracker();
  before(async () => { kube = await startKube(); });
  after(async () => { t.closeAll(); await kube.close(); });

  test('health, version, discovery and OpenAPI v3 documents', async () => {
    for (const p of ['/healthz', '/readyz', '/livez']) {
      const r = await request(kube, 'GET', p);
      assert.equal(r.status, 200);
      assert.equal(r.text, 'ok');
    }
    const v = await request(kube, 'GET', '/version?timeout=5s');
    assert.deepEqual([v.json.major, v.json.minor, v.json.gitVersion], ['1', '32', 'v1.32.0']);
    assert.deepEqual((await request(kube, 'GET', '/api')).json.versions, ['v1']);
    const apis = (await request(kube, 'GET', '/apis', {
      headers: { Accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' } }));
    assert.equal(apis.headers['content-type'], 'application/json');
    assert.deepEqual(apis.json.groups.map((g) => g.name).sort(), ['coordination.k8s.io', 'discovery.k8s.io', 'networking.k8s.io']);
    const net1 = (await request(kube, 'GET', ING)).json;
    assert.equal(net1.kind, 'APIResourceList');
    const ing = net1.resources.find((r) => r.name === 'ingresses');
    assert.deepEqual([ing.kind, ing.namespaced, ing.singularName, ing.shortNames], ['Ingress', true, 'ingress', ['ing']]);
    assert.ok(ing.verbs.includes('watch'));
    assert.deepEqual(net1.resources.find((r) => r.name === 'ingresses/status').verbs, ['get', 'patch', 'update']);
    assert.equal(net1.resources.find((r) => r.name === 'ingressclasses').namespaced, false);
    const core = (await request(kube, 'GET', '/api/v1')).json.resources.map((r) => r.name);
    for (const n of ['services', 'secrets', 'namespaces', 'events']) assert.ok(core.includes(n), n);
    const idx = (await request(kube, 'GET', '/openapi/v3')).json;
    const ref = idx.paths['apis/networking.k8s.io/v1'].serverRelativeURL;
    const doc = (await request(kube, 'GET', ref)).json;
    const item = doc.paths['/apis/networking.k8s.io/v1/namespaces/{namespace}/ingresses/{name}'];
    assert.deepEqual(item.patch['x-kubernetes-group-version-kind'], { group: 'networking.k8s.io', version: 'v1', kind: 'Ingress' });
    assert.ok(item.patch.parameters.some((p) => p.name === 'fieldValidation'));
    assert.equal((await request(kube, 'GET', '/openapi/v2')).status, 404);
    const nf = await request(kube, 'GET', '/apis/nope.example/v1/things');
    assert.equal(nf.status, 404);
    assert.equal(nf.json.kind, 'Status');
  });

  test('create, get, conflicts, generation, status subresource, no-op update, delete', async () => {
    const ns = 'crud';
    const c = await request(kube, 'POST', ingPath(ns), { body: { ...ingress(ns, 'a'), status: { loadBalancer: { ingress: [{ ip: '9.9.9.9' }] } } } });
    assert.equal(c.status, 201);
    const m = c.json.metadata;
    assert.match(m.uid, /^[0-9a-f-]{36}$/);
    assert.match(m.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(m.generation, 1);
    assert.equal(m.resourceVersion, kube.rv());
    assert.deepEqual(c.json.status, { loadBalancer: {} }, 'create ignores status (status subresource)');
    assert.equal(c.json.kind, 'Ingress');

    const dup = await request(kube, 'POST', ingPath(ns), { body: ingress(ns, 'a') });
    assert.equal(dup.status, 409);
    assert.equal(dup.json.reason, 'AlreadyExists');

    const miss = await request(kube, 'GET', ingPath(ns, 'nope'));
    assert.equal(miss.status, 404);
    assert.deepEqual(miss.json, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
      message: 'ingresses.networking.k8s.io "nope" not found', reason: 'NotFound',
      details: { name: 'nope', group: 'networking.k8s.io', kind: 'ingresses' }, code: 404 });
    for (const method of ['PATCH', 'DELETE']) {
      const r = await request(kube, method, ingPath(ns, 'nope'), { body: {}, contentType: 'application/merge-patch+json' });
      assert.equal(r.status, 404, method);
    }

    // Spec change: generation and RV move; status sent on the main resource is ignored.
    const upd = structuredClone(c.json);
    upd.spec.rules[0].host = 'b.test';
    upd.status = { loadBalancer: { ingress: [{ ip: '6.6.6.6' }] } };
    const u = await request(kube, 'PUT', ingPath(ns, 'a'), { body: upd });
    assert.equal(u.status, 200);
    assert.equal(u.json.metadata.generation, 2);
    assert.ok(Number(u.json.metadata.resourceVersion) > Number(m.resourceVersion));
    assert.deepEqual(u.json.status, { loadBalancer: {} });
    assert.equal(u.json.metadata.uid, m.uid);

    const stale = await request(kube, 'PUT', ingPath(ns, 'a'), { body: c.json });
    assert.equal(stale.status, 409);
    assert.equal(stale.json.reason, 'Conflict');
    assert.match(stale.json.message, /the object has been modified/);

    // /status: only status changes, generation stays.
    const st = structuredClone(u.json);
    st.status = { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } };
    st.spec.rules[0].host = 'ignored.test';
    const s = await request(kube, 'PUT', `${ingPath(ns, 'a')}/status`, { body: st });
    assert.equal(s.status, 200);
    assert.deepEqual(s.json.status.loadBalancer.ingress, [{ ip: '1.2.3.4' }]);
    assert.equal(s.json.spec.rules[0].host, 'b.test');
    assert.equal(s.json.metadata.generation, 2);

    // A write that changes nothing does not bump the RV (like the real storage layer).
    const before = kube.rv();
    const same = await request(kube, 'PUT', ingPath(ns, 'a'), { body: s.json });
    assert.equal(same.json.metadata.resourceVersion, s.json.metadata.resourceVersion);
    assert.equal(kube.rv(), before);

    const mp = await request(kube, 'PATCH', `${ingPath(ns, 'a')}/status`, { contentType: 'application/merge-patch+json',
      body: { status: { loadBalancer: { ingress: [{ hostname: 'lb.test' }] } } } });
    assert.equal(mp.status, 200);
    assert.deepEqual(mp.json.status.loadBalancer.ingress, [{ hostname: 'lb.test' }]);

    const dry = await request(kube, 'DELETE', `${ingPath(ns, 'a')}?dryRun=All`, { body: { propagationPolicy: 'Background' } });
    assert.equal(dry.status, 200);
    assert.ok(kube.get('Ingress', ns, 'a'), 'dryRun delete keeps the object');
    const dc = await request(kube, 'POST', `${ingPath(ns)}?dryRun=All`, { body: ingress(ns, 'dry') });
    assert.equal(dc.status, 201);
    assert.equal(kube.get('Ingress', ns, 'dry'), null, 'dryRun create does not persist');

    const d = await request(kube, 'DELETE', ingPath(ns, 'a'), { body: { propagationPolicy: 'Background' } });
    assert.equal(d.status, 200);
    assert.equal(d.json.metadata.name, 'a');
    assert.equal(d.json.metadata.resourceVersion, kube.rv(), 'deleted object carries the RV of the deletion');
    assert.equal((await request(kube, 'GET', ingPath(ns, 'a'))).status, 404);
  });

  test('patches: merge, JSON patch, strategic merge (Service ports by key), server-side apply', async () => {
    const ns = 'patch';
    const svcPath = `/api/v1/namespaces/${ns}/services`;
    const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', annotations: { keep: '1', drop: '2' } },
      spec: { selector: { app: 'echo' }, ports: [{ name: 'http', port: 8080, targetPort: 8080 }, { name: 'admin', port: 9090, targetPort: 9090 }] } };
    const c = await request(kube, 'POST', svcPath, { body: svc });
    assert.equal(c.status, 201);
    assert.equal(c.json.spec.ports[0].protocol, 'TCP', 'server defaulting');
    assert.ok(c.json.spec.clusterIP);
    // The body kubectl apply sends when one port changes (observed).
    const smp = await request(kube, 'PATCH', `${svcPath}/echo`, { contentType: 'application/strategic-merge-patch+json',
      body: { metadata: { annotations: { drop: null } },
        spec: { '$setElementOrder/ports': [{ port: 8080 }, { port: 9090 }], ports: [{ name: 'admin', port: 9090, targetPort: 9091 }] } } });
    assert.equal(smp.status, 200);
    assert.deepEqual(smp.json.spec.ports.map((p) => [p.port, p.targetPort]), [[8080, 8080], [9090, 9091]]);
    assert.deepEqual(smp.json.metadata.annotations, { keep: '1' });
    assert.equal(smp.json.spec.clusterIP, c.json.spec.clusterIP);
    const del = await request(kube, 'PATCH', `${svcPath}/echo`, { contentType: 'application/strategic-merge-patch+json',
      body: { spec: { ports: [{ port: 8080, $patch: 'delete' }] } } });
    assert.deepEqual(del.json.spec.ports.map((p) => p.port), [9090]);

    // Ingress lists are atomic: an SMP replaces rules whole.
    await request(kube, 'POST', ingPath(ns), { body: ingress(ns, 'i', { spec: { rules: [{ host: 'a.test' }, { host: 'b.test' }] } }) });
    const ir = await request(kube, 'PATCH', ingPath(ns, 'i'), { contentType: 'application/strategic-merge-patch+json',
      body: { spec: { rules: [{ host: 'c.test' }] } } });
    assert.deepEqual(ir.json.spec.rules, [{ host: 'c.test' }]);

    const mp = await request(kube, 'PATCH', ingPath(ns, 'i'), { contentType: 'application/merge-patch+json',
      body: { metadata: { labels: { a: 'b' } }, spec: { ingressClassName: 'x' } } });
    assert.equal(mp.json.metadata.labels.a, 'b');
    assert.equal(mp.json.metadata.generation, 3);

    const jp = await request(kube, 'PATCH', ingPath(ns, 'i'), { contentType: 'application/json-patch+json',
      body: [{ op: 'test', path: '/spec/ingressClassName', value: 'x' }, { op: 'replace', path: '/spec/ingressClassName', value: 'y' },
        { op: 'add', path: '/spec/rules/-', value: { host: 'd.test' } }, { op: 'remove', path: '/metadata/labels/a' }] });
    assert.equal(jp.status, 200);
    assert.equal(jp.json.spec.ingressClassName, 'y');
    assert.deepEqual(jp.json.spec.rules.map((r) => r.host), ['c.test', 'd.test']);
    assert.deepEqual(jp.json.metadata.labels, {});
    const jf = await request(kube, 'PATCH', ingPath(ns, 'i'), { contentType: 'application/json-patch+json',
      body: [{ op: 'test', path: '/spec/ingressClassName', value: 'nope' }] });
    assert.equal(jf.status, 422);

    const stalePatch = await request(kube, 'PATCH', ingPath(ns, 'i'), { contentType: 'application/merge-patch+json',
      body: { metadata: { resourceVersion: '1' }, spec: { ingressClassName: 'z' } } });
    assert.equal(stalePatch.status, 409);

    const bad = await request(kube, 'PATCH', ingPath(ns, 'i'), { contentType: 'text/plain', body: 'x' });
    assert.equal(bad.status, 415);

    // Server-side apply: upsert; keeps status; replaces spec and labels/annotations.
    const applyUrl = `${ingPath(ns, 'ssa')}?fieldManager=test&force=true`;
    const a1 = await request(kube, 'PATCH', applyUrl, { contentType: 'application/apply-patch+yaml', body: ingress(ns, 'ssa', { metadata: { labels: { v: '1' } } }) });
    assert.equal(a1.status, 201);
    await request(kube, 'PATCH', `${ingPath(ns, 'ssa')}/status`, { contentType: 'application/merge-patch+json',
      body: { status: { loadBalancer: { ingress: [{ ip: '5.5.5.5' }] } } } });
    const a2 = await request(kube, 'PATCH', applyUrl, { contentType: 'application/apply-patch+yaml',
      body: ingress(ns, 'ssa', { spec: { defaultBackend: { service: { name: 'x', port: { number: 1 } } } } }) });
    assert.equal(a2.status, 200);
    assert.equal(a2.json.spec.rules, undefined);
    assert.equal(a2.json.metadata.labels, undefined);
    assert.deepEqual(a2.json.status.loadBalancer.ingress, [{ ip: '5.5.5.5' }]);
    const yaml = await request(kube, 'PATCH', applyUrl, { contentType: 'application/apply-patch+yaml', body: 'kind: Ingress\n' });
    assert.equal(yaml.status, 415);
    assert.match(yaml.json.message, /JSON/);
    const noMgr = await request(kube, 'PATCH', ingPath(ns, 'ssa'), { contentType: 'application/apply-patch+yaml', body: ingress(ns, 'ssa') });
    assert.equal(noMgr.status, 400);
    const dry = await request(kube, 'PATCH', `${ingPath(ns, 'ssa2')}?fieldManager=test&dryRun=All`, { contentType: 'application/apply-patch+yaml', body: ingress(ns, 'ssa2') });
    assert.equal(dry.status, 201);
    assert.equal(kube.get('Ingress', ns, 'ssa2'), null);
  });

  test('LIST: shape, namespaces, selectors, paging, expired continue, too-large RV', async () => {
    const ns1 = 'list-a', ns2 = 'list-b';
    for (let i = 0; i < 5; i++) {
      kube.apply(ingress(ns1, `i${i}`, { metadata: { labels: { n: String(i), tier: i % 2 ? 'odd' : 'even', ...(i === 0 ? { special: '' } : {}) } } }));
    }
    kube.apply(ingress(ns2, 'other', { metadata: { labels: { tier: 'even' } } }));
    const all = (await request(kube, 'GET', `${ING}/ingresses`)).json;
    assert.equal(all.kind, 'IngressList');
    assert.equal(all.apiVersion, 'networking.k8s.io/v1');
    assert.equal(all.metadata.resourceVersion, kube.rv());
    for (const it of all.items) {
      assert.equal(it.kind, undefined, 'items carry no kind');
      assert.equal(it.apiVersion, undefined);
    }
    const one = (await request(kube, 'GET', ingPath(ns1))).json;
    assert.deepEqual(one.items.map((i) => i.metadata.name), ['i0', 'i1', 'i2', 'i3', 'i4']);

    const names = async (q, ns = ns1) => (await request(kube, 'GET', `${ingPath(ns)}?${q}`)).json.items.map((i) => i.metadata.name);
    const enc = encodeURIComponent;
    assert.deepEqual(await names(`labelSelector=${enc('tier=odd')}`), ['i1', 'i3']);
    assert.deepEqual(await names(`labelSelector=${enc('tier==odd')}`), ['i1', 'i3']);
    assert.deepEqual(await names(`labelSelector=${enc('tier!=odd')}`), ['i0', 'i2', 'i4']);
    assert.deepEqual(await names(`labelSelector=${enc('n in (1, 4)')}`), ['i1', 'i4']);
    assert.deepEqual(await names(`labelSelector=${enc('n notin (1,4),tier=even')}`), ['i0', 'i2']);
    assert.deepEqual(await names(`labelSelector=special`), ['i0']);
    assert.deepEqual(await names(`labelSelector=${enc('!special')}`), ['i1', 'i2', 'i3', 'i4']);
    assert.deepEqual(await names(`fieldSelector=${enc('metadata.name=i2')}`), ['i2']);
    assert.deepEqual(await names(`fieldSelector=${enc('metadata.name!=i2,metadata.namespace=list-a')}`), ['i0', 'i1', 'i3', 'i4']);
    const allNs = (await request(kube, 'GET', `${ING}/ingresses?fieldSelector=${enc('metadata.namespace=list-b')}`)).json;
    assert.deepEqual(allNs.items.map((i) => i.metadata.name), ['other']);
    const badField = await request(kube, 'GET', `${ingPath(ns1)}?fieldSelector=spec.ingressClassName%3Dx`);
    assert.equal(badField.status, 400);
    const badLabel = await request(kube, 'GET', `${ingPath(ns1)}?labelSelector=${enc('a in (')}`);
    assert.equal(badLabel.status, 400);

    // Secrets: the `type` field selector.
    kube.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'tls', namespace: ns1 }, type: 'kubernetes.io/tls', data: { 'tls.crt': '', 'tls.key': '' } });
    kube.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'plain', namespace: ns1 }, stringData: { a: 'b' } });
    const sec = (await request(kube, 'GET', `/api/v1/secrets?fieldSelector=${enc('type=kubernetes.io/tls')}`)).json;
    assert.deepEqual(sec.items.map((i) => i.metadata.name), ['tls']);
    assert.equal(kube.get('Secret', ns1, 'plain').data.a, Buffer.from('b').toString('base64'), 'stringData folded into data');

    // Paging: every page reports the first page's RV; the last page has no continue.
    const rv0 = kube.rv();
    const p1 = (await request(kube, 'GET', `${ingPath(ns1)}?limit=2&resourceVersion=0`)).json;
    assert.deepEqual(p1.items.map((i) => i.metadata.name), ['i0', 'i1']);
    assert.equal(p1.metadata.remainingItemCount, 3);
    assert.ok(p1.metadata.continue);
    kube.apply(ingress(ns1, 'i5'));   // a write between pages does not change the pages' RV
    const p2 = (await request(kube, 'GET', `${ingPath(ns1)}?limit=2&continue=${enc(p1.metadata.continue)}`)).json;
    assert.deepEqual(p2.items.map((i) => i.metadata.name), ['i2', 'i3']);
    assert.equal(p2.metadata.resourceVersion, rv0);
    const p3 = (await request(kube, 'GET', `${ingPath(ns1)}?limit=2&continue=${enc(p2.metadata.continue)}`)).json;
    assert.deepEqual(p3.items.map((i) => i.metadata.name), ['i4', 'i5']);
    assert.equal(p3.metadata.continue, undefined);

    const q1 = (await request(kube, 'GET', `${ingPath(ns1)}?limit=2`)).json;
    kube.faults.expireContinueTokens();
    const gone = await request(kube, 'GET', `${ingPath(ns1)}?limit=2&continue=${enc(q1.metadata.continue)}`);
    assert.equal(gone.status, 410);
    assert.equal(gone.json.reason, 'Expired');
    const garbage = await request(kube, 'GET', `${ingPath(ns1)}?limit=2&continue=garbage`);
    assert.equal(garbage.status, 400);

    for (const rv of ['', '0', kube.rv(), String(Number(kube.rv()) - 1)]) {
      assert.equal((await request(kube, 'GET', `${ingPath(ns1)}?resourceVersion=${rv}`)).status, 200, `rv ${rv}`);
    }
    const big = await request(kube, 'GET', `${ingPath(ns1)}?resourceVersion=${Number(kube.rv()) + 100}`);
    assert.equal(big.status, 504);
    assert.equal(big.json.details.causes[0].reason, 'ResourceVersionTooLarge');

    const nsl = (await request(kube, 'GET', '/api/v1/namespaces')).json;
    assert.equal(nsl.kind, 'NamespaceList');
    assert.ok(nsl.items.some((n) => n.metadata.name === 'default'));
  });

  test('WATCH: events strictly after RV, synthetic ADDED from RV 0, kind on event objects', async () => {
    const ns = 'watch-rv';
    try {
      kube.apply(ingress(ns, 'a'));
      const rvA = kube.rv();
      kube.apply(ingress(ns, 'b'));
      const w = await t.watch(kube, `${ingPath(ns)}?watch=true&resourceVersion=${rvA}&allowWatchBookmarks=true`);
      await w.until((x) => x.status === 200, 2000, 'headers');
      assert.equal(w.headers['content-type'], 'application/json');
      assert.equal(w.headers['transfer-encoding'], 'chunked');
      const modified = kube.apply({ ...ingress(ns, 'a'), spec: { defaultBackend: { service: { name: 'x', port: { number: 1 } } } } });
      const deleted = kube.remove('Ingress', ns, 'b');
      kube.bookmark();
      await w.until((x) => x.events.some((e) => e.type === 'BOOKMARK'), 3000, 'bookmark');
      const evs = w.events.filter((e) => e.type !== 'BOOKMARK');
      assert.deepEqual(evs.map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'b'], ['MODIFIED', 'a'], ['DELETED', 'b']]);
      for (const e of evs) assert.deepEqual([e.object.kind, e.object.apiVersion], ['Ingress', 'networking.k8s.io/v1']);
      assert.equal(evs[1].object.metadata.resourceVersion, modified.metadata.resourceVersion);
      assert.equal(evs[2].object.metadata.resourceVersion, deleted.metadata.resourceVersion);
      assert.equal(evs[2].object.spec.rules[0].host, 'b.test', 'DELETED carries the last state');
      const bm = w.events.find((e) => e.type === 'BOOKMARK').object;
      assert.deepEqual(bm, { kind: 'Ingress', apiVersion: 'networking.k8s.io/v1', metadata: { resourceVersion: kube.rv() } });

      for (const rv of ['0', '']) {
        const z = await t.watch(kube, `${ingPath(ns)}?watch=1&resourceVersion=${rv}`);
        await z.waitEvents(1);
        assert.deepEqual(z.events.map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'a']]);
        z.close();
      }
      // All-namespace watch sees other namespaces; namespaced watch does not.
      const allW = await t.watch(kube, `${ING}/ingresses?watch=true&resourceVersion=${kube.rv()}`);
      const nsW = await t.watch(kube, `${ingPath(ns)}?watch=true&resourceVersion=${kube.rv()}`);
      await allW.until((x) => x.status === 200);
      await nsW.until((x) => x.status === 200);
      kube.apply(ingress('elsewhere', 'z'));
      kube.apply(ingress(ns, 'c'));
      await allW.waitEvents(2);
      await nsW.waitEvents(1);
      assert.deepEqual(allW.events.map((e) => e.object.metadata.name), ['z', 'c']);
      assert.deepEqual(nsW.events.map((e) => e.object.metadata.name), ['c']);
      assert.equal(kube.watchers('Ingress'), 3);
      assert.equal(kube.watchers('ing'), 3);
      assert.equal(kube.watchers('Service'), 0);
    } finally {
      t.closeAll();
    }
  });

  test('WATCH: selectors filter events; an object that stops matching becomes DELETED', async () => {
    const ns = 'watch-sel';
    try {
      const w = await t.watch(kube, `${ingPath(ns)}?watch=true&resourceVersion=${kube.rv()}&labelSelector=app%3Dweb`);
      const f = await t.watch(kube, `${ingPath(ns)}?watch=true&resourceVersion=${kube.rv()}&fieldSelector=metadata.name%3Done`);
      await w.until((x) => x.status === 200);
      await f.until((x) => x.status === 200);
      kube.apply(ingress(ns, 'one', { metadata: { labels: { app: 'web' } } }));
      kube.apply(ingress(ns, 'two', { metadata: { labels: { app: 'db' } } }));
      kube.apply(ingress(ns, 'two', { metadata: { labels: { app: 'web' } } }));   // starts matching: ADDED
      const rvHide = kube.apply(ingress(ns, 'one', { metadata: { labels: { app: 'api' } } })).metadata.resourceVersion;
      await w.waitEvents(3);
      assert.deepEqual(w.events.map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'one'], ['ADDED', 'two'], ['DELETED', 'one']]);
      const hidden = w.events[2].object;
      assert.equal(hidden.metadata.labels.app, 'web', 'DELETED carries the previous (matching) state');
      assert.equal(hidden.metadata.resourceVersion, rvHide);
      await f.waitEvents(2);
      assert.deepEqual(f.events.map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'one'], ['MODIFIED', 'one']]);
    } finally {
      t.closeAll();
    }
  });

  test('WATCH: expired RV → 200 + ERROR 410; too-large RV → 504; timeoutSeconds ends cleanly', async () => {
    const ns = 'watch-exp';
    try {
      kube.apply(ingress(ns, 'a'));
      const old = kube.rv();
      kube.faults.expireHistory();
      const w = await t.watch(kube, `${ingPath(ns)}?watch=true&resourceVersion=${old}`);
      await w.waitClosed();
      assert.equal(w.status, 200);
      assert.equal(w.events.length, 1);
      const e = w.events[0];
      assert.equal(e.type, 'ERROR');
      assert.deepEqual(e.object, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
        message: `too old resource version: ${old} (${kube.rv()})`, reason: 'Expired', code: 410 });
      assert.ok(w.terminated, 'clean end after the ERROR');
      // A fresh LIST's RV is watchable again.
      const rv = (await request(kube, 'GET', ingPath(ns))).json.metadata.resourceVersion;
      const ok = await t.watch(kube, `${ingPath(ns)}?watch=true&resourceVersion=${rv}`);
      kube.apply(ingress(ns, 'b'));
      await ok.waitEvents(1);
      assert.equal(ok.events[0].type, 'ADDED');

      const big = await request(kube, 'GET', `${ingPath(ns)}?watch=true&resourceVersion=${Number(kube.rv()) + 5}`);
      assert.equal(big.status, 504);
      assert.equal(big.json.reason, 'Timeout');
      assert.match(big.json.message, /Too large resource version/);
      assert.equal(big.json.details.causes[0].reason, 'ResourceVersionTooLarge');

      const started = Date.now();
      const to = await t.watch(kube, `${ingPath(ns)}?watch=true&resourceVersion=${kube.rv()}&timeoutSeconds=1`);
      await to.waitClosed(4000);
      assert.ok(to.terminated, 'terminating chunk sent');
      assert.ok(Date.now() - started >= 900);
    } finally {
      t.closeAll();
    }
  });

  test('WATCH: bounded history window', async () => {
    const small = await startKube({ historyLimit: 3 });
    try {
      small.apply(ingress('h', 'a'));
      const rvOld = small.rv();
      for (let i = 0; i < 5; i++) small.apply(ingress('h', `x${i}`));
      const w = await rawWatch(small, `${ingPath('h')}?watch=true&resourceVersion=${rvOld}`);
      await w.waitClosed();
      assert.equal(w.events[0].type, 'ERROR');
      assert.equal(w.events[0].object.code, 410);
      const recent = String(Number(small.rv()) - 2);
      const r = await rawWatch(small, `${ingPath('h')}?watch=true&resourceVersion=${recent}`);
      await r.waitEvents(2);
      assert.deepEqual(r.events.map((e) => e.object.metadata.name), ['x3', 'x4']);
      r.close();
    } finally {
      await small.close();
    }
  });

  test('WATCH: periodic bookmarks only for watches that ask', async () => {
    const k = await startKube({ bookmarkIntervalMs: 100 });
    try {
      const b = await rawWatch(k, `${ingPath('bm')}?watch=true&resourceVersion=${k.rv()}&allowWatchBookmarks=true`);
      const n = await rawWatch(k, `${ingPath('bm')}?watch=true&resourceVersion=${k.rv()}`);
      await b.waitEvents(2, 2000);
      assert.ok(b.events.every((e) => e.type === 'BOOKMARK'));
      assert.equal(k.bookmark(), 1);
      await sleep(50);
      assert.equal(n.events.length, 0);
      b.close();
      n.close();
    } finally {
      await k.close();
    }
  });

  test('other types: cluster-scoped IngressClass, EndpointSlice, Lease leader-election writes, Event, deletecollection', async () => {
    const ic = await request(kube, 'POST', `${ING}/ingressclasses`, { body: { apiVersion: 'networking.k8s.io/v1', kind: 'IngressClass',
      metadata: { name: 'tether', namespace: 'ignored' }, spec: { controller: 'example.com/tether' } } });
    assert.equal(ic.status, 201);
    assert.equal(ic.json.metadata.namespace, undefined, 'cluster-scoped objects have no namespace');
    assert.equal((await request(kube, 'GET', `${ING}/ingressclasses/tether`)).status, 200);
    assert.equal((await request(kube, 'GET', `${ING}/namespaces/x/ingressclasses/tether`)).status, 404);
    assert.equal((await request(kube, 'GET', `${ING}/ingresses/x`)).status, 404, 'named namespaced object needs a namespace');

    const es = '/apis/discovery.k8s.io/v1/namespaces/eps/endpointslices';
    for (const [name, svc] of [['echo-1', 'echo'], ['echo-2', 'echo'], ['other-1', 'other']]) {
      const r = await request(kube, 'POST', es, { body: { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
        metadata: { name, labels: { 'kubernetes.io/service-name': svc } }, addressType: 'IPv4',
        ports: [{ name: 'http', port: 3000 }], endpoints: [{ addresses: ['10.0.0.1'] }] } });
      assert.equal(r.status, 201);
    }
    const sl = (await request(kube, 'GET', `/apis/discovery.k8s.io/v1/endpointslices?labelSelector=${encodeURIComponent('kubernetes.io/service-name=echo')}`)).json;
    assert.equal(sl.kind, 'EndpointSliceList');
    assert.deepEqual(sl.items.map((i) => i.metadata.name), ['echo-1', 'echo-2']);
    // EndpointSlice lists are atomic under SMP.
    const p = await request(kube, 'PATCH', `${es}/echo-1`, { contentType: 'application/strategic-merge-patch+json',
      body: { endpoints: [{ addresses: ['10.0.0.9'], conditions: { ready: false } }] } });
    assert.deepEqual(p.json.endpoints, [{ addresses: ['10.0.0.9'], conditions: { ready: false } }]);
    assert.equal(p.json.metadata.generation, 2);

    const lp = '/apis/coordination.k8s.io/v1/namespaces/tether/leases';
    assert.equal((await request(kube, 'GET', `${lp}/leader`)).status, 404);
    const l = await request(kube, 'POST', lp, { body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'leader' },
      spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } } });
    assert.equal(l.status, 201);
    const renew = structuredClone(l.json);
    renew.spec.renewTime = '2025-01-01T00:00:05.000000Z';
    const r1 = await request(kube, 'PUT', `${lp}/leader`, { body: renew });
    assert.equal(r1.status, 200);
    const rival = structuredClone(l.json);
    rival.spec.holderIdentity = 'b';
    assert.equal((await request(kube, 'PUT', `${lp}/leader`, { body: rival })).status, 409, 'lost the race');

    const ev = await request(kube, 'POST', '/api/v1/namespaces/tether/events', { body: { apiVersion: 'v1', kind: 'Event',
      metadata: { generateName: 'demo.' }, involvedObject: { kind: 'Ingress', name: 'demo', namespace: 'tether' }, reason: 'Sync', type: 'Normal', message: 'hi' } });
    assert.equal(ev.status, 201);
    assert.match(ev.json.metadata.name, /^demo\.[a-z0-9]{5}$/);
    const evl = (await request(kube, 'GET', '/api/v1/namespaces/tether/events?fieldSelector=involvedObject.name%3Ddemo')).json;
    assert.equal(evl.items.length, 1);

    const dc = await request(kube, 'DELETE', `${es}?labelSelector=${encodeURIComponent('kubernetes.io/service-name=echo')}`);
    assert.equal(dc.status, 200);
    assert.deepEqual(kube.list('EndpointSlice', 'eps').map((o) => o.metadata.name), ['other-1']);

    // Deleting a namespace empties it, like the namespace controller.
    kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'doomed' } });
    kube.apply(ingress('doomed', 'x'));
    kube.apply({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'doomed' } });
    assert.equal((await request(kube, 'DELETE', '/api/v1/namespaces/doomed')).status, 200);
    assert.equal(kube.get('Ingress', 'doomed', 'x'), null);
    assert.equal(kube.list('Secret', 'doomed').length, 0);

    const wrongKind = await request(kube, 'POST', ingPath('x'), { body: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'n' } } });
    assert.equal(wrongKind.status, 400);
    const notJson = await request(kube, 'POST', ingPath('x'), { body: '{nope' });
    assert.equal(notJson.status, 400);
    const proto = await request(kube, 'GET', ingPath('x'), { headers: { Accept: 'application/vnd.kubernetes.protobuf' } });
    assert.equal(proto.status, 406);
  });

  test('JS API: apply/create/get/list/remove emit the same events as HTTP writes', async () => {
    const ns = 'jsapi';
    const w = await t.watch(kube, `${ingPath(ns)}?watch=true&resourceVersion=${kube.rv()}`);
    try {
      const a = kube.apply({ ...ingress(ns, 'a'), status: { loadBalancer: { ingress: [{ ip: '1.1.1.1' }] } } });
      assert.deepEqual(a.status.loadBalancer.ingress, [{ ip: '1.1.1.1' }], 'direct access may seed status');
      const a2 = kube.apply(ingress(ns, 'a', { metadata: { labels: { x: 'y' } } }));
      assert.deepEqual(a2.status, a.status, 'apply without status keeps it');
      assert.equal(a2.metadata.uid, a.metadata.uid);
      assert.throws(() => kube.create(ingress(ns, 'a')), (e) => e.code === 409 && e.status.reason === 'AlreadyExists');
      kube.create(ingress(ns, 'b'));
      assert.deepEqual(kube.list('ingresses', ns).map((o) => [o.kind, o.metadata.name]), [['Ingress', 'a'], ['Ingress', 'b']]);
      const got = kube.get('Ingress', ns, 'a');
      got.metadata.name = 'mutated';
      assert.equal(kube.get('Ingress', ns, 'a').metadata.name, 'a', 'callers get copies');
      assert.equal(kube.remove('Ingress', ns, 'b').metadata.name, 'b');
      assert.equal(kube.remove('Ingress', ns, 'b'), null);
      assert.equal(kube.get('Ingress', ns, 'b'), null);
      await w.waitEvents(4);
      assert.deepEqual(w.events.map((e) => e.type), ['ADDED', 'MODIFIED', 'ADDED', 'DELETED']);
      assert.equal(w.events[3].object.metadata.resourceVersion, kube.rv());
    } finally {
      t.closeAll();
    }
  });

  test('requests log and watchers()', async () => {
    kube.clearRequests();
    await request(kube, 'GET', `${ingPath('log')}?limit=1`);
    await request(kube, 'GET', ingPath('log', 'missing'));
    assert.deepEqual(kube.requests.map((r) => [r.method, r.path, r.status]),
      [['GET', `${ingPath('log')}?limit=1`, 200], ['GET', ingPath('log', 'missing'), 404]]);
    kube.clearRequests();
    assert.equal(kube.requests.length, 0);
  });
});

describe('kube stand-in fault switches', SUITE, () => {
  let kube;
  const t = tracker();
  const ns = 'faults';
  before(async () => { kube = await startKube(); });
  after(async () => { t.closeAll(); await kube.close(); });
  const open = async (q = '') => {
    const w = await t.watch(kube, `${ingPath(ns)}?watch=true&resourceVersion=${kube.rv()}${q}`);
    await w.until((x) => x.status === 200, 2000, 'headers');
    return w;
  };

  test('dropStreams: FIN without terminator, RST, half an event, clean end', async () => {
    try {
      const a = await open();
      kube.apply(ingress(ns, 'a'));
      await a.waitEvents(1);
      assert.equal(kube.faults.dropStreams(), 1);
      await a.waitClosed();
      assert.equal(a.terminated, false);
      assert.equal(kube.watchers(), 0);

      const r = await open();
      kube.faults.dropStreams({ reset: true });
      await r.waitClosed();
      assert.equal(r.terminated, false);
      assert.equal(r.error?.code, 'ECONNRESET');

      const p = await open();
      kube.faults.dropStreams({ partial: true });
      await p.waitClosed();
      assert.equal(p.terminated, false);
      assert.ok(p.partial.startsWith('{"type":"MODIFIED"'), 'half an event was left');

      const c = await open();
      kube.faults.dropStreams({ clean: true });
      await c.waitClosed();
      assert.equal(c.terminated, true);
    } finally {
      t.closeAll();
    }
  });

  test('forceWatch410, forceWatchError and errorStreams', async () => {
    try {
      kube.faults.forceWatch410(2);
      for (let i = 0; i < 2; i++) {
        const w = await open();
        await w.waitClosed();
        assert.deepEqual([w.status, w.events.length, w.events[0].type, w.events[0].object.code, w.events[0].object.reason], [200, 1, 'ERROR', 410, 'Expired']);
      }
      const ok = await open();
      kube.apply(ingress(ns, 'f1'));
      await ok.waitEvents(1);
      assert.equal(ok.events[0].type, 'ADDED');
      kube.faults.forceWatchError(1, 500);
      const e5 = await open();
      await e5.waitClosed();
      assert.equal(e5.events[0].object.code, 500);
      assert.equal(e5.events[0].object.reason, 'InternalError');
      assert.equal(kube.faults.errorStreams(410), 1);
      await ok.waitClosed();
      assert.equal(ok.events.at(-1).type, 'ERROR');
      assert.equal(ok.terminated, true);
    } finally {
      t.closeAll();
    }
  });

  test('failNext: status, Retry-After, path filter, count', async () => {
    kube.faults.failNext(2, 429, { retryAfter: 3, path: /\/ingresses/ });
    const other = await request(kube, 'GET', '/api/v1/services');
    assert.equal(other.status, 200, 'path filter');
    for (let i = 0; i < 2; i++) {
      const r = await request(kube, 'GET', ingPath(ns));
      assert.equal(r.status, 429);
      assert.equal(r.headers['retry-after'], '3');
      assert.deepEqual([r.json.kind, r.json.reason, r.json.code, r.json.details.retryAfterSeconds], ['Status', 'TooManyRequests', 429, 3]);
    }
    assert.equal((await request(kube, 'GET', ingPath(ns))).status, 200);
    kube.faults.failNext(1, 503);
    const w = await request(kube, 'GET', `${ingPath(ns)}?watch=true`);
    assert.equal(w.status, 503, 'watch requests are API requests too');
    assert.equal(w.json.reason, 'ServiceUnavailable');
    kube.faults.failNext(1, 504);
    const tl = await request(kube, 'GET', ingPath(ns));
    assert.equal(tl.json.details.causes[0].reason, 'ResourceVersionTooLarge');
    assert.equal((await request(kube, 'GET', '/healthz')).status, 200);
  });

  test('splitChunks: one event in many small chunks, drip-fed', async () => {
    try {
      const w = await open();
      kube.faults.splitChunks(16);
      kube.faults.dripDelayMs = 2;
      const obj = kube.apply(ingress(ns, 'split'));
      await w.waitEvents(1, 5000);
      assert.ok(w.chunks.length > 5);
      assert.ok(w.chunks.every((c) => c.length <= 16));
      assert.equal(w.events[0].object.metadata.resourceVersion, obj.metadata.resourceVersion);
    } finally {
      kube.faults.reset();
      t.closeAll();
    }
  });

  test('coalesce: several events in one chunk', async () => {
    try {
      const w = await open();
      kube.faults.coalesce(true);
      for (let i = 0; i < 3; i++) kube.apply(ingress(ns, `co${i}`));
      await w.waitEvents(3);
      assert.equal(w.chunks.length, 1);
      assert.equal(w.chunks[0].toString().split('\n').length, 4);
    } finally {
      kube.faults.reset();
      t.closeAll();
    }
  });

  test('silence: events held back, then released in order', async () => {
    try {
      const w = await open();
      kube.faults.silence(400);
      const started = Date.now();
      kube.apply(ingress(ns, 's1'));
      kube.apply(ingress(ns, 's2'));
      await sleep(200);
      assert.equal(w.events.length, 0);
      await w.waitEvents(2, 2000);
      assert.ok(Date.now() - started >= 380);
      assert.deepEqual(w.events.map((e) => e.object.metadata.name), ['s1', 's2']);
    } finally {
      kube.faults.reset();
      t.closeAll();
    }
  });

  test('refuseConnections: port closed, then back on the same port with the same state', async () => {
    try {
      const w = await open();
      kube.apply(ingress(ns, 'keep'));
      const rv = kube.rv();
      const back = kube.faults.refuseConnections(300);
      await w.waitClosed();
      const err = await new Promise((resolve) => {
        const s = net.connect(kube.port, '127.0.0.1');
        s.on('connect', () => { s.destroy(); resolve(null); });
        s.on('error', resolve);
      });
      assert.equal(err?.code, 'ECONNREFUSED');
      kube.apply(ingress(ns, 'while-down'));
      await back;
      const r = await request(kube, 'GET', ingPath(ns, 'keep'));
      assert.equal(r.status, 200);
      const w2 = await open().catch(() => null);
      assert.ok(w2);
      const from = await t.watch(kube, `${ingPath(ns)}?watch=true&resourceVersion=${rv}`);
      await from.waitEvents(1);
      assert.equal(from.events[0].object.metadata.name, 'while-down');
      // Down until told otherwise.
      const back2 = kube.faults.refuseConnections();
      await assert.rejects(request(kube, 'GET', '/healthz'), /ECONNREFUSED/);
      kube.faults.acceptConnections();
      await back2;
      assert.equal((await request(kube, 'GET', '/healthz')).status, 200);
    } finally {
      t.closeAll();
    }
  });
});

describe('kube stand-in auth and TLS', SUITE, () => {
  let kube, dir;
  before(async () => {
    kube = await startKube({ tls: true, token: 'first-token' });
    dir = mkdtempSync(join(tmpdir(), 'kube-auth-'));
  });
  after(async () => { await kube.close(); rmSync(dir, { recursive: true, force: true }); });

  test('bearer token: missing/wrong → 401 Status, rotation revokes the old token', async () => {
    assert.match(kube.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal((await request(kube, 'GET', '/api/v1/namespaces')).status, 200);
    for (const token of [null, 'wrong']) {
      const r = await request(kube, 'GET', '/api/v1/namespaces', { token });
      assert.equal(r.status, 401);
      assert.deepEqual([r.json.kind, r.json.reason, r.json.code], ['Status', 'Unauthorized', 401]);
    }
    assert.equal((await request(kube, 'GET', '/version', { token: null })).status, 200, '/version is public');
    const kc = kube.writeKubeconfig(dir, { tokenFile: true });
    const tokenFile = readFileSync(kc, 'utf8').match(/tokenFile: "([^"]+)"/)[1];
    assert.equal(readFileSync(tokenFile, 'utf8'), 'first-token');
    const fresh = kube.rotateToken();
    assert.notEqual(fresh, 'first-token');
    assert.equal(kube.token, fresh);
    assert.equal(readFileSync(tokenFile, 'utf8'), fresh, 'token file rewritten');
    assert.equal((await request(kube, 'GET', '/api', { token: 'first-token' })).status, 401);
    assert.equal((await request(kube, 'GET', '/api')).status, 200);
  });

  test('TLS: CA verifies the server; unknown CA and badCert are refused; RST over TLS; JSON kubeconfig', async () => {
    assert.ok(existsSync(kube.caFile));
    assert.equal((await request(kube, 'GET', '/healthz')).status, 200);
    await assert.rejects(request(kube, 'GET', '/healthz', { ca: null }), /self[- ]signed|unable to (get|verify)/i);
    kube.faults.badCert(true);
    await assert.rejects(request(kube, 'GET', '/healthz'), /unable to (get|verify)|self[- ]signed|certificate/i);
    kube.faults.reset();
    assert.equal((await request(kube, 'GET', '/healthz')).status, 200);
    const w = await rawWatch(kube, '/api/v1/services?watch=true');
    await w.until((x) => x.status === 200);
    kube.faults.dropStreams({ reset: true });
    await w.waitClosed();
    assert.equal(w.error?.code, 'ECONNRESET', 'RST reaches a TLS client too');
    const js = JSON.parse(readFileSync(kube.writeKubeconfig(dir, { format: 'json', embedCA: true }), 'utf8'));
    assert.equal(js['current-context'], 'tether-kube');
    assert.equal(Buffer.from(js.clusters[0].cluster['certificate-authority-data'], 'base64').toString(), readFileSync(kube.caFile, 'utf8'));
    assert.equal(js.users[0].user.token, kube.token);
  });
});

describe('kube stand-in standalone', SUITE, () => {
  test('prints {url, kubeconfig} once listening and stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kube-cli-'));
    const server = join(dirname(fileURLToPath(import.meta.url)), '../kube/server.mjs');
    const child = spawn(process.execPath, [server, '--port', '0', '--tls', '--token', 'tok', '--dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const line = await new Promise((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
          if (out.includes('\n')) resolve(out.split('\n')[0]);
        });
        child.on('exit', (c) => reject(new Error(`exited ${c}`)));
      });
      const info = JSON.parse(line);
      assert.match(info.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      assert.ok(info.kubeconfig.startsWith(dir));
      assert.match(readFileSync(info.kubeconfig, 'utf8'), /current-context: "tether-kube"/);
      const fake = { url: info.url, caFile: info.caFile, token: 'tok' };
      assert.equal((await request(fake, 'GET', '/api')).status, 200);
      const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const haveKubectl = !!findKubectl();
const KSKIP = haveKubectl ? {} : { skip: 'kubectl is not on PATH (set $KUBECTL to use another binary)' };

describe('kube stand-in with the real kubectl', { ...SUITE, ...KSKIP }, () => {
  let kube, dir;
  before(async () => {
    kube = await startKube();
    dir = kube.tempDir('kube-kubectl-files-');
  });
  after(async () => { await kube.close(); });

  const manifest = (path, targetPort) => `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: cingress}
spec: {controller: example.com/c-ingress}
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  selector: {app: echo}
  ports:
  - {name: http, port: 8080, targetPort: ${targetPort}}
  - {name: admin, port: 9090, targetPort: 9091}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: echo-abc12, namespace: default, labels: {kubernetes.io/service-name: echo}}
addressType: IPv4
ports: [{name: http, port: 3000, protocol: TCP}]
endpoints: [{addresses: ["10.1.2.3"], conditions: {ready: true}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: demo, namespace: default}
spec:
  ingressClassName: cingress
  rules:
  - host: foo.test
    http:
      paths:
      - {path: ${path}, pathType: Prefix, backend: {service: {name: echo, port: {name: http}}}}
`;
  const ok = (r) => assert.equal(r.code, 0, `kubectl ${r.args.join(' ')}\n${r.stdout}\n${r.stderr}`);

  test('apply -f creates (POST 201), re-apply patches via SMP keeping both Service ports, delete -f removes', async () => {
    writeFileSync(join(dir, 'v1.yaml'), manifest('/a', 8080));
    writeFileSync(join(dir, 'v2.yaml'), manifest('/b', 8081));
    kube.clearRequests();
    const r1 = await kubectl(kube, ['apply', '-f', join(dir, 'v1.yaml')]);
    ok(r1);
    assert.match(r1.stdout, /ingress.networking.k8s.io\/demo created/);
    const posts = kube.requests.filter((q) => q.method === 'POST');
    assert.deepEqual(posts.map((q) => q.status), [201, 201, 201, 201]);
    assert.ok(kube.get('IngressClass', null, 'cingress'));
    assert.ok(kube.get('EndpointSlice', 'default', 'echo-abc12'));
    assert.ok(kube.get('Ingress', 'default', 'demo').metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']);

    kube.clearRequests();
    const r2 = await kubectl(kube, ['apply', '-f', join(dir, 'v2.yaml')]);
    ok(r2);
    const patches = kube.requests.filter((q) => q.method === 'PATCH');
    assert.deepEqual(patches.map((q) => [q.path.split('?')[0], q.contentType, q.status]), [
      ['/api/v1/namespaces/default/services/echo', 'application/strategic-merge-patch+json', 200],
      [ingPath('default', 'demo'), 'application/strategic-merge-patch+json', 200],
    ]);
    const svc = kube.get('Service', 'default', 'echo');
    assert.deepEqual(svc.spec.ports.map((p) => [p.name, p.port, p.targetPort]), [['http', 8080, 8081], ['admin', 9090, 9091]]);
    assert.equal(kube.get('Ingress', 'default', 'demo').spec.rules[0].http.paths[0].path, '/b');

    const r3 = await kubectl(kube, ['apply', '-f', join(dir, 'v2.yaml')]);
    ok(r3);
    assert.match(r3.stdout, /ingress.networking.k8s.io\/demo unchanged/);

    const get = await kubectl(kube, ['get', 'ing', '-o', 'json']);
    ok(get);
    const list = JSON.parse(get.stdout);
    assert.deepEqual(list.items.map((i) => [i.kind, i.metadata.name]), [['Ingress', 'demo']]);
    const table = await kubectl(kube, ['get', 'ing,svc']);
    ok(table);
    assert.match(table.stdout, /demo/);

    kube.clearRequests();
    const d = await kubectl(kube, ['delete', '-f', join(dir, 'v2.yaml')]);
    ok(d);
    assert.deepEqual(kube.requests.filter((q) => q.method === 'DELETE').map((q) => q.status), [200, 200, 200, 200]);
    for (const [k, ns, n] of [['IngressClass', null, 'cingress'], ['Service', 'default', 'echo'], ['EndpointSlice', 'default', 'echo-abc12'], ['Ingress', 'default', 'demo']]) {
      assert.equal(kube.get(k, ns, n), null, `${k} gone`);
    }
  });

  test('apply --server-side: PATCH apply-patch+yaml, 201 then 200', async () => {
    writeFileSync(join(dir, 'ss.yaml'), manifest('/ss', 8080));
    kube.clearRequests();
    ok(await kubectl(kube, ['apply', '--server-side', '-f', join(dir, 'ss.yaml')]));
    const first = kube.requests.filter((q) => q.method === 'PATCH');
    assert.equal(first.length, 4);
    assert.ok(first.every((q) => q.contentType === 'application/apply-patch+yaml' && q.status === 201));
    writeFileSync(join(dir, 'ss.yaml'), manifest('/ss2', 8080));
    kube.clearRequests();
    ok(await kubectl(kube, ['apply', '--server-side', '-f', join(dir, 'ss.yaml')]));
    assert.ok(kube.requests.filter((q) => q.method === 'PATCH').every((q) => q.status === 200));
    assert.equal(kube.get('Ingress', 'default', 'demo').spec.rules[0].http.paths[0].path, '/ss2');
    ok(await kubectl(kube, ['delete', '-f', join(dir, 'ss.yaml')]));
  });

  test('HTTPS with certificate-authority + tokenFile works; a wrong token is "must be logged in"', async () => {
    const k = await startKube({ tls: true, token: true });
    try {
      const good = await kubectl(k, ['get', 'ns', '-o', 'name'], { kubeconfigOpts: { tokenFile: true } });
      ok(good);
      assert.match(good.stdout, /namespace\/default/);
      k.rotateToken();
      ok(await kubectl(k, ['get', 'ns'], { kubeconfigOpts: { tokenFile: true } }));
      const bad = await kubectl(k, ['get', 'ns'], { kubeconfigOpts: { tokenFile: true, token: 'wrong' } });
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /must be logged in/);
    } finally {
      await k.close();
    }
  });
});
