// Canary releases (issue #5, spec/ingress-nginx-annotations.md §3): a canary Ingress attaches to
// the primary rule with the same host, path and pathType and takes requests by header (exact
// value, else PCRE pattern, else always/never), by cookie (always/never) or by weight, in that
// order, behind the affinity pin of a sticky primary. Also: the order in which primary and
// canary appear, live updates of either, no primary (404), no primary endpoints (503), no
// canary endpoints (all on the primary), canary annotations without `canary: "true"`, bad
// values, tether's improvements (split per host+path, not per Service - ingress-nginx #4692;
// several canaries per rule - #5848), canary x sticky (sticky and legacy), and the access log's
// `canary` field. Objects go to the API stand-in, so every change reaches tether live.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  fixture, ingressClass, ingress, service, endpointSlice, freePort, until, sleep, SUITE, SLOW,
} from './lib/tether.mjs';
import { rawExchange } from './lib/raw.mjs';
import {
  backendName, backendKey, nodeId, persistentKey, ring, ringLookup, parseSetCookie,
} from './lib/affinity.mjs';

const NET = 45;
const A = 'nginx.ingress.kubernetes.io/';
const HEX16 = /^[0-9a-f]{16}$/;
const HEX32 = /^[0-9a-f]{32}$/;

// {'canary-weight': '10'} -> {'nginx.ingress.kubernetes.io/canary-weight': '10'}; keys with a
// '/' are taken as written.
const ann = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k.includes('/') ? k : `${A}${k}`, v]));
const canary = (o = {}) => ann({ canary: 'true', ...o });

describe('canary releases', SUITE, () => {
  const fx = fixture();
  let kube;
  let t;
  let nextHost = 1;
  let sentinel;
  let syncs = 0;
  after(() => fx.close());

  before(async () => {
    kube = await fx.kube({});
    kube.apply(ingressClass());
    t = await fx.tether({ kubeconfig: kube.writeKubeconfig(kube.tempDir('tether-kc-')), workers: 2 });
    sentinel = (await pods(1, 'sentinel'))[0];
  });

  // n echo pods "<prefix>-<i>" on consecutive loopback addresses sharing one port.
  async function pods(n, prefix) {
    const first = nextHost;
    nextHost += n;
    assert.ok(nextHost < 255, 'out of pod addresses');
    const port = await freePort(`127.0.${NET}.${first}`);
    const out = [];
    for (let i = 0; i < n; i++) {
      out.push(await fx.echo({ host: `127.0.${NET}.${first + i}`, port, name: `${prefix}-${i}` }));
    }
    return out;
  }
  const slice = (svc, ps) => endpointSlice(`${svc}-abc`, {
    service: svc, ports: [{ name: 'http', port: ps.length ? ps[0].port : 8080 }], endpoints: ps.map((p) => ({ ip: p.host })),
  });
  // A Service <name> whose endpoints are n new pods "<name>-<i>" (none for n = 0).
  async function svc(name, n = 2) {
    const ps = n > 0 ? await pods(n, name) : [];
    kube.apply(service(name));
    kube.apply(slice(name, ps));
    return ps;
  }
  // One Ingress with one rule.
  function ing(name, host, service, annotations, o = {}) {
    const obj = ingress(name, {
      annotations, rules: [{ host, paths: [{ path: o.path ?? '/', pathType: o.pathType, service }] }],
    });
    kube.apply(obj);
    return obj;
  }

  // A barrier: a fresh Service, EndpointSlice and Ingress applied after everything so far. Each
  // kind comes over its own watch in order, so once the new host answers from the sentinel
  // pod, tether's table holds every object applied before this call (and every deletion).
  async function sync() {
    const n = ++syncs;
    const name = `sync-${n}`;
    kube.apply(service(name));
    kube.apply(slice(name, [sentinel]));
    kube.apply(ingress(name, { rules: [{ host: `${name}.sync.test`, paths: [{ path: '/', service: name }] }] }));
    await until(async () => (await t.req('/', { host: `${name}.sync.test` })).headers['x-pod'] === sentinel.name, `${name} routed`);
    kube.remove('Ingress', 'default', name);
    kube.remove('EndpointSlice', 'default', `${name}-abc`);
    kube.remove('Service', 'default', name);
  }

  // A release: primary Ingress <name> -> Service <name>-v1, one canary Ingress <name>-v2 ->
  // Service <name>-v2, each with two pods, on host <name>.canary.test. Returns what the checks
  // need; backends as tether's access log names them.
  async function release(name, o = {}) {
    const host = o.host ?? `${name}.canary.test`;
    const v1 = await svc(`${name}-v1`, o.primaryPods ?? 2);
    const v2 = await svc(`${name}-v2`, o.canaryPods ?? 2);
    ing(name, host, `${name}-v1`, ann(o.primary ?? {}), { path: o.path });
    ing(`${name}-v2`, host, `${name}-v2`, canary(o.canary), { path: o.path });
    await sync();
    return {
      name, host, path: o.path ?? '/', v1, v2, route: `default/${name}`,
      backends: { v1: `default/${name}-v1:80`, v2: `default/${name}-v2:80` },
      // Replaces the canary Ingress's annotations (canary: "true" kept) and waits for it.
      async canary(annotations) {
        ing(`${name}-v2`, host, `${name}-v2`, canary(annotations), { path: o.path });
        await sync();
      },
    };
  }

  // One GET with its own X-Request-ID (to find its access line). o: path, headers, cookie.
  // role: "v1", "v2", ... from the pod name "<release>-<role>-<i>".
  let seq = 0;
  async function get(host, o = {}) {
    const requestId = `canary-${process.pid}-${++seq}`;
    const headers = { ...(o.headers ?? {}), 'x-request-id': requestId };
    if (o.cookie !== undefined) headers.cookie = o.cookie;
    const r = await t.req(o.path ?? '/', { host, headers, method: o.method, body: o.body });
    const sc = r.headers['set-cookie'] ?? [];
    const pod = r.status === 200 ? r.headers['x-pod'] : null;
    return {
      status: r.status, pod, role: pod ? /-(v\d)-\d+$/.exec(pod)?.[1] ?? pod : null,
      setCookies: sc, cookie: sc.length ? parseSetCookie(sc[sc.length - 1]) : null, requestId,
    };
  }
  const logOf = async (r) => {
    const l = await t.waitAccess((x) => x.request_id === r.requestId);
    assert.ok(l, `no access line for ${r.requestId}`);
    return l;
  };
  // The access lines of many requests at once.
  async function logsOf(rs) {
    const ids = new Set(rs.map((r) => r.requestId));
    return until(() => {
      const m = new Map();
      for (const l of t.access()) if (ids.has(l.request_id)) m.set(l.request_id, l);
      return m.size === ids.size && m;
    }, `${ids.size} access lines`);
  }
  // n GETs, 25 at a time.
  async function many(host, n, o = {}) {
    const out = [];
    for (let i = 0; i < n; i += 25) {
      const batch = [];
      for (let j = i; j < Math.min(n, i + 25); j++) batch.push(get(host, o));
      out.push(...(await Promise.all(batch)));
    }
    return out;
  }
  const roles = (rs) => {
    const c = {};
    for (const r of rs) c[r.role ?? r.status] = (c[r.role ?? r.status] ?? 0) + 1;
    return c;
  };

  // One request that must land on |role| of release |a|, decided by |reason| (access log).
  async function expect(a, o, role, reason, what) {
    const r = await get(a.host, o);
    const msg = `${what ?? JSON.stringify(o)} -> ${role}`;
    assert.equal(r.status, 200, msg);
    assert.equal(r.role, role, msg);
    const l = await logOf(r);
    assert.equal(l.canary, reason, `${msg}: canary reason`);
    assert.equal(l.backend, a.backends[role], `${msg}: backend`);
    assert.equal(l.route, a.route, `${msg}: route is the primary Ingress`);
    assert.equal(l.upstream, nodeId(a[role].find((p) => p.name === r.pod).host, a[role][0].port), `${msg}: upstream`);
    return r;
  }
  const hdr = (name, value) => ({ headers: { [name]: value } });

  // ------------------------------------------------------------------ header

  test('canary-by-header always / never / other: never sends to the primary before cookie and weight', async () => {
    const a = await release('hdr', { canary: { 'canary-by-header': 'X-Canary', 'canary-by-cookie': 'hdr_ck' } });
    await expect(a, {}, 'v1', 'none', 'no header, weight 0');
    await expect(a, hdr('X-Canary', 'always'), 'v2', 'header');
    await expect(a, hdr('x-CANARY', 'always'), 'v2', 'header', 'the header name in any case');
    await expect(a, hdr('X-Canary', 'never'), 'v1', 'header');
    await expect(a, hdr('X-Canary', 'Always'), 'v1', 'none', 'values are case-sensitive: Always falls through');
    await expect(a, hdr('X-Canary', 'yes'), 'v1', 'none', 'another value falls through');
    await expect(a, hdr('X-Canary', ''), 'v1', 'none', 'an empty value falls through');
    await expect(a, { headers: { 'X-Canary': 'yes' }, cookie: 'hdr_ck=always' }, 'v2', 'cookie', 'other value, then cookie always');
    await expect(a, { headers: { 'X-Canary': 'never' }, cookie: 'hdr_ck=always' }, 'v1', 'header', 'never beats cookie always');
    await expect(a, { headers: { 'X-Canary': 'always' }, cookie: 'hdr_ck=never' }, 'v2', 'header', 'always beats cookie never');
    // Weight 100: never still wins, everything else goes to the canary by weight.
    await a.canary({ 'canary-by-header': 'X-Canary', 'canary-by-cookie': 'hdr_ck', 'canary-weight': '100' });
    await expect(a, {}, 'v2', 'weight', 'no header, weight 100');
    await expect(a, hdr('X-Canary', 'never'), 'v1', 'header', 'never beats weight 100');
    await expect(a, hdr('X-Canary', 'maybe'), 'v2', 'weight', 'other value, weight 100');
    await expect(a, { cookie: 'hdr_ck=never' }, 'v1', 'cookie', 'cookie never beats weight 100');
    for (const r of await many(a.host, 30, hdr('X-Canary', 'never'))) assert.equal(r.role, 'v1', 'never: always the primary');
  });

  test('canary-by-header names: "_" in the annotation matches "-" in requests; request headers with "_" are ignored (nginx $http_)', async () => {
    const a = await release('hname', { canary: { 'canary-by-header': 'x_canary_flag' } });
    await expect(a, hdr('X-Canary-Flag', 'always'), 'v2', 'header');
    await expect(a, hdr('x-canary-flag', 'always'), 'v2', 'header');
    await expect(a, hdr('X_Canary_Flag', 'always'), 'v1', 'none', 'nginx drops request headers with underscores');
    await expect(a, hdr('X-Canary-Flagx', 'always'), 'v1', 'none', 'another header');
  });

  test('canary-by-header-value: exact and case-sensitive; always is not special, never does not block', async () => {
    const a = await release('hval', {
      canary: { 'canary-by-header': 'X-Region', 'canary-by-header-value': 'east-us', 'canary-by-header-pattern': '^west', 'canary-by-cookie': 'hval_ck' },
    });
    await expect(a, hdr('X-Region', 'east-us'), 'v2', 'header');
    await expect(a, hdr('X-Region', 'East-us'), 'v1', 'none', 'case-sensitive');
    await expect(a, hdr('X-Region', 'east-us-2'), 'v1', 'none', 'exact: no prefix match');
    await expect(a, hdr('X-Region', 'xeast-us'), 'v1', 'none', 'exact: no substring match');
    await expect(a, hdr('X-Region', 'always'), 'v1', 'none', 'always is an ordinary value');
    await expect(a, hdr('X-Region', 'west-1'), 'v1', 'none', 'the pattern is ignored when a value is set');
    await expect(a, { headers: { 'X-Region': 'never' }, cookie: 'hval_ck=always' }, 'v2', 'cookie', 'never falls through to the cookie');
    await expect(a, { headers: { 'X-Region': 'east-us' }, cookie: 'hval_ck=never' }, 'v2', 'header', 'the header goes first');
    // The value changes live.
    await a.canary({ 'canary-by-header': 'X-Region', 'canary-by-header-value': 'eu' });
    await expect(a, hdr('X-Region', 'eu'), 'v2', 'header');
    await expect(a, hdr('X-Region', 'east-us'), 'v1', 'none');
  });

  test('canary-by-header-pattern: unanchored, case-sensitive PCRE; no match falls through', async () => {
    const a = await release('hpat', {
      canary: { 'canary-by-header': 'X-Version', 'canary-by-header-pattern': '^v2\\.[0-9]+$|beta(-[a-z]+)?', 'canary-by-cookie': 'hpat_ck' },
    });
    for (const v of ['v2.1', 'v2.10', 'beta', 'xbetax', 'pre-beta-fr']) await expect(a, hdr('X-Version', v), 'v2', 'header', `matches ${v}`);
    for (const v of ['v2.x', 'v2.1 ', 'xv2.1', 'BETA', 'always', 'v3.1']) await expect(a, hdr('X-Version', v), 'v1', 'none', `no match ${v}`);
    await expect(a, { headers: { 'X-Version': 'never' }, cookie: 'hpat_ck=always' }, 'v2', 'cookie', 'never is an ordinary value under a pattern');
    await expect(a, { headers: { 'X-Version': 'v3' }, cookie: 'hpat_ck=always' }, 'v2', 'cookie', 'no match falls through');
    await expect(a, { headers: { 'X-Version': 'v2.3' }, cookie: 'hpat_ck=never' }, 'v2', 'header');
    // PCRE, not POSIX: \d, lookahead.
    await a.canary({ 'canary-by-header': 'X-Version', 'canary-by-header-pattern': '^(?=.*rc)\\d+' });
    await expect(a, hdr('X-Version', '12-rc1'), 'v2', 'header', 'PCRE lookahead and \\d');
    await expect(a, hdr('X-Version', '12-final'), 'v1', 'none');
  });

  test('a pattern that does not compile sends requests carrying the header to the primary at once (cookie and weight unread), and is reported', async () => {
    const a = await release('hbad', {
      canary: { 'canary-by-header': 'X-Version', 'canary-by-header-pattern': 'v2(', 'canary-by-cookie': 'hbad_ck', 'canary-weight': '100' },
    });
    await expect(a, hdr('X-Version', 'v2('), 'v1', 'header');
    await expect(a, { headers: { 'X-Version': 'anything' }, cookie: 'hbad_ck=always' }, 'v1', 'header', 'cookie always is not read');
    await expect(a, {}, 'v2', 'weight', 'without the header the weight applies');
    await expect(a, { cookie: 'hbad_ck=never' }, 'v1', 'cookie', 'without the header the cookie applies');
    const reps = await until(() => {
      const l = t.logs().filter((x) => x.level === 'warn' && x.object === 'default/hbad-v2' && x.reason?.includes(`${A}canary-by-header-pattern`));
      return l.length && l;
    }, 'a report of the bad pattern');
    assert.equal(reps.length, 1, JSON.stringify(reps));
    assert.ok(reps[0].reason.includes('"v2("'), reps[0].reason);
  });

  test('a pattern with catastrophic backtracking hits the match limit: the request goes to the primary quickly, the worker stays responsive', async () => {
    const a = await release('hdos', {
      canary: { 'canary-by-header': 'X-Version', 'canary-by-header-pattern': '^(a+)+$', 'canary-weight': '100' },
    });
    await expect(a, hdr('X-Version', 'aaaa'), 'v2', 'header', 'an ordinary match');
    const evil = `${'a'.repeat(40)}!`;
    const t0 = Date.now();
    const rs = [];
    for (let i = 0; i < 20; i++) rs.push(await get(a.host, hdr('X-Version', evil)));
    const took = Date.now() - t0;
    for (const r of rs) assert.equal(r.role, 'v1', 'a match error rules the canary out');
    for (const l of (await logsOf(rs)).values()) assert.equal(l.canary, 'header');
    // PCRE2's default limit (10M steps) costs 22 ms per request with JIT, 130 ms without; the
    // worker's 100k limit about 0.3 ms. A loose bound: 20 requests at the default take > 400 ms.
    assert.ok(took < 300 * SLOW, `20 requests took ${took} ms`);
  });

  // ------------------------------------------------------------------ cookie

  test('canary-by-cookie: always / never, anything else falls through to the weight', async () => {
    const a = await release('ck', { canary: { 'canary-by-cookie': 'use_canary' } });
    await expect(a, { cookie: 'use_canary=always' }, 'v2', 'cookie');
    await expect(a, { cookie: 'a=1; use_canary=always; b=2' }, 'v2', 'cookie', 'among other cookies');
    await expect(a, { cookie: 'use_canary=never' }, 'v1', 'cookie');
    await expect(a, { cookie: 'use_canary=1' }, 'v1', 'none');
    await expect(a, { cookie: 'xuse_canary=always' }, 'v1', 'none', 'another cookie');
    await expect(a, { headers: { 'use_canary': 'always' } }, 'v1', 'none', 'a header of that name is not the cookie');
    await a.canary({ 'canary-by-cookie': 'use_canary', 'canary-weight': '100' });
    await expect(a, { cookie: 'use_canary=never' }, 'v1', 'cookie', 'never beats weight 100');
    await expect(a, { cookie: 'use_canary=Never' }, 'v2', 'weight', 'values are case-sensitive');
    await expect(a, { cookie: 'use_canary=' }, 'v2', 'weight');
    await expect(a, {}, 'v2', 'weight');
  });

  // ------------------------------------------------------------------ weight

  test('canary-weight 0 / 100 / 1000 of canary-weight-total 1000; totals of 100 or less are ignored; weight 50 splits 50 % within 10 % over 400 requests', async () => {
    const a = await release('wt', { canary: { 'canary-weight': '0' } });
    const only = async (role, reason, what) => {
      const rs = await many(a.host, 60);
      assert.deepEqual(roles(rs), { [role]: 60 }, what);
      const ls = await logsOf(rs);
      for (const l of ls.values()) {
        assert.equal(l.canary, reason, what);
        assert.equal(l.backend, a.backends[role], what);
      }
    };
    const share = async (lo, hi, what, n = 400) => {
      const rs = await many(a.host, n);
      const c = roles(rs);
      assert.equal((c.v1 ?? 0) + (c.v2 ?? 0), n, `${what}: ${JSON.stringify(c)}`);
      const f = (c.v2 ?? 0) / n;
      assert.ok(f >= lo && f <= hi, `${what}: canary share ${f} (${JSON.stringify(c)}) outside [${lo}, ${hi}]`);
      const ls = await logsOf(rs);
      for (const l of ls.values()) assert.equal(l.canary, 'weight', what);
      // Both pods of each side take requests: the canary side is balanced too.
      if (f > 0.1 && f < 0.9) assert.equal(new Set(rs.map((r) => r.pod)).size, 4, `${what}: every pod`);
      return f;
    };
    await only('v1', 'none', 'weight 0');
    await a.canary({ 'canary-weight': '100' });
    await only('v2', 'weight', 'weight 100 of 100');
    await a.canary({ 'canary-weight': '1000', 'canary-weight-total': '1000' });
    await only('v2', 'weight', 'weight 1000 of 1000');
    await a.canary({ 'canary-weight': '100', 'canary-weight-total': '1000' });
    await share(0.04, 0.17, 'weight 100 of 1000 (10 %)');
    await a.canary({ 'canary-weight': '0', 'canary-weight-total': '1000' });
    await only('v1', 'none', 'weight 0 of 1000');
    await a.canary({ 'canary-weight': '50' });
    await share(0.40, 0.60, 'weight 50 (50 %)');
    await a.canary({ 'canary-weight': '50', 'canary-weight-total': '60' });
    await share(0.40, 0.60, 'weight 50 of total 60: a total of 100 or less is ignored (50 %)');
    await a.canary({ 'canary-weight': '100', 'canary-weight-total': '50' });
    await only('v2', 'weight', 'weight 100 of total 50 (100 used)');
    await a.canary({ 'canary-weight': '500', 'canary-weight-total': '2000' });
    await share(0.16, 0.34, 'weight 500 of 2000 (25 %)');
    await a.canary({ 'canary-weight': '150' });
    await only('v2', 'weight', 'weight above the total: always');
  });

  // ------------------------------------------------------------------ attach, order, updates

  test('a canary created before its primary answers 404 for its host, attaches once the primary appears, and is orphaned again when it goes', async () => {
    const v1 = await svc('order-v1');
    const v2 = await svc('order-v2');
    const host = 'order.canary.test';
    ing('order-v2', host, 'order-v2', canary({ 'canary-by-header': 'X-Canary', 'canary-weight': '100' }));
    await sync();
    for (const o of [{}, hdr('X-Canary', 'always')]) {
      const r = await get(host, o);
      assert.equal(r.status, 404, `no primary: ${JSON.stringify(o)}`);
      const l = await logOf(r);
      assert.equal(l.route, null);
      assert.equal(l.canary, null);
    }
    ing('order', host, 'order-v1', ann({}));
    await sync();
    const a = { host, v1, v2, route: 'default/order', backends: { v1: 'default/order-v1:80', v2: 'default/order-v2:80' } };
    await expect(a, hdr('X-Canary', 'never'), 'v1', 'header');
    await expect(a, {}, 'v2', 'weight');
    // The primary goes: 404 again; it comes back (now younger than its canary): attached again.
    kube.remove('Ingress', 'default', 'order');
    await sync();
    assert.equal((await get(host, hdr('X-Canary', 'always'))).status, 404);
    ing('order', host, 'order-v1', ann({}));
    await sync();
    await expect(a, {}, 'v2', 'weight');
    await expect(a, hdr('X-Canary', 'never'), 'v1', 'header');
  });

  test('a canary attaches only to the same host, path and pathType; otherwise requests follow the host\'s own rules', async () => {
    const v1 = await svc('match-v1');
    const v2 = await svc('match-v2');
    const host = 'match.canary.test';
    kube.apply(ingress('match', {
      rules: [{ host, paths: [{ path: '/', service: 'match-v1' }, { path: '/exact', pathType: 'Exact', service: 'match-v1' }] }],
    }));
    const c = (name, path, pathType, h = host) => kube.apply(ingress(name, {
      annotations: canary({ 'canary-weight': '100' }), rules: [{ host: h, paths: [{ path, pathType, service: 'match-v2' }] }],
    }));
    c('match-api', '/api', 'Prefix');           // no primary rule at /api: the / rule serves it
    c('match-exact', '/exact', 'Prefix');       // /exact exists, but as Exact
    c('match-other', '/', 'Prefix', 'other.match.canary.test'); // a host without any primary
    await sync();
    const a = { host, v1, v2, route: 'default/match', backends: { v1: 'default/match-v1:80', v2: 'default/match-v2:80' } };
    for (const path of ['/', '/api', '/api/x', '/exact']) {
      const r = await get(host, { path });
      assert.equal(r.role, 'v1', path);
      assert.equal((await logOf(r)).canary, null, `${path}: the rule has no canary`);
    }
    assert.equal((await get('other.match.canary.test', {})).status, 404);
    // The same pathType: attached.
    c('match-exact', '/exact', 'Exact');
    await sync();
    await expect(a, { path: '/exact' }, 'v2', 'weight');
    const r = await get(host, { path: '/exact/more' });
    assert.equal(r.role, 'v1', '/exact/more is the / rule');
  });

  test('one canary Ingress with rules for two hosts attaches to the primary rule of each', async () => {
    const v1 = await svc('two-v1');
    const v2 = await svc('two-v2');
    const hosts = ['one.two.canary.test', 'two.two.canary.test'];
    ing('two-a', hosts[0], 'two-v1', ann({}));
    kube.apply(ingress('two-b', { rules: [{ host: hosts[1], paths: [{ path: '/b', service: 'two-v1' }] }] }));
    kube.apply(ingress('two-canary', {
      annotations: canary({ 'canary-by-header': 'X-Canary' }),
      rules: [{ host: hosts[0], paths: [{ path: '/', service: 'two-v2' }] }, { host: hosts[1], paths: [{ path: '/b', service: 'two-v2' }] }],
    }));
    await sync();
    const b = (route) => ({ v1, v2, route, backends: { v1: 'default/two-v1:80', v2: 'default/two-v2:80' } });
    await expect({ ...b('default/two-a'), host: hosts[0] }, hdr('X-Canary', 'always'), 'v2', 'header');
    await expect({ ...b('default/two-b'), host: hosts[1] }, { path: '/b/x', headers: { 'X-Canary': 'always' } }, 'v2', 'header');
    await expect({ ...b('default/two-b'), host: hosts[1] }, { path: '/b/x' }, 'v1', 'none');
  });

  test('live updates: the weight changes on either side of a request, the primary changes Service, the canary goes', async () => {
    const a = await release('upd', { canary: { 'canary-by-header': 'X-Canary', 'canary-weight': '0' } });
    await expect(a, {}, 'v1', 'none');
    await a.canary({ 'canary-by-header': 'X-Canary', 'canary-weight': '100' });
    await expect(a, {}, 'v2', 'weight');
    await a.canary({ 'canary-by-header': 'X-Canary', 'canary-weight': '0' });
    await expect(a, {}, 'v1', 'none');
    await expect(a, hdr('X-Canary', 'always'), 'v2', 'header');
    // The primary moves to another Service: the canary stays attached to the rule.
    const v3 = await svc('upd-v3');
    ing('upd', a.host, 'upd-v3', ann({}));
    await sync();
    const b = { ...a, v3, backends: { ...a.backends, v3: 'default/upd-v3:80' } };
    await expect(b, {}, 'v3', 'none');
    await expect(b, hdr('X-Canary', 'always'), 'v2', 'header');
    // The primary's path changes: the canary no longer matches a rule.
    ing('upd', a.host, 'upd-v1', ann({}), { path: '/app' });
    await sync();
    const moved = await get(a.host, { path: '/app', headers: { 'X-Canary': 'always' } });
    assert.equal(moved.role, 'v1');
    assert.equal((await logOf(moved)).canary, null);
    assert.equal((await get(a.host, hdr('X-Canary', 'always'))).status, 404, 'no primary at / any more');
    ing('upd', a.host, 'upd-v1', ann({}));
    await sync();
    await expect(a, hdr('X-Canary', 'always'), 'v2', 'header');
    // The canary is deleted: everything on the primary, and the rule has no canary any more.
    kube.remove('Ingress', 'default', 'upd-v2');
    await sync();
    for (const r of await many(a.host, 20, hdr('X-Canary', 'always'))) {
      assert.equal(r.role, 'v1');
      assert.equal((await logOf(r)).canary, null);
    }
    // And comes back.
    await a.canary({ 'canary-weight': '100' });
    await expect(a, {}, 'v2', 'weight');
  });

  test('a primary without endpoints answers 503, canary included; a canary without endpoints leaves everything on the primary', async () => {
    const a = await release('eps', { canary: { 'canary-by-header': 'X-Canary', 'canary-weight': '100' } });
    await expect(a, {}, 'v2', 'weight');
    kube.apply(slice('eps-v1', []));
    await sync();
    for (const o of [{}, hdr('X-Canary', 'always')]) assert.equal((await get(a.host, o)).status, 503, `no primary endpoints: ${JSON.stringify(o)}`);
    kube.apply(slice('eps-v1', a.v1));
    kube.apply(slice('eps-v2', []));
    await sync();
    await expect(a, {}, 'v1', 'none', 'no canary endpoints, weight 100');
    await expect(a, hdr('X-Canary', 'always'), 'v1', 'none', 'no canary endpoints, header always');
    kube.apply(slice('eps-v2', a.v2.slice(1)));
    await sync();
    const r = await expect(a, hdr('X-Canary', 'always'), 'v2', 'header', 'canary endpoint back');
    assert.equal(r.pod, a.v2[1].name);
    // A canary whose Service does not exist takes nothing either.
    kube.remove('EndpointSlice', 'default', 'eps-v2-abc');
    kube.remove('Service', 'default', 'eps-v2');
    await sync();
    await expect(a, hdr('X-Canary', 'always'), 'v1', 'none', 'canary Service gone');
    // A canary on the primary's own Service is not a canary.
    const self = await release('self', { canary: { 'canary-weight': '100' } });
    ing('self-v2', self.host, 'self-v1', canary({ 'canary-weight': '100' }));
    await sync();
    for (const x of await many(self.host, 10)) assert.equal(x.role, 'v1');
  });

  test('the primary\'s location settings apply to canary requests (spec §3.4): the canary\'s own proxy-body-size is ignored', async () => {
    const a = await release('inh', {
      primary: { 'proxy-body-size': '2k' },
      canary: { 'canary-by-header': 'X-Canary', 'proxy-body-size': '64k' },
    });
    const body = 'x'.repeat(8192);
    const onCanary = await get(a.host, { method: 'POST', body, headers: { 'X-Canary': 'always' } });
    assert.equal(onCanary.status, 413, 'the primary limit (2k) applies on the canary');
    assert.equal((await get(a.host, { method: 'POST', body: 'x'.repeat(1000), headers: { 'X-Canary': 'always' } })).role, 'v2');
  });

  // ------------------------------------------------------------------ canary config without canary: true

  test('canary annotations without canary: "true" are reported and the Ingress acts as an ordinary one (and loses to an older one on its host+path)', async () => {
    const older = await release('plain', { canary: {} });
    await svc('plain-new');
    // Same host+path as the primary, no canary: "true": an ordinary Ingress, younger: it loses.
    ing('plain-new', older.host, 'plain-new', ann({ 'canary-by-header': 'X-Canary', 'canary-weight': '100' }));
    // On hosts of their own: ordinary Ingresses serving their Service.
    await svc('plain-own');
    ing('plain-own', 'own.plain.canary.test', 'plain-own', ann({ 'canary-weight': '50', 'canary-by-cookie': 'x' }));
    ing('plain-false', 'false.plain.canary.test', 'plain-own', ann({ canary: 'false', 'canary-by-header-value': 'v', 'canary-by-header': 'X-C' }));
    ing('plain-yes', 'yes.plain.canary.test', 'plain-own', ann({ canary: 'yes', 'canary-by-header-pattern': 'x' }));
    ing('plain-total', 'total.plain.canary.test', 'plain-own', ann({ 'canary-weight-total': '1000' }));
    await sync();
    for (const r of await many(older.host, 20, hdr('X-Canary', 'always'))) assert.equal(r.pod?.startsWith('plain-v1-'), true, 'the older Ingress keeps its host+path');
    for (const h of ['own', 'false', 'yes', 'total']) {
      const r = await get(`${h}.plain.canary.test`, hdr('X-C', 'v'));
      assert.equal(r.status, 200, h);
      assert.ok(r.pod.startsWith('plain-own-'), h);
      const l = await logOf(r);
      assert.equal(l.canary, null, `${h}: an ordinary rule`);
      assert.equal(l.route, `default/plain-${h}`);
    }
    for (const name of ['plain-new', 'plain-own', 'plain-false', 'plain-yes']) {
      await until(() => t.logs().some((x) => x.level === 'warn' && x.object === `default/${name}` && x.reason?.includes(`${A}canary`)),
        `a report for ${name}`);
    }
    assert.ok(t.logs().some((x) => x.object === 'default/plain-yes' && x.reason?.includes(`${A}canary`) && x.reason.includes('"yes"')),
      'canary: "yes" is named with its value');
  });

  test('bad canary annotation values are reported once with the Ingress, the annotation and the value, and treated as absent', async () => {
    const bad = {
      'canary-weight': '10%', 'canary-weight-total': '1e3', 'canary-by-header': 'X Canary!', 'canary-by-cookie': 'ck;x',
      'canary-by-header-pattern': 'a b', 'affinity-canary-behavior': 'sometimes',
    };
    const a = await release('badv', { canary: bad });
    await expect(a, hdr('X-Canary', 'always'), 'v1', 'none', 'no header rule');
    for (const r of await many(a.host, 20, { cookie: 'ck=always' })) assert.equal(r.role, 'v1', 'no cookie rule, weight 10% is 0');
    // A bad header value leaves the header rule with always/never semantics (ingress-nginx).
    const b = await release('badval', { canary: { 'canary-by-header': 'X-Region', 'canary-by-header-value': 'east@us', 'canary-weight': '10.5' } });
    await expect(b, hdr('X-Region', 'east@us'), 'v1', 'none');
    await expect(b, hdr('X-Region', 'always'), 'v2', 'header');
    const reports = (obj) => t.logs().filter((x) => x.level === 'warn' && x.object === obj);
    await until(() => reports('default/badv-v2').length >= Object.keys(bad).length, 'reports for badv-v2');
    await until(() => reports('default/badval-v2').length >= 2, 'reports for badval-v2');
    await sync(); // another rebuild: nothing is reported twice
    const check = (obj, key, value) => {
      const hits = reports(obj).filter((l) => l.reason.includes(`${A}${key}`) && l.reason.includes(`"${value}"`));
      assert.equal(hits.length, 1, `one report for ${key}="${value}": ${JSON.stringify(reports(obj).map((l) => l.reason))}`);
    };
    for (const [k, v] of Object.entries(bad)) check('default/badv-v2', k, v);
    check('default/badval-v2', 'canary-by-header-value', 'east@us');
    check('default/badval-v2', 'canary-weight', '10.5');
  });

  // ------------------------------------------------------------------ better than ingress-nginx

  test('the split applies to the matched host+path only, not to other hosts or paths on the primary Service (ingress-nginx #4692, #9458)', async () => {
    const v1 = await svc('shared-v1');
    const v2 = await svc('shared-v2');
    const v3 = await svc('shared-v3');
    ing('shared-a', 'a.shared.canary.test', 'shared-v1', ann({}));
    ing('shared-b', 'b.shared.canary.test', 'shared-v1', ann({}));
    kube.apply(ingress('shared-paths', {
      rules: [{ host: 'p.shared.canary.test', paths: [{ path: '/x', service: 'shared-v1' }, { path: '/y', service: 'shared-v1' }] }],
    }));
    // The canary's Service also serves another host as a primary (#9458).
    ing('shared-c', 'c.shared.canary.test', 'shared-v2', ann({}));
    ing('shared-a-canary', 'a.shared.canary.test', 'shared-v2', canary({ 'canary-weight': '100', 'canary-by-header': 'X-Canary' }));
    ing('shared-px-canary', 'p.shared.canary.test', 'shared-v2', canary({ 'canary-weight': '100' }), { path: '/x' });
    ing('shared-py-canary', 'p.shared.canary.test', 'shared-v3', canary({ 'canary-weight': '100' }), { path: '/y' });
    await sync();
    const a = { host: 'a.shared.canary.test', v1, v2, route: 'default/shared-a', backends: { v1: 'default/shared-v1:80', v2: 'default/shared-v2:80' } };
    for (let i = 0; i < 10; i++) await expect(a, {}, 'v2', 'weight');
    await expect(a, hdr('X-Canary', 'never'), 'v1', 'header');
    for (const r of await many('b.shared.canary.test', 40, hdr('X-Canary', 'always'))) {
      assert.equal(r.role, 'v1', 'host b shares the Service, not the canary');
      const l = await logOf(r);
      assert.equal(l.canary, null);
      assert.equal(l.route, 'default/shared-b');
    }
    for (const r of await many('c.shared.canary.test', 10)) assert.equal(r.role, 'v2', 'host c serves the canary Service as its primary');
    // Two paths of one host on one Service, each with its own canary (ingress-nginx: the first merged one everywhere).
    const p = { host: 'p.shared.canary.test', v1, v2, v3, route: 'default/shared-paths',
      backends: { v1: 'default/shared-v1:80', v2: 'default/shared-v2:80', v3: 'default/shared-v3:80' } };
    await expect(p, { path: '/x/1' }, 'v2', 'weight');
    await expect(p, { path: '/y/1' }, 'v3', 'weight');
  });

  test('several canaries on one rule (ingress-nginx #5848): rules in creation order, one weighted draw shared over the total', async () => {
    const v1 = await svc('multi-v1');
    const v2 = await svc('multi-v2');
    const v3 = await svc('multi-v3');
    const host = 'multi.canary.test';
    ing('multi', host, 'multi-v1', ann({}));
    // multi-z (-> v2) is created a second before multi-a (-> v3): creation order, not name order.
    ing('multi-z', host, 'multi-v2', canary({ 'canary-by-header': 'X-Both', 'canary-by-cookie': 'zck' }));
    await sleep(1000 - (Date.now() % 1000) + 50);
    ing('multi-a', host, 'multi-v3', canary({ 'canary-by-header': 'X-Both', 'canary-by-cookie': 'ack' }));
    await sync();
    const m = { host, v1, v2, v3, route: 'default/multi',
      backends: { v1: 'default/multi-v1:80', v2: 'default/multi-v2:80', v3: 'default/multi-v3:80' } };
    await expect(m, hdr('X-Both', 'always'), 'v2', 'header', 'the older canary first');
    await expect(m, { cookie: 'ack=always' }, 'v3', 'cookie', 'the younger one by its own cookie');
    await expect(m, { cookie: 'zck=always; ack=always' }, 'v2', 'cookie', 'both cookies: the older');
    await expect(m, {}, 'v1', 'none');
    // Own headers: each canary takes its own; both present: the older.
    const upd = (name, svcName, o) => ing(name, host, svcName, canary(o));
    upd('multi-z', 'multi-v2', { 'canary-by-header': 'X-Z' });
    upd('multi-a', 'multi-v3', { 'canary-by-header': 'X-A' });
    await sync();
    await expect(m, hdr('X-A', 'always'), 'v3', 'header');
    await expect(m, hdr('X-Z', 'always'), 'v2', 'header');
    await expect(m, { headers: { 'X-A': 'always', 'X-Z': 'always' } }, 'v2', 'header', 'the older canary first');
    // Weights: cumulative ranges in creation order over one draw.
    upd('multi-z', 'multi-v2', { 'canary-weight': '100' });
    upd('multi-a', 'multi-v3', { 'canary-weight': '100' });
    await sync();
    assert.deepEqual(roles(await many(host, 40)), { v2: 40 }, 'z owns 1..100: all of it');
    upd('multi-z', 'multi-v2', { 'canary-weight': '0' });
    await sync();
    assert.deepEqual(roles(await many(host, 40)), { v3: 40 }, 'z owns nothing, a owns 1..100');
    upd('multi-z', 'multi-v2', { 'canary-weight': '30' });
    upd('multi-a', 'multi-v3', { 'canary-weight': '20' });
    await sync();
    const rs = await many(host, 400);
    const c = roles(rs);
    const share = (r) => (c[r] ?? 0) / rs.length;
    assert.ok(Math.abs(share('v2') - 0.3) <= 0.1, `z 30 %: ${JSON.stringify(c)}`);
    assert.ok(Math.abs(share('v3') - 0.2) <= 0.1, `a 20 %: ${JSON.stringify(c)}`);
    assert.ok(Math.abs(share('v1') - 0.5) <= 0.1, `primary 50 %: ${JSON.stringify(c)}`);
    for (const l of (await logsOf(rs)).values()) assert.equal(l.canary, 'weight');
    // Different totals: one draw over the largest (1000); z owns 1..50, a owns 51..350.
    upd('multi-z', 'multi-v2', { 'canary-weight': '50' });
    upd('multi-a', 'multi-v3', { 'canary-weight': '300', 'canary-weight-total': '1000' });
    await sync();
    const rt = roles(await many(host, 400));
    const shareT = (r) => (rt[r] ?? 0) / 400;
    assert.ok(shareT('v2') <= 0.1, `z 5 %: ${JSON.stringify(rt)}`);
    assert.ok(Math.abs(shareT('v3') - 0.3) <= 0.1, `a 30 %: ${JSON.stringify(rt)}`);
    assert.ok(Math.abs(shareT('v1') - 0.65) <= 0.1, `primary 65 %: ${JSON.stringify(rt)}`);
    // "never" rules out only its own canary: z's range goes to the primary, a keeps its own.
    upd('multi-z', 'multi-v2', { 'canary-by-header': 'X-Z', 'canary-weight': '50' });
    upd('multi-a', 'multi-v3', { 'canary-weight': '50' });
    await sync();
    const rn = roles(await many(host, 400, hdr('X-Z', 'never')));
    assert.equal(rn.v2 ?? 0, 0, `z is ruled out: ${JSON.stringify(rn)}`);
    assert.ok(Math.abs((rn.v3 ?? 0) / 400 - 0.5) <= 0.1, `a keeps 51..100: ${JSON.stringify(rn)}`);
    // The older canary goes: the younger one alone.
    kube.remove('Ingress', 'default', 'multi-z');
    upd('multi-a', 'multi-v3', { 'canary-weight': '100' });
    await sync();
    assert.deepEqual(roles(await many(host, 20)), { v3: 20 });
  });

  // ------------------------------------------------------------------ canary x sticky

  test('sticky canary (default): forced by header, the canary issues the primary\'s cookie with its own backend key; 50 requests without the header stay', async () => {
    const a = await release('stk', {
      primary: { affinity: 'cookie', 'session-cookie-name': 'sess', 'session-cookie-max-age': '3600' },
      canary: { 'canary-by-header': 'X-Canary', 'session-cookie-name': 'ignored', 'session-cookie-max-age': '1' },
    });
    const bk1 = backendKey(backendName('default', 'stk-v1', 80));
    const bk2 = backendKey(backendName('default', 'stk-v2', 80));
    const ring2 = ring(a.v2.map((p) => nodeId(p.host, p.port)));
    const byId = new Map(a.v2.map((p) => [nodeId(p.host, p.port), p.name]));

    const forced = await expect(a, hdr('X-Canary', 'always'), 'v2', 'header');
    assert.equal(forced.setCookies.length, 1, 'the canary issues a cookie');
    const c = forced.cookie;
    assert.equal(c.name, 'sess', 'the primary\'s cookie name; the canary\'s own is ignored');
    assert.deepEqual(c.attrs, [['Max-Age', '3600'], ['Path', '/'], ['HttpOnly', true]], 'the primary\'s attributes');
    const [token, key] = c.value.split('|');
    assert.match(token, HEX16);
    assert.equal(key, bk2, 'the canary backend\'s key');
    assert.equal(forced.pod, byId.get(ringLookup(ring2, token)), 'the canary pod its ring gives the token');
    assert.equal((await logOf(forced)).affinity, 'new');

    const rs = [];
    for (let i = 0; i < 50; i++) rs.push(await get(a.host, { cookie: `sess=${c.value}` }));
    for (const r of rs) {
      assert.equal(r.pod, forced.pod, 'stays on its canary pod without the header');
      assert.deepEqual(r.setCookies, [], 'a valid cookie is not re-sent');
    }
    for (const l of (await logsOf(rs)).values()) {
      assert.equal(l.canary, 'pinned');
      assert.equal(l.affinity, 'hit');
      assert.equal(l.backend, a.backends.v2);
    }
    // The pin is read from every Cookie header, however many: here the 20th.
    const many20 = await rawExchange(t.httpPort, `GET / HTTP/1.1\r\nHost: ${a.host}\r\n${
      Array.from({ length: 19 }, (_, i) => `Cookie: c${i}=${i}\r\n`).join('')}Cookie: sess=${c.value}\r\n` +
      'X-Request-ID: stk-many-cookies\r\nConnection: close\r\n\r\n');
    assert.equal(many20.responses[0].headers['x-pod'], forced.pod);
    assert.equal((await t.waitAccess((l) => l.request_id === 'stk-many-cookies')).canary, 'pinned');
    // The header saying never does not move a pinned session either.
    await expect(a, { headers: { 'X-Canary': 'never' }, cookie: `sess=${c.value}` }, 'v2', 'pinned');

    // A session that started on the primary is pinned there: always does not move it (spec §3.6).
    const prim = await expect(a, {}, 'v1', 'none');
    assert.equal(prim.cookie.value.split('|')[1], bk1);
    await expect(a, { headers: { 'X-Canary': 'always' }, cookie: `sess=${prim.cookie.value}` }, 'v1', 'pinned');

    // The weight moves to 100, then 0: both sessions stay where they are.
    await a.canary({ 'canary-by-header': 'X-Canary', 'canary-weight': '100' });
    await expect(a, { cookie: `sess=${prim.cookie.value}` }, 'v1', 'pinned');
    const fresh = await expect(a, {}, 'v2', 'weight', 'a new session by weight');
    assert.equal(fresh.cookie?.value.split('|')[1], bk2, 'a canary session from the weight gets a canary cookie');
    await a.canary({ 'canary-by-header': 'X-Canary', 'canary-weight': '0' });
    const kept = await expect(a, { cookie: `sess=${c.value}` }, 'v2', 'pinned', 'weight 0 does not unpin');
    assert.equal(kept.pod, forced.pod);
    await expect(a, { cookie: `sess=${fresh.cookie.value}` }, 'v2', 'pinned');

    // The canary loses its endpoints: its sessions go to the primary (spec §3.2 step 2, before
    // the canary pin) with no new cookie in balanced mode, and return once it has them again.
    kube.apply(slice('stk-v2', []));
    await sync();
    const away = await expect(a, { cookie: `sess=${c.value}` }, 'v1', 'none', 'canary without endpoints');
    assert.deepEqual(away.setCookies, []);
    kube.apply(slice('stk-v2', a.v2));
    await sync();
    assert.equal((await expect(a, { cookie: `sess=${c.value}` }, 'v2', 'pinned', 'canary back')).pod, forced.pod);

    // The canary goes: its sessions land on the primary; balanced mode maps the token onto the
    // primary's ring and sends no new cookie (spec §3.6).
    kube.remove('Ingress', 'default', 'stk-v2');
    await sync();
    const ring1 = ring(a.v1.map((p) => nodeId(p.host, p.port)));
    const byId1 = new Map(a.v1.map((p) => [nodeId(p.host, p.port), p.name]));
    const gone = await get(a.host, { cookie: `sess=${c.value}` });
    assert.equal(gone.pod, byId1.get(ringLookup(ring1, token)));
    assert.deepEqual(gone.setCookies, []);
    assert.equal((await logOf(gone)).canary, null);
  });

  test('sticky canary in persistent mode: the cookie names the canary pod; it is replaced once the canary goes', async () => {
    const a = await release('per', {
      primary: { affinity: 'cookie', 'affinity-mode': 'persistent' },
      canary: { 'canary-by-cookie': 'try_new' },
    });
    const name2 = backendName('default', 'per-v2', 80);
    const forced = await expect(a, { cookie: 'try_new=always' }, 'v2', 'cookie');
    const [key, bk] = forced.cookie.value.split('|');
    assert.equal(forced.cookie.name, 'INGRESSCOOKIE');
    assert.match(key, HEX32);
    assert.equal(bk, backendKey(name2));
    const pod = a.v2.find((p) => p.name === forced.pod);
    assert.equal(key, persistentKey(name2, nodeId(pod.host, pod.port)));
    for (let i = 0; i < 10; i++) {
      const r = await expect(a, { cookie: `INGRESSCOOKIE=${forced.cookie.value}; try_new=never` }, 'v2', 'pinned', 'pinned before the cookie rule');
      assert.equal(r.pod, forced.pod);
    }
    kube.remove('Ingress', 'default', 'per-v2');
    await sync();
    const r = await get(a.host, { cookie: `INGRESSCOOKIE=${forced.cookie.value}` });
    assert.equal(r.role, 'v1');
    assert.equal(r.setCookies.length, 1, 'persistent mode: a new cookie for a primary pod');
    assert.equal(r.cookie.value.split('|')[1], backendKey(backendName('default', 'per-v1', 80)));
  });

  test('weighted sticky canary: every new session is split by weight and then stays on its side', async () => {
    const a = await release('wstk', { primary: { affinity: 'cookie' }, canary: { 'canary-weight': '50' } });
    const bks = { v1: backendKey(backendName('default', 'wstk-v1', 80)), v2: backendKey(backendName('default', 'wstk-v2', 80)) };
    const sessions = [];
    for (const r of await many(a.host, 40)) {
      assert.equal(r.setCookies.length, 1);
      assert.equal(r.cookie.value.split('|')[1], bks[r.role], 'the cookie names the side that answered');
      sessions.push(r);
    }
    const c = roles(sessions);
    assert.ok(c.v1 >= 5 && c.v2 >= 5, `40 sessions split ${JSON.stringify(c)}`);
    for (const s of sessions) {
      for (let i = 0; i < 5; i++) {
        const r = await get(a.host, { cookie: `INGRESSCOOKIE=${s.cookie.value}` });
        assert.equal(r.pod, s.pod);
        assert.deepEqual(r.setCookies, []);
      }
    }
  });

  test('legacy canary: no cookie from the canary; the primary stays sticky and its pin still wins (ingress-nginx #8246)', async () => {
    const a = await release('leg', {
      primary: { affinity: 'cookie', 'session-cookie-name': 'sess' },
      canary: { 'canary-by-header': 'X-Canary', 'affinity-canary-behavior': 'legacy' },
    });
    const rs = await many(a.host, 20, hdr('X-Canary', 'always'));
    for (const r of rs) {
      assert.equal(r.role, 'v2');
      assert.deepEqual(r.setCookies, [], 'legacy: the canary issues no cookie');
    }
    for (const l of (await logsOf(rs)).values()) {
      assert.equal(l.canary, 'header');
      assert.equal(l.affinity, null, 'the canary is not sticky');
    }
    assert.ok(new Set(rs.map((r) => r.pod)).size === 2, 'canary requests spread over its pods');
    const prim = await expect(a, {}, 'v1', 'none');
    assert.equal(prim.cookie?.name, 'sess', 'the primary is still sticky');
    await expect(a, { headers: { 'X-Canary': 'always' }, cookie: `sess=${prim.cookie.value}` }, 'v1', 'pinned');
    // A cookie carrying the canary's backend key pins nothing under legacy.
    const bk2 = backendKey(backendName('default', 'leg-v2', 80));
    await expect(a, { cookie: `sess=0123456789abcdef|${bk2}` }, 'v1', 'none');
  });

  test('a primary without affinity: canary routing is per request and nobody gets a cookie, whatever the canary Ingress says', async () => {
    const a = await release('nostk', { canary: { 'canary-by-header': 'X-Canary', affinity: 'cookie', 'canary-weight': '50' } });
    const rs = await many(a.host, 60);
    const c = roles(rs);
    assert.ok(c.v1 > 0 && c.v2 > 0, JSON.stringify(c));
    for (const r of rs) assert.deepEqual(r.setCookies, []);
    const h = await expect(a, hdr('X-Canary', 'always'), 'v2', 'header');
    assert.deepEqual(h.setCookies, []);
  });

  // Last: a host-less primary rule catches every host no other rule names.
  test('a canary Ingress with only a defaultBackend is a catch-all alternative for the primary rules without a host (spec §3.3)', async () => {
    const v1 = await svc('any-v1');
    const v2 = await svc('any-v2');
    kube.apply(ingress('any-v2', { annotations: canary({ 'canary-by-header': 'X-Canary' }), defaultBackend: { service: 'any-v2' } }));
    await sync();
    assert.equal((await get('whatever.any.canary.test', hdr('X-Canary', 'always'))).status, 404, 'a canary\'s defaultBackend is no default backend');
    kube.apply(ingress('any', { rules: [{ paths: [{ path: '/', service: 'any-v1' }] }] }));
    const named = await release('anyhost', { canary: {} });
    await sync();
    const a = { host: 'whatever.any.canary.test', v1, v2, route: 'default/any', backends: { v1: 'default/any-v1:80', v2: 'default/any-v2:80' } };
    await expect(a, hdr('X-Canary', 'always'), 'v2', 'header');
    await expect(a, {}, 'v1', 'none');
    await expect(named, hdr('X-Canary', 'always'), 'v1', 'none', 'a rule with a host is not caught');
    kube.remove('Ingress', 'default', 'any-v2');
    kube.remove('Ingress', 'default', 'any');
    await sync();
  });
});
