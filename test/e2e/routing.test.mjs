// Routing: host matching (exact, one-label wildcard, none), path matching (Exact, Prefix
// element-wise, ImplementationSpecific), longest match, defaultBackend, 404, Service port by name
// and number, round robin, not-ready endpoints, class selection.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  fixture, ingressClass, ingress, backend, service, endpointSlice, who, request, SUITE,
} from './lib/tether.mjs';

describe('routing', SUITE, () => {
  const fx = fixture();
  let t;
  const pods = {};
  after(() => fx.close());

  before(async () => {
    const names = ['exact', 'wild', 'exactwild', 'root', 'aaa', 'aaabbb', 'fooexact', 'fooprefix',
      'exactslash', 'impl', 'nohost', 'legacy', 'other', 'noclass', 'nsb', 'rr1', 'rr2', 'rr3',
      'ready', 'notready', 'web', 'metrics', 'ws1'];
    let i = 0;
    for (const n of names) pods[n] = await fx.echo({ host: `127.0.1.${++i}`, name: n });
    const P = (path, service, pathType = 'Prefix', port = 80) => ({ path, pathType, service, port });
    const objs = [
      ingressClass(),
      ingressClass('other', 'example.com/other-controller'),
      ingress('hosts', {
        rules: [
          { host: 'exact.test', paths: [P('/', 'exact')] },
          { host: '*.wild.test', paths: [P('/', 'wild')] },
          { host: 'a.wild.test', paths: [P('/', 'exactwild')] },
        ],
      }),
      ingress('paths', {
        ns: 'team-a',
        rules: [{
          host: 'paths.test',
          paths: [
            P('/', 'root'), P('/aaa', 'aaa'), P('/aaa/bbb', 'aaabbb'), P('/foo', 'fooexact', 'Exact'),
            P('/foo', 'fooprefix'), P('/exact/', 'exactslash', 'Exact'),
            P('/impl', 'impl', 'ImplementationSpecific'),
          ],
        }],
      }),
      ingress('nohost', { rules: [{ paths: [P('/nohost', 'nohost')] }] }),
      ingress('legacy', {
        className: null,
        annotations: { 'kubernetes.io/ingress.class': 'tether' },
        rules: [{ host: 'legacy.test', paths: [P('/', 'legacy')] }],
      }),
      ingress('other-class', { className: 'other', rules: [{ host: 'other.test', paths: [P('/', 'other')] }] }),
      ingress('no-class', { className: null, rules: [{ host: 'noclass.test', paths: [P('/', 'noclass')] }] }),
      ingress('rr', { rules: [{ host: 'rr.test', paths: [P('/', 'rr')] }] }),
      ingress('readiness', { rules: [{ host: 'ready.test', paths: [P('/', 'readysvc')] }] }),
      ingress('ports', {
        rules: [{
          host: 'ports.test',
          paths: [P('/web', 'multi', 'Prefix', 'web'), P('/metrics', 'multi', 'Prefix', 9090)],
        }],
      }),
      // Same Service name in two namespaces: each Ingress must resolve within its own namespace.
      ingress('ns-b', { ns: 'team-b', rules: [{ host: 'nsb.test', paths: [P('/', 'root')] }] }),
    ];
    for (const n of ['exact', 'wild', 'exactwild', 'nohost', 'legacy', 'other', 'noclass']) {
      objs.push(...backend(n, [pods[n]]));
    }
    for (const n of ['root', 'aaa', 'aaabbb', 'fooexact', 'fooprefix', 'exactslash', 'impl']) {
      objs.push(...backend(n, [pods[n]], { ns: 'team-a' }));
    }
    objs.push(...backend('root', [pods.nsb], { ns: 'team-b' }));
    objs.push(...backend('rr', [pods.rr1, pods.rr2, pods.rr3]));
    objs.push(...backend('readysvc', [pods.ready, { host: pods.notready.host, port: pods.notready.port, ready: false }]));
    // One Service with two ports (by name and by number in the Ingress); one slice per port name.
    objs.push(service('multi', { ports: [{ name: 'metrics', port: 9090 }, { name: 'web', port: 8080 }] }));
    objs.push(endpointSlice('multi-web', { service: 'multi', ports: [{ name: 'web', port: pods.web.port }], endpoints: [{ ip: pods.web.host }] }));
    objs.push(endpointSlice('multi-metrics', { service: 'multi', ports: [{ name: 'metrics', port: pods.metrics.port }], endpoints: [{ ip: pods.metrics.host }] }));
    t = await fx.tether({ objects: objs, workers: 1 });
  });

  test('exact host', async () => {
    assert.equal(await who(t, 'exact.test', '/'), 'exact');
    assert.equal(await who(t, 'exact.test', '/any/thing'), 'exact');
  });

  test('host match ignores the port and letter case', async () => {
    assert.equal(await who(t, 'exact.test:8080', '/'), 'exact');
    assert.equal(await who(t, 'EXACT.Test', '/'), 'exact');
  });

  test('wildcard host matches exactly one label', async () => {
    assert.equal(await who(t, 'x.wild.test', '/'), 'wild');
    assert.equal(await who(t, 'yy.wild.test', '/p'), 'wild');
    assert.equal(await who(t, 'a.b.wild.test', '/'), 404);
    assert.equal(await who(t, 'wild.test', '/'), 404);
  });

  test('exact host beats wildcard', async () => {
    assert.equal(await who(t, 'a.wild.test', '/'), 'exactwild');
  });

  test('unknown host without catch-all rule → 404', async () => {
    const r = await t.req('/', { host: 'unknown.test' });
    assert.equal(r.status, 404);
    assert.match(r.headers['content-type'] ?? '', /^text\/plain/);
  });

  test('rule without host applies to every host', async () => {
    assert.equal(await who(t, 'unknown.test', '/nohost'), 'nohost');
    assert.equal(await who(t, 'unknown2.test', '/nohost/deeper'), 'nohost');
    assert.equal(await who(t, 'unknown.test', '/nohostx'), 404);
  });

  test('Prefix matches element-wise, longest wins', async () => {
    const h = 'paths.test';
    assert.equal(await who(t, h, '/aaa'), 'aaa');
    assert.equal(await who(t, h, '/aaa/'), 'aaa');
    assert.equal(await who(t, h, '/aaa/ccc'), 'aaa');
    assert.equal(await who(t, h, '/aaa/bbb'), 'aaabbb');
    assert.equal(await who(t, h, '/aaa/bbb/'), 'aaabbb');
    assert.equal(await who(t, h, '/aaa/bbb/ccc'), 'aaabbb');
    assert.equal(await who(t, h, '/aaa/bbbxyz'), 'aaa');
    assert.equal(await who(t, h, '/aaaa'), 'root');
    assert.equal(await who(t, h, '/ccc'), 'root');
    assert.equal(await who(t, h, '/'), 'root');
  });

  test('Exact beats Prefix on the same path; Exact is exact', async () => {
    const h = 'paths.test';
    assert.equal(await who(t, h, '/foo'), 'fooexact');
    assert.equal(await who(t, h, '/foo/'), 'fooprefix');
    assert.equal(await who(t, h, '/foo/bar'), 'fooprefix');
    assert.equal(await who(t, h, '/exact/'), 'exactslash');
    assert.equal(await who(t, h, '/exact'), 'root');
  });

  test('query string is not part of the match and is forwarded', async () => {
    const r = await t.req('/foo?x=1&y=/aaa', { host: 'paths.test' });
    assert.equal(r.status, 200);
    const j = r.json();
    assert.equal(j.pod, 'fooexact');
    assert.equal(j.url, '/foo?x=1&y=/aaa');
  });

  test('path matching is case-sensitive', async () => {
    assert.equal(await who(t, 'paths.test', '/AAA'), 'root');
    assert.equal(await who(t, 'paths.test', '/FOO'), 'root');
  });

  test('ImplementationSpecific behaves as Prefix', async () => {
    assert.equal(await who(t, 'paths.test', '/impl'), 'impl');
    assert.equal(await who(t, 'paths.test', '/impl/x'), 'impl');
    assert.equal(await who(t, 'paths.test', '/implx'), 'root');
  });

  test('Services and EndpointSlices resolve within the Ingress namespace', async () => {
    for (let i = 0; i < 4; i++) {
      assert.equal(await who(t, 'nsb.test', `/${i}`), 'nsb');
      assert.equal(await who(t, 'paths.test', `/zzz/${i}`), 'root');
    }
  });

  test('IngressClass selection: legacy annotation yes, other class and no class no', async () => {
    assert.equal(await who(t, 'legacy.test', '/'), 'legacy');
    assert.equal(await who(t, 'other.test', '/'), 404);
    assert.equal(await who(t, 'noclass.test', '/'), 404);
    assert.equal(pods.other.stats.requests.length, 0);
    assert.equal(pods.noclass.stats.requests.length, 0);
  });

  test('Service port by name and by number select the right EndpointSlice port', async () => {
    assert.equal(await who(t, 'ports.test', '/web'), 'web');
    assert.equal(await who(t, 'ports.test', '/metrics'), 'metrics');
  });

  test('round robin across endpoints (new connection per request)', async () => {
    const seq = [];
    for (let i = 0; i < 9; i++) seq.push(await who(t, 'rr.test', `/r${i}`));
    const counts = {};
    for (const p of seq) counts[p] = (counts[p] ?? 0) + 1;
    assert.deepEqual(counts, { rr1: 3, rr2: 3, rr3: 3 }, `sequence: ${seq}`);
    for (let i = 1; i < seq.length; i++) assert.notEqual(seq[i], seq[i - 1], `sequence: ${seq}`);
  });

  test('round robin also applies within one keep-alive client connection', async () => {
    const http = await import('node:http');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const seq = [];
      const ports = new Set();
      for (let i = 0; i < 6; i++) {
        const r = await request(t.httpPort, { host: 'rr.test', path: '/ka', agent });
        assert.equal(r.status, 200);
        seq.push(r.json().pod);
        ports.add(r.socketLocalPort);
      }
      assert.equal(ports.size, 1, 'client connection was not kept alive');
      assert.equal(new Set(seq).size, 3, `sequence: ${seq}`);
    } finally {
      agent.destroy();
    }
  });

  test('endpoints with ready=false get no traffic', async () => {
    for (let i = 0; i < 6; i++) assert.equal(await who(t, 'ready.test', '/'), 'ready');
    assert.equal(pods.notready.stats.requests.length, 0);
  });

  test('access log names the route and the upstream', async () => {
    await t.req('/aaa/log-check', { host: 'paths.test' });
    const a = await t.waitAccess((l) => l.path === '/aaa/log-check');
    assert.ok(a, t.logText());
    assert.equal(a.route, 'team-a/paths');
    assert.equal(a.upstream, pods.aaa.addr);
    assert.equal(a.status, 200);
    assert.equal(a.host, 'paths.test');
    assert.equal(a.method, 'GET');
    await t.req('/nothing', { host: 'unknown.test' });
    const b = await t.waitAccess((l) => l.path === '/nothing');
    assert.ok(b);
    assert.equal(b.status, 404);
    assert.equal(b.upstream, null);
    assert.equal(b.route, null);
  });
});

describe('routing: defaultBackend and class flags', SUITE, () => {
  const fx = fixture();
  after(() => fx.close());

  test('Ingress spec.defaultBackend catches unmatched paths of its host', async () => {
    const x = await fx.echo({ host: '127.0.1.101', name: 'x' });
    const def = await fx.echo({ host: '127.0.1.102', name: 'def' });
    const t = await fx.tether({
      objects: [
        ingressClass(),
        ingress('with-default', {
          defaultBackend: { service: 'def', port: 80 },
          rules: [{ host: 'def.test', paths: [{ path: '/x', pathType: 'Exact', service: 'x' }] }],
        }),
        ...backend('x', [x]),
        ...backend('def', [def]),
      ],
    });
    assert.equal(await who(t, 'def.test', '/x'), 'x');
    assert.equal(await who(t, 'def.test', '/y'), 'def');
    assert.equal(await who(t, 'def.test', '/x/y'), 'def');
  });

  test('--watch-ingress-without-class serves class-less Ingresses', async () => {
    const p = await fx.echo({ host: '127.0.1.103', name: 'classless' });
    const objs = [
      ingressClass(),
      ingress('no-class', { className: null, rules: [{ host: 'noclass.test', paths: [{ path: '/', service: 's' }] }] }),
      ...backend('s', [p]),
    ];
    const off = await fx.tether({ objects: objs });
    assert.equal(await who(off, 'noclass.test', '/'), 404);
    const on = await fx.tether({ objects: objs, args: ['--watch-ingress-without-class'] });
    assert.equal(await who(on, 'noclass.test', '/'), 'classless');
  });

  test('--ingress-class / --controller-class choose which Ingresses are ours', async () => {
    const mine = await fx.echo({ host: '127.0.1.104', name: 'mine' });
    const notmine = await fx.echo({ host: '127.0.1.105', name: 'notmine' });
    const t = await fx.tether({
      objects: [
        ingressClass('tether'), // still claims the default controller value: no longer ours
        ingressClass('edge', 'example.com/edge'),
        ingress('mine', { className: 'edge', rules: [{ host: 'mine.test', paths: [{ path: '/', service: 'mine' }] }] }),
        ingress('legacy-mine', { className: null, annotations: { 'kubernetes.io/ingress.class': 'edge' }, rules: [{ host: 'legacy.test', paths: [{ path: '/', service: 'mine' }] }] }),
        ingress('notmine', { className: 'tether', rules: [{ host: 'notmine.test', paths: [{ path: '/', service: 'notmine' }] }] }),
        ...backend('mine', [mine]),
        ...backend('notmine', [notmine]),
      ],
      args: ['--ingress-class', 'edge', '--controller-class', 'example.com/edge'],
    });
    assert.equal(await who(t, 'mine.test', '/'), 'mine');
    assert.equal(await who(t, 'legacy.test', '/'), 'mine');
    assert.equal(await who(t, 'notmine.test', '/'), 404);
  });
});

// Several echo pods on one port number (127.0.1.x addresses), as in a real EndpointSlice where
// every endpoint shares the slice's ports[].
async function samePortPods(fx, hosts, prefix) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const first = await fx.echo({ host: hosts[0], name: `${prefix}0` });
    const pods = [first];
    try {
      for (let i = 1; i < hosts.length; i++) pods.push(await fx.echo({ host: hosts[i], name: `${prefix}${i}`, port: first.port }));
      return pods;
    } catch {
      for (const p of pods) await p.close();
    }
  }
  throw new Error('could not find a port free on every address');
}

describe('routing: EndpointSlice shapes', SUITE, () => {
  const fx = fixture();
  after(() => fx.close());

  test('one slice, several endpoints: round robin; ready=false skipped; missing conditions = ready', async () => {
    const pods = await samePortPods(fx, ['127.0.1.201', '127.0.1.202', '127.0.1.203', '127.0.1.204'], 'ep');
    const port = pods[0].port;
    const slice = endpointSlice('multi-0', { service: 'multi', ports: [{ name: 'http', port }], endpoints: [] });
    slice.endpoints = [
      { addresses: [pods[0].host], conditions: { ready: true } },
      { addresses: [pods[1].host] }, // no conditions at all: ready is nil → true
      { addresses: [pods[2].host], conditions: { ready: false, serving: true, terminating: true } },
      { addresses: [pods[3].host], conditions: { ready: true, serving: true, terminating: false } },
    ];
    const t = await fx.tether({
      objects: [ingressClass(), ingress('m', { rules: [{ host: 'm.test', paths: [{ path: '/', service: 'multi' }] }] }), service('multi'), slice],
      workers: 1,
    });
    const counts = {};
    for (let i = 0; i < 9; i++) {
      const p = await who(t, 'm.test', `/${i}`);
      counts[p] = (counts[p] ?? 0) + 1;
    }
    assert.deepEqual(counts, { ep0: 3, ep1: 3, ep3: 3 });
  });

  // ingress-nginx (endpointslices.go) turns every address of an endpoint into an upstream
  // server, and sticky cookies only stay compatible when tether's endpoint set is the same.
  test('every address of an endpoint is used, as ingress-nginx does', async () => {
    const pods = await samePortPods(fx, ['127.0.1.241', '127.0.1.242'], 'addr');
    const slice = endpointSlice('a-0', { service: 'addr', ports: [{ name: 'http', port: pods[0].port }], endpoints: [] });
    slice.endpoints = [{ addresses: [pods[0].host, pods[1].host], conditions: { ready: true } }];
    const t = await fx.tether({
      objects: [ingressClass(), ingress('a', { rules: [{ host: 'a.test', paths: [{ path: '/', service: 'addr' }] }] }), service('addr'), slice],
      workers: 1,
    });
    const seen = new Set();
    for (let i = 0; i < 4; i++) seen.add(await who(t, 'a.test', `/${i}`));
    assert.deepEqual([...seen].sort(), ['addr0', 'addr1']);
  });

  test('an endpoint listed in two slices is used once (dedupe by address and port)', async () => {
    const pods = await samePortPods(fx, ['127.0.1.211', '127.0.1.212', '127.0.1.213'], 'dd');
    const port = pods[0].port;
    const t = await fx.tether({
      objects: [
        ingressClass(),
        ingress('d', { rules: [{ host: 'd.test', paths: [{ path: '/', service: 'dd' }] }] }),
        service('dd'),
        endpointSlice('dd-a', { service: 'dd', ports: [{ name: 'http', port }], endpoints: [{ ip: pods[0].host }, { ip: pods[1].host }] }),
        endpointSlice('dd-b', { service: 'dd', ports: [{ name: 'http', port }], endpoints: [{ ip: pods[1].host }, { ip: pods[2].host }] }),
      ],
      workers: 1,
    });
    const counts = {};
    for (let i = 0; i < 9; i++) {
      const p = await who(t, 'd.test', `/${i}`);
      counts[p] = (counts[p] ?? 0) + 1;
    }
    assert.deepEqual(counts, { dd0: 3, dd1: 3, dd2: 3 });
  });

  test('single unnamed Service port matches the slice port with an empty or missing name', async () => {
    const a = await fx.echo({ host: '127.0.1.221', name: 'unnamed-a' });
    const b = await fx.echo({ host: '127.0.1.222', name: 'unnamed-b' });
    const svc = service('plain', { ports: [{ port: 8080 }] });
    delete svc.spec.ports[0].name;
    const s1 = endpointSlice('plain-1', { service: 'plain', ports: [{ name: '', port: a.port }], endpoints: [{ ip: a.host }] });
    const s2 = endpointSlice('plain-2', { service: 'plain', ports: [{ port: b.port }], endpoints: [{ ip: b.host }] });
    delete s2.ports[0].name;
    const t = await fx.tether({
      objects: [ingressClass(), ingress('u', { rules: [{ host: 'u.test', paths: [{ path: '/', service: 'plain', port: 8080 }] }] }), svc, s1, s2],
      workers: 1,
    });
    const seen = new Set();
    for (let i = 0; i < 4; i++) seen.add(await who(t, 'u.test', `/${i}`));
    assert.deepEqual([...seen].sort(), ['unnamed-a', 'unnamed-b']);
  });

  test('rules for one host from two Ingresses are merged; Prefix with trailing slash', async () => {
    const a = await fx.echo({ host: '127.0.1.231', name: 'merge-a' });
    const b = await fx.echo({ host: '127.0.1.232', name: 'merge-b' });
    const t = await fx.tether({
      objects: [
        ingressClass(),
        ingress('merge-a', { rules: [{ host: 'merge.test', paths: [{ path: '/a', service: 'ma' }] }] }),
        ingress('merge-b', { ns: 'other', rules: [{ host: 'merge.test', paths: [{ path: '/b/', service: 'mb' }] }] }),
        ...backend('ma', [a]),
        ...backend('mb', [b], { ns: 'other' }),
      ],
    });
    assert.equal(await who(t, 'merge.test', '/a'), 'merge-a');
    assert.equal(await who(t, 'merge.test', '/a/x'), 'merge-a');
    assert.equal(await who(t, 'merge.test', '/b'), 'merge-b');
    assert.equal(await who(t, 'merge.test', '/b/x'), 'merge-b');
    assert.equal(await who(t, 'merge.test', '/c'), 404);
    await t.req('/b/log', { host: 'merge.test' });
    const l = await t.waitAccess((x) => x.path === '/b/log');
    assert.equal(l?.route, 'other/merge-b');
  });
});
