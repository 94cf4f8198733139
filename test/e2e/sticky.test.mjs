// Sticky sessions (issue #4): every affinity annotation, the cookie ingress-nginx would issue,
// cookies issued by ingress-nginx routed to the pod it would pick, scale-up in both modes,
// change-on-failure, per host+path scoping, the access log, and two tether replicas (one
// restarted) agreeing on every cookie. Predictions come from test/e2e/lib/affinity.mjs, a
// JavaScript model of ingress-nginx's algorithms checked against the spec's vectors.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  fixture, ingressClass, ingress, service, endpointSlice, freePort, until, SUITE,
} from './lib/tether.mjs';
import { rawExchange, RawConn } from './lib/raw.mjs';
import {
  backendName, backendKey, nodeId, persistentKey, ring, ringLookup, parseSetCookie,
} from './lib/affinity.mjs';

const NET = 40;
const A = 'nginx.ingress.kubernetes.io/';
const HEX16 = /^[0-9a-f]{16}$/;
const HEX32 = /^[0-9a-f]{32}$/;

describe('sticky sessions', SUITE, () => {
  const fx = fixture();
  let kube;
  let kc;
  let t;
  let nextHost = 1;
  after(() => fx.close());

  // n echo pods on consecutive loopback addresses sharing one port, as a Service's endpoints do.
  async function pods(n, prefix) {
    const first = nextHost;
    nextHost += n;
    const port = await freePort(`127.0.${NET}.${first}`);
    const out = [];
    for (let i = 0; i < n; i++) {
      out.push(await fx.echo({ host: `127.0.${NET}.${first + i}`, port, name: `${prefix}-${i}` }));
    }
    return out;
  }
  // An address in the pods' range where nothing listens on |port|: a Ready pod that is dead.
  function deadPod(port, name) {
    return { host: `127.0.${NET}.${nextHost++}`, port, name };
  }
  const slice = (svc, ps) => endpointSlice(`${svc}-abc`, {
    service: svc, ports: [{ name: 'http', port: ps[0].port }], endpoints: ps.map((p) => ({ ip: p.host })),
  });
  const sticky = (extra = {}) => ({ [`${A}affinity`]: 'cookie', ...Object.fromEntries(
    Object.entries(extra).map(([k, v]) => [`${A}${k}`, v])) });

  // A Service with |ps| as endpoints and an Ingress for host/path; waits until it routes.
  async function app(name, ps, annotations, o = {}) {
    const host = o.host ?? `${name}.test`;
    const path = o.path ?? '/';
    kube.apply(service(name));
    kube.apply(slice(name, ps));
    kube.apply(ingress(name, { annotations, rules: [{ host, paths: [{ path, pathType: o.pathType, service: name }] }] }));
    await until(async () => (await t.req(o.probe ?? path, { host })).status !== 404, `${name} routed`);
    return { host, path, backend: backendName('default', name, 80), ids: ps.map((p) => nodeId(p.host, p.port)) };
  }

  // One GET: status, the answering pod, and the Set-Cookie headers it carried. Each request
  // carries its own X-Request-ID, which tether keeps, to find its access log line.
  let seq = 0;
  async function get(tt, host, path, cookie, headers = {}) {
    const requestId = `sticky-${process.pid}-${++seq}`;
    const r = await tt.req(path, {
      host, headers: { ...headers, 'x-request-id': requestId, ...(cookie !== undefined ? { cookie } : {}) },
    });
    const sc = r.headers['set-cookie'] ?? [];
    return {
      status: r.status,
      pod: r.status === 200 ? r.headers['x-pod'] : null,
      setCookies: sc,
      cookie: sc.length ? parseSetCookie(sc[sc.length - 1]) : null,
      requestId,
    };
  }
  const podById = (ps) => new Map(ps.map((p) => [nodeId(p.host, p.port), p.name]));
  const accessOf = (tt, requestId) => tt.waitAccess((l) => l.request_id === requestId);

  before(async () => {
    kube = await fx.kube({});
    kube.apply(ingressClass());
    kc = kube.writeKubeconfig(kube.tempDir('tether-kc-'));
    t = await fx.tether({ kubeconfig: kc, workers: 2 });
  });

  test('balanced (default): a new session gets <token>|<backend key>, Path = the rule path, HttpOnly, and keeps its pod', async () => {
    const ps = await pods(5, 'bal');
    const a = await app('bal', ps, sticky(), { path: '/app' });
    const points = ring(a.ids);
    const byId = podById(ps);
    const seen = new Set();
    for (let s = 0; s < 40; s++) {
      const first = await get(t, a.host, '/app/page');
      assert.equal(first.status, 200);
      assert.equal(first.setCookies.length, 1);
      const c = first.cookie;
      assert.equal(c.name, 'INGRESSCOOKIE');
      assert.deepEqual(c.attrs, [['Path', '/app'], ['HttpOnly', true]]);
      const [token, bkey, ...rest] = c.value.split('|');
      assert.match(token, HEX16);
      assert.equal(bkey, backendKey(a.backend), 'backend key as ingress-nginx computes it');
      assert.equal(rest.length, 0);
      assert.equal(first.pod, byId.get(ringLookup(points, token)), 'the pod the ring gives the token');
      seen.add(first.pod);
      if (s < 3) {
        const log = await accessOf(t, first.requestId);
        assert.equal(log.affinity, 'new');
        assert.equal(log.upstream, ringLookup(points, token));
        for (let i = 0; i < 20; i++) {
          const again = await get(t, a.host, '/app/other', `INGRESSCOOKIE=${c.value}`);
          assert.equal(again.pod, first.pod);
          assert.deepEqual(again.setCookies, [], 'a valid cookie is never re-sent');
        }
        const hit = await get(t, a.host, '/app', `INGRESSCOOKIE=${c.value}`);
        assert.equal((await accessOf(t, hit.requestId)).affinity, 'hit');
      }
    }
    assert.ok(seen.size >= 4, `40 new sessions reached only ${[...seen]}`);
    const metrics = (await t.admin('/metrics')).text;
    assert.match(metrics, /tether_affinity_decisions_total\{outcome="new"\} (\d+)/);
    assert.ok(Number(/outcome="new"\} (\d+)/.exec(metrics)[1]) >= 40);
    assert.ok(Number(/outcome="hit"\} (\d+)/.exec(metrics)[1]) >= 63);
  });

  test('balanced: cookies ingress-nginx issued (and legacy or foreign values) reach the pod its ring picks, with no new cookie', async () => {
    const ps = await pods(5, 'nx');
    const a = await app('nx', ps, sticky({ 'session-cookie-name': 'route' }));
    const points = ring(a.ids);
    const byId = podById(ps);
    const bk = backendKey(a.backend);
    const values = [];
    for (let i = 0; i < 60; i++) values.push(`${1795244891 + i}.${(i * 37) % 1000}.${12881 + i}.${357974 + i * 7}|${bk}`);
    values.push('1700000001.123.4821.77310'); // pre-2021 value without a backend key
    values.push(`1700000001.4821.77310|${backendKey('default-other-80')}`); // another backend's cookie
    values.push('anything-at-all', '|||x|y', 'x||');
    const hitPods = new Set();
    for (const v of values) {
      const r = await get(t, a.host, '/', `route=${v}`);
      const token = v.split('|').filter((p) => p)[0];
      assert.equal(r.pod, byId.get(ringLookup(points, token)), `value ${v}`);
      assert.deepEqual(r.setCookies, [], `value ${v}`);
      hitPods.add(r.pod);
    }
    assert.equal(hitPods.size, 5, 'the tokens spread over every pod');
    // Values with no non-empty piece count as no cookie.
    for (const v of ['', '|', '||']) {
      const r = await get(t, a.host, '/', `route=${v}`);
      assert.equal(r.setCookies.length, 1, `value "${v}"`);
    }
  });

  test('persistent: the cookie names the pod as md5(backend ++ ip:port); unknown keys re-bind with a new cookie', async () => {
    const ps = await pods(4, 'per');
    const a = await app('per', ps, sticky({ 'affinity-mode': 'persistent' }));
    const bk = backendKey(a.backend);
    const byKey = new Map(a.ids.map((id, i) => [persistentKey(a.backend, id), ps[i].name]));
    const first = await get(t, a.host, '/');
    const [key, bkey] = first.cookie.value.split('|');
    assert.match(key, HEX32);
    assert.equal(bkey, bk);
    assert.equal(first.pod, byKey.get(key));
    for (const [k, name] of byKey) {
      const r = await get(t, a.host, '/', `INGRESSCOOKIE=${k}|${bk}`);
      assert.equal(r.pod, name, 'the cookie ingress-nginx issued for this pod');
      assert.deepEqual(r.setCookies, []);
      // The backend key plays no part in routing within a backend; legacy values work too.
      assert.equal((await get(t, a.host, '/', `INGRESSCOOKIE=${k}`)).pod, name);
      assert.equal((await get(t, a.host, '/', `INGRESSCOOKIE=${k}|${backendKey('x-y-1')}`)).pod, name);
    }
    for (const bad of [persistentKey('default-other-80', a.ids[0]), a.ids[0], 'deadbeef'.repeat(4).toUpperCase(), 'garbage']) {
      const r = await get(t, a.host, '/', `INGRESSCOOKIE=${bad}|${bk}`);
      assert.equal(r.status, 200);
      assert.equal(r.setCookies.length, 1, `key ${bad} must be replaced`);
      const [nk] = r.cookie.value.split('|');
      assert.equal(r.pod, byKey.get(nk), 'the new cookie names the pod that answered');
      assert.equal((await accessOf(t, r.requestId)).affinity, 'rebind');
    }
    const none = await get(t, a.host, '/', 'INGRESSCOOKIE=');
    assert.equal((await accessOf(t, none.requestId)).affinity, 'new');
  });

  test('Set-Cookie attributes: name, Expires, Max-Age, Domain, Path, Secure, HttpOnly, SameSite in ingress-nginx order', async () => {
    const ps = await pods(2, 'attr');
    const a = await app('attr', ps, sticky({
      'session-cookie-name': 'sess', 'session-cookie-path': '/x', 'session-cookie-domain': '.attr.test',
      'session-cookie-samesite': 'Strict', 'session-cookie-expires': '3600', 'session-cookie-max-age': '7200',
      'session-cookie-secure': 'true', 'session-cookie-hash': 'sha1',
    }), { path: '/app' });
    const before = Date.now();
    const r = await get(t, a.host, '/app');
    const c = r.cookie;
    assert.equal(c.name, 'sess');
    assert.deepEqual(c.attrs.map(([k]) => k), ['Expires', 'Max-Age', 'Domain', 'Path', 'Secure', 'HttpOnly', 'SameSite']);
    const attrs = Object.fromEntries(c.attrs);
    assert.equal(attrs['Max-Age'], '7200');
    assert.equal(attrs.Domain, '.attr.test');
    assert.equal(attrs.Path, '/x');
    assert.equal(attrs.SameSite, 'Strict');
    // nginx's cookie_time: "Wdy, DD-Mon-YY HH:MM:SS GMT".
    const m = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d)-([A-Z][a-z]{2})-(\d\d) (\d\d):(\d\d):(\d\d) GMT$/.exec(attrs.Expires);
    assert.ok(m, attrs.Expires);
    const when = Date.parse(`${m[2]} ${m[3]} 20${m[4]} ${m[5]}:${m[6]}:${m[7]} GMT`);
    assert.ok(Math.abs(when - (before + 3600_000)) < 5000, `Expires ${attrs.Expires}`);
    assert.equal(new Date(when).toUTCString().slice(0, 3), m[1], 'weekday');
    assert.equal(t.logs().filter((l) => l.object === 'default/attr').length, 0, 'session-cookie-hash is accepted silently');
  });

  test('SameSite values and the conditional SameSite=None user-agent rules', async () => {
    const ps = await pods(1, 'ss');
    const lax = await app('ss-lax', ps, sticky({ 'session-cookie-samesite': 'lax' }));
    assert.deepEqual((await get(t, lax.host, '/')).cookie.attrs.at(-1), ['SameSite', 'Lax']);
    const none = await app('ss-none', ps, sticky({ 'session-cookie-samesite': 'None' }));
    const old = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/51.0.2704.84 Safari/537.36';
    assert.deepEqual((await get(t, none.host, '/', undefined, { 'user-agent': old })).cookie.attrs.at(-1),
      ['SameSite', 'None'], 'unconditional None is sent to every browser');
    const cond = await app('ss-cond', ps, sticky({
      'session-cookie-samesite': 'None', 'session-cookie-conditional-samesite-none': 'true',
    }));
    const uas = {
      [old]: false,
      'Mozilla/5.0 (iPhone; CPU iPhone OS 12_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.0 Mobile/15E148 Safari/604.1': false,
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.1.2 Safari/605.1.15': false,
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36': true,
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_6) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36': true,
      'curl/8.0': true,
    };
    for (const [ua, sendsNone] of Object.entries(uas)) {
      const attrs = (await get(t, cond.host, '/', undefined, { 'user-agent': ua })).cookie.attrs;
      assert.equal(attrs.some(([k, v]) => k === 'SameSite' && v === 'None'), sendsNone, ua);
      assert.equal(attrs.length, sendsNone ? 3 : 2, ua);
    }
    assert.deepEqual((await get(t, cond.host, '/')).cookie.attrs.at(-1), ['SameSite', 'None'], 'no User-Agent: compatible');
  });

  test('the cookie Path defaults to the matched rule path as written, per pathType', async () => {
    const ps = await pods(1, 'paths');
    kube.apply(service('paths'));
    kube.apply(slice('paths', ps));
    kube.apply(ingress('paths', {
      annotations: sticky(),
      rules: [{
        host: 'paths.test',
        paths: [
          { path: '/exact/page', pathType: 'Exact', service: 'paths' },
          { path: '/pre/', pathType: 'Prefix', service: 'paths' },
          { path: '/impl', pathType: 'ImplementationSpecific', service: 'paths' },
        ],
      }],
    }));
    await until(async () => (await t.req('/impl', { host: 'paths.test' })).status === 200, 'paths routed');
    const pathOf = async (p) => Object.fromEntries((await get(t, 'paths.test', p)).cookie.attrs).Path;
    assert.equal(await pathOf('/exact/page'), '/exact/page');
    assert.equal(await pathOf('/pre/deeper/still'), '/pre/');
    assert.equal(await pathOf('/impl/x'), '/impl');
  });

  test('bad annotation values are logged with the Ingress, the annotation and the value, and treated as absent', async () => {
    const ps = await pods(1, 'badv');
    const a = await app('badv', ps, sticky({
      'affinity-mode': 'sticky-ish', 'session-cookie-name': 'bad name;', 'session-cookie-samesite': 'Sometimes',
      'session-cookie-expires': '12h', 'session-cookie-max-age': '1e3', 'session-cookie-secure': 'yes',
      'session-cookie-change-on-failure': 'maybe', 'session-cookie-path': '/a;b',
      'session-cookie-domain': 'evil.test; Secure',
    }), { path: '/p' });
    const r = await get(t, a.host, '/p');
    assert.equal(r.cookie.name, 'INGRESSCOOKIE');
    assert.match(r.cookie.value.split('|')[0], HEX16, 'balanced mode');
    assert.deepEqual(r.cookie.attrs, [['Path', '/p'], ['HttpOnly', true]]);
    const logs = await until(() => {
      const l = t.logs().filter((x) => x.object === 'default/badv' && x.level === 'warn');
      return l.length >= 9 && l;
    }, 'nine reports');
    for (const [key, value] of [['affinity-mode', 'sticky-ish'], ['session-cookie-name', 'bad name;'],
      ['session-cookie-samesite', 'Sometimes'], ['session-cookie-expires', '12h'], ['session-cookie-max-age', '1e3'],
      ['session-cookie-secure', 'yes'], ['session-cookie-change-on-failure', 'maybe'], ['session-cookie-path', '/a;b'],
      ['session-cookie-domain', 'evil.test; Secure']]) {
      const hits = logs.filter((l) => l.reason.includes(`${A}${key}`) && l.reason.includes(`"${value}"`));
      assert.equal(hits.length, 1, `one report for ${key}: ${JSON.stringify(logs.map((l) => l.reason))}`);
    }
    // affinity itself invalid: not sticky at all, and the access log says so.
    const b = await app('badaff', ps, { [`${A}affinity`]: 'ip', [`${A}session-cookie-name`]: 'x' });
    const plain = await get(t, b.host, '/');
    assert.deepEqual(plain.setCookies, []);
    assert.equal((await accessOf(t, plain.requestId)).affinity, null);
    assert.ok(await t.waitLog((l) => l.object === 'default/badaff' && /affinity: "ip"/.test(l.reason)));
  });

  test('a defaultBackend never issues cookies (ingress-nginx registers no cookie location for it)', async () => {
    const ps = await pods(1, 'defb');
    kube.apply(service('defb'));
    kube.apply(slice('defb', ps));
    kube.apply(ingress('defb', {
      annotations: sticky(), defaultBackend: { service: 'defb' },
      rules: [{ host: 'defb.test', paths: [{ path: '/sticky', service: 'defb' }] }],
    }));
    await until(async () => (await t.req('/sticky', { host: 'defb.test' })).status === 200, 'defb routed');
    assert.equal((await get(t, 'defb.test', '/sticky')).setCookies.length, 1);
    const other = await get(t, 'defb.test', '/elsewhere');
    assert.equal(other.status, 200);
    assert.deepEqual(other.setCookies, []);
    // On one kept-alive connection: a sticky answer that issued a cookie, then default-backend
    // and local answers, which must carry none.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const ports = new Set();
      for (const [path, host, status, cookies] of [['/sticky', 'defb.test', 200, 1], ['/elsewhere', 'defb.test', 200, 0],
        ['/sticky', 'defb.test', 200, 1], ['/', 'nothing.test', 200, 0], ['/sticky', 'defb.test', 200, 1]]) {
        const r = await t.req(path, { host, agent });
        assert.equal(r.status, status, `${host}${path}`);
        assert.equal((r.headers['set-cookie'] ?? []).length, cookies, `${host}${path}`);
        ports.add(r.socketLocalPort);
      }
      assert.equal(ports.size, 1, 'one connection');
    } finally {
      agent.destroy();
    }
    // Its defaultBackend is the table-wide one while it exists: remove it for the other tests.
    kube.remove('Ingress', 'default', 'defb');
    await until(async () => (await t.req('/', { host: 'nothing.test' })).status === 404, 'defb gone');
  });

  test('change-on-failure: a dead pinned pod fails over to another pod with a new cookie; without it retries stay on the pin (502)', async () => {
    const live = await pods(3, 'cof');
    const dead = deadPod(live[0].port, 'cof-dead');
    const all = [...live, dead];
    kube.apply(service('cof'));
    kube.apply(slice('cof', all));
    const rules = (host) => [{ host, paths: [{ path: '/', service: 'cof' }] }];
    kube.apply(ingress('cof-on', { annotations: sticky({ 'affinity-mode': 'persistent', 'session-cookie-change-on-failure': 'true' }), rules: rules('on.cof.test') }));
    kube.apply(ingress('cof-off', { annotations: sticky({ 'affinity-mode': 'persistent' }), rules: rules('off.cof.test') }));
    kube.apply(ingress('cof-bal', { annotations: sticky({ 'session-cookie-change-on-failure': 'true' }), rules: rules('bal.cof.test') }));
    for (const h of ['on', 'off', 'bal']) {
      await until(async () => (await t.req('/', { host: `${h}.cof.test` })).status !== 404, `${h} routed`);
    }
    const name = backendName('default', 'cof', 80);
    const bk = backendKey(name);
    const deadId = nodeId(dead.host, dead.port);
    const byKey = new Map(live.map((p) => [persistentKey(name, nodeId(p.host, p.port)), p.name]));
    const deadCookie = `INGRESSCOOKIE=${persistentKey(name, deadId)}|${bk}`;
    const failsOn = (up, requestId) => t.logs().filter((l) => l.msg === 'upstream connect failed' && l.upstream === up &&
      l.request_id === requestId).length;

    const on = await get(t, 'on.cof.test', '/', deadCookie);
    assert.equal(on.status, 200);
    assert.equal(on.setCookies.length, 1);
    const [newKey, newBk] = on.cookie.value.split('|');
    assert.equal(newBk, bk);
    assert.equal(byKey.get(newKey), on.pod, 'the new cookie pins the pod that answered');
    assert.equal((await accessOf(t, on.requestId)).affinity, 'failover');
    const next = await get(t, 'on.cof.test', '/', `INGRESSCOOKIE=${on.cookie.value}`);
    assert.equal(next.pod, on.pod);
    assert.deepEqual(next.setCookies, []);

    const off = await get(t, 'off.cof.test', '/', deadCookie);
    assert.equal(off.status, 502);
    assert.deepEqual(off.setCookies, []);
    await until(() => failsOn(deadId, off.requestId) >= 3, 'three attempts logged');
    await t.waitAccess((l) => l.request_id === off.requestId);
    assert.equal(failsOn(deadId, off.requestId), 3, 'all three tries on the pinned pod');
    const offLog = await accessOf(t, off.requestId);
    assert.equal(offLog.affinity, 'hit');
    assert.equal(offLog.upstream, deadId, 'the access line names the endpoint that failed');

    // Balanced: a token whose ring point belongs to the dead pod.
    const points = ring(all.map((p) => nodeId(p.host, p.port)));
    let token = null;
    for (let i = 0; token === null; i++) if (ringLookup(points, `t${i}`) === deadId) token = `t${i}`;
    const bal = await get(t, 'bal.cof.test', '/', `INGRESSCOOKIE=${token}|${bk}`);
    assert.equal(bal.status, 200);
    const [btok] = bal.cookie.value.split('|');
    assert.equal(ringLookup(points, btok), nodeId(live.find((p) => p.name === bal.pod).host, live[0].port));
    assert.equal((await accessOf(t, bal.requestId)).affinity, 'failover');
  });

  test('a new session retried past dead pods gets the cookie of the pod that answered', async () => {
    const live = await pods(1, 'retry');
    const all = [deadPod(live[0].port, 'retry-d1'), ...live, deadPod(live[0].port, 'retry-d2')];
    const a = await app('retry', all, sticky({ 'affinity-mode': 'persistent' }));
    const liveKey = persistentKey(a.backend, nodeId(live[0].host, live[0].port));
    for (let i = 0; i < 6; i++) {
      const r = await get(t, a.host, '/');
      assert.equal(r.status, 200);
      assert.equal(r.pod, 'retry-0');
      assert.equal(r.setCookies.length, 1, 'one Set-Cookie: the last one made');
      assert.equal(r.cookie.value.split('|')[0], liveKey);
    }
  });

  test('a pinned session on a one-pod Service gets every retry ingress-nginx gives it', async () => {
    const dead = deadPod(await freePort(`127.0.${NET}.${nextHost}`), 'lonely');
    const a = await app('lonely', [dead], sticky({ 'affinity-mode': 'persistent' }), { probe: '/' });
    const id = nodeId(dead.host, dead.port);
    const r = await get(t, a.host, '/', `INGRESSCOOKIE=${persistentKey(a.backend, id)}`);
    const fails = () => t.logs().filter((l) => l.msg === 'upstream connect failed' && l.request_id === r.requestId &&
      l.upstream === id).length;
    assert.equal(r.status, 502);
    await until(() => fails() >= 3, 'three attempts');
    assert.equal(fails(), 3, '--proxy-next-upstream-tries (3) attempts on the one endpoint');
  });

  test('the next request on a kept-alive connection starts clean: a bad one after a sticky HEAD gets a full 400', async () => {
    const ps = await pods(1, 'clean');
    const a = await app('clean', ps, sticky());
    const c = await RawConn.connect(t.httpPort);
    try {
      c.headRequests = 1;
      await c.write(`HEAD / HTTP/1.1\r\nHost: ${a.host}\r\nX-Request-ID: clean-1\r\n\r\n`);
      await c.waitResponses(1);
      assert.equal(c.responses[0].statusCode, 200);
      assert.ok(c.responses[0].headers['set-cookie']);
      await c.write(`GET / HTTP/1.1\r\nHost: ${a.host}\r\nX-Long: ${'v'.repeat(12000)}\r\nBad Header: x\r\n\r\n`);
      await c.waitResponses(2);
      const bad = c.responses[1];
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.body.length, Number(bad.headers['content-length']), 'the 400 carries its body');
      assert.notEqual(bad.headers['x-request-id'], 'clean-1');
      assert.equal(bad.headers['set-cookie'], undefined);
    } finally {
      c.destroy();
    }
    const line = await t.waitAccess((l) => l.status === 400 && l.request_id !== 'clean-1' && l.host === '' && l.affinity === null);
    assert.ok(line, 'the 400 is logged without the previous request\'s host or affinity');
  });

  test('several Cookie headers are read as one list and the last occurrence of the name wins', async () => {
    const ps = await pods(2, 'ck');
    const a = await app('ck', ps, sticky({ 'affinity-mode': 'persistent' }));
    const [k0, k1] = a.ids.map((id) => persistentKey(a.backend, id));
    const send = async (lines) => {
      const res = await rawExchange(t.httpPort, `GET / HTTP/1.1\r\nHost: ${a.host}\r\n${lines.map((l) => `Cookie: ${l}\r\n`).join('')}Connection: close\r\n\r\n`);
      return res.responses[0];
    };
    assert.equal((await send([`INGRESSCOOKIE=${k0}; a=1; INGRESSCOOKIE=${k1}`])).headers['x-pod'], 'ck-1');
    assert.equal((await send([`INGRESSCOOKIE=${k1}`, `INGRESSCOOKIE=${k0}`])).headers['x-pod'], 'ck-0');
    assert.equal((await send([`xINGRESSCOOKIE=${k1}; INGRESSCOOKIE=${k0}`])).headers['x-pod'], 'ck-0');
    const r = await send([`ingresscookie=${k1}`]); // names are case-sensitive
    assert.ok(r.headers['set-cookie'], 'no cookie of that name: a new one');
  });

  test('affinity is scoped per host+path: two Ingresses on one Service with their own cookie paths both stay sticky (ingress-nginx #14042)', async () => {
    const ps = await pods(5, 'scope');
    kube.apply(service('scope'));
    kube.apply(slice('scope', ps));
    kube.apply(ingress('scope-shop', {
      annotations: sticky({ 'session-cookie-path': '/shop', 'session-cookie-name': 'shop', 'affinity-mode': 'persistent' }),
      rules: [{ host: 'scope.test', paths: [{ path: '/shop', service: 'scope' }] }],
    }));
    kube.apply(ingress('scope-blog', {
      annotations: sticky({ 'session-cookie-path': '/blog', 'session-cookie-name': 'blog' }),
      rules: [{ host: 'scope.test', paths: [{ path: '/blog', service: 'scope' }] }],
    }));
    kube.apply(ingress('scope-api', { rules: [{ host: 'scope.test', paths: [{ path: '/api', service: 'scope' }] }] }));
    for (const p of ['/shop', '/blog', '/api']) {
      await until(async () => (await t.req(p, { host: 'scope.test' })).status === 200, `${p} routed`);
    }
    for (const [p, name, mode] of [['/shop', 'shop', HEX32], ['/blog', 'blog', HEX16]]) {
      const first = await get(t, 'scope.test', `${p}/x`);
      assert.equal(first.cookie.name, name);
      assert.equal(Object.fromEntries(first.cookie.attrs).Path, p);
      assert.match(first.cookie.value.split('|')[0], mode);
      for (let i = 0; i < 10; i++) {
        const r = await get(t, 'scope.test', `${p}/y`, `${name}=${first.cookie.value}`);
        assert.equal(r.pod, first.pod, `${p} stays sticky`);
        assert.deepEqual(r.setCookies, []);
      }
    }
    const api = await get(t, 'scope.test', '/api');
    assert.deepEqual(api.setCookies, [], 'the rule without affinity issues no cookie');
  });

  test('persistent scale 5 -> 15 keeps every session on its pod; a pod that goes re-binds its sessions; 0 pods is 503', async () => {
    const ps = await pods(15, 'grow');
    const a = await app('grow', ps.slice(0, 5), sticky({ 'affinity-mode': 'persistent' }));
    const keyOf = (p) => persistentKey(a.backend, nodeId(p.host, p.port));
    const sessions = [];
    for (let i = 0; i < 25; i++) {
      const r = await get(t, a.host, '/');
      sessions.push({ cookie: `INGRESSCOOKIE=${r.cookie.value}`, pod: r.pod });
    }
    assert.ok(new Set(sessions.map((s) => s.pod)).size >= 3);
    for (let n = 6; n <= 15; n++) {
      kube.apply(slice('grow', ps.slice(0, n)));
      const added = ps[n - 1];
      await until(async () => (await get(t, a.host, '/', `INGRESSCOOKIE=${keyOf(added)}`)).pod === added.name, `pod ${n} in`);
      for (const s of sessions) {
        const r = await get(t, a.host, '/', s.cookie);
        assert.equal(r.pod, s.pod, `at ${n} pods`);
        assert.deepEqual(r.setCookies, []);
      }
    }
    // The pod of session 0 goes away: its next request lands elsewhere with a new cookie.
    const gone = ps.find((p) => p.name === sessions[0].pod);
    kube.apply(slice('grow', ps.filter((p) => p !== gone)));
    let moved;
    await until(async () => {
      moved = await get(t, a.host, '/', sessions[0].cookie);
      return moved.pod !== gone.name && moved;
    }, 'session 0 re-bound');
    assert.equal(moved.setCookies.length, 1);
    assert.equal(moved.cookie.value.split('|')[0], keyOf(ps.find((p) => p.name === moved.pod)));
    assert.equal((await accessOf(t, moved.requestId)).affinity, 'rebind');
    // Scaled to zero: 503; back to two pods that did not hold session 1: re-pinned.
    kube.apply(endpointSlice('grow-abc', { service: 'grow', ports: [{ name: 'http', port: ps[0].port }], endpoints: [] }));
    await until(async () => (await get(t, a.host, '/', sessions[1].cookie)).status === 503, '503 at zero pods');
    const two = ps.filter((p) => p.name !== sessions[1].pod).slice(0, 2);
    kube.apply(slice('grow', two));
    await until(async () => (await get(t, a.host, '/', sessions[1].cookie)).status === 200, 'back at two pods');
    const back = await get(t, a.host, '/', sessions[1].cookie);
    assert.ok(two.some((p) => p.name === back.pod));
    assert.equal(back.setCookies.length, 1);
  });

  test('balanced scale 5 -> 10 moves exactly the sessions the ring moves, about (n - c)/n, and only onto new pods', async () => {
    const ps = await pods(10, 'ring');
    const a = await app('ring', ps.slice(0, 5), sticky());
    const sessions = [];
    for (let i = 0; i < 200; i++) {
      const r = await get(t, a.host, '/');
      sessions.push({ value: r.cookie.value, pod: r.pod });
    }
    kube.apply(slice('ring', ps));
    const points = ring(ps.map((p) => nodeId(p.host, p.port)));
    const byId = podById(ps);
    const probe = sessions.find((s) => !ps.slice(0, 5).some((p) => p.name === byId.get(ringLookup(points, s.value.split('|')[0]))));
    await until(async () => (await get(t, a.host, '/', `INGRESSCOOKIE=${probe.value}`)).pod !== probe.pod, 'ten pods in');
    let moved = 0;
    for (const s of sessions) {
      const r = await get(t, a.host, '/', `INGRESSCOOKIE=${s.value}`);
      assert.equal(r.pod, byId.get(ringLookup(points, s.value.split('|')[0])), 'the pod the ring predicts');
      assert.deepEqual(r.setCookies, [], 'balanced never re-issues on a re-map');
      if (r.pod !== s.pod) {
        moved++;
        assert.ok(ps.slice(5).some((p) => p.name === r.pod), `${s.pod} -> ${r.pod}: moved onto an old pod`);
      }
    }
    const frac = moved / sessions.length;
    assert.ok(Math.abs(frac - 0.5) <= 0.15, `moved ${frac}, expected about (10 - 5)/10`);
  });

  test('two tether replicas on one API server send every cookie to the same pod, also after one restarts', async () => {
    const ps = await pods(6, 'rep');
    kube.apply(service('rep'));
    kube.apply(slice('rep', ps));
    kube.apply(ingress('rep-bal', { annotations: sticky(), rules: [{ host: 'bal.rep.test', paths: [{ path: '/', service: 'rep' }] }] }));
    kube.apply(ingress('rep-per', { annotations: sticky({ 'affinity-mode': 'persistent' }), rules: [{ host: 'per.rep.test', paths: [{ path: '/', service: 'rep' }] }] }));
    for (const h of ['bal', 'per']) await until(async () => (await t.req('/', { host: `${h}.rep.test` })).status === 200, `${h} routed`);
    let t2 = await fx.tether({ kubeconfig: kc, workers: 1 });
    const sessions = [];
    for (let i = 0; i < 20; i++) {
      for (const h of ['bal', 'per']) {
        const issuer = i % 2 ? t : t2;
        const r = await get(issuer, `${h}.rep.test`, '/');
        sessions.push({ host: `${h}.rep.test`, cookie: `INGRESSCOOKIE=${r.cookie.value}`, pod: r.pod });
      }
    }
    const check = async (tt, label) => {
      for (const s of sessions) assert.equal((await get(tt, s.host, '/', s.cookie)).pod, s.pod, `${label} ${s.host}`);
    };
    await check(t, 'replica 1');
    await check(t2, 'replica 2');
    await t2.stop();
    t2 = await fx.tether({ kubeconfig: kc, workers: 2 });
    await check(t2, 'replica 2 restarted');
  });
});
