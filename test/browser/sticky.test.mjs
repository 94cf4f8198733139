// Issue #4 in a real browser: the sticky-sessions walkthrough (deploy/examples/sticky-sessions.yaml)
// applied with the real kubectl to the API stand-in, whose mini cluster runs the five hello pods,
// and tether in front of it; playwright-core drives Debian's Chromium, headless.
//   * 20 reloads of http://hello.localhost:<port>/ stay on one pod, under the cookie the Ingress
//     asks for (persistent mode: <md5(backend name ++ ip:port)>|<backend key>, Path=/, HttpOnly,
//     two days);
//   * a fresh browser context has an empty jar and gets a cookie of its own;
//   * after `kubectl scale` 5 -> 10, once tether routes to the new pods, the first context still
//     reaches its pod with the cookie it already had.
// Every page response must be a 200. Chromium, kubectl and the npm packages are installed by
// scripts/deps.sh, so a missing one fails the test; TT_NO_BROWSER=1 skips it.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startCluster } from '../kube/cluster.mjs';
import { fixture, who, until, SLOW, SUITE } from '../e2e/lib/tether.mjs';
import { SKIP, browserTools, launch, ok, recorder } from './lib.mjs';

const STICKY = fileURLToPath(new URL('../../deploy/examples/sticky-sessions.yaml', import.meta.url));
const HOST = 'hello.localhost';
const COOKIE = 'deno-hello-cookie';
const TWO_DAYS = 172800;
// ingress-nginx names the backend <namespace>-<service>-<port as the Ingress writes it>.
const BACKEND = 'default-deno-hello-service-deno-hello-port';
const md5 = (s) => createHash('md5').update(s).digest('hex');
const BACKEND_KEY = md5(md5(BACKEND) + BACKEND);
const podKey = (ip) => md5(`${BACKEND}${ip}:8000`);

describe('sticky sessions in Chromium (issue #4)', { ...SUITE, skip: SKIP }, () => {
  const fx = fixture();
  let kube;
  let cluster;
  let t;
  let browser;
  let url;
  let ctx1;
  let page1;
  let pod1;                     // the pod context 1 is pinned to
  let cookie1;                  // and its cookie
  let rec;                      // records every response any page saw

  after(() => fx.close());
  before(async () => {
    const chromium = await browserTools();

    kube = await fx.kube({ workloads: true });
    cluster = await startCluster(kube, { podNet: '127.0.90', firstHost: 11, terminationGraceMs: 100 });
    fx.defer(() => cluster.close());
    t = await fx.tether({ kubeconfig: kube.writeKubeconfig(kube.tempDir()), args: ['--ingress-class', 'nginx'], workers: 2 });
    url = `http://${HOST}:${t.httpPort}/`;

    await ok(kube, ['apply', '-f', STICKY]);
    await cluster.idle();
    const five = names();
    assert.equal(five.length, 5);
    await until(async () => five.includes(await who(t, HOST, '/')), 'a walkthrough pod answering through tether');

    browser = await launch(chromium, [HOST]);
    fx.defer(() => browser.close());
    rec = recorder(browser);
  });

  // The walkthrough's pods that run and are not leaving, by name.
  function pods() {
    return cluster.pods('default').filter((p) => p.deployment === 'deno-hello' && !p.terminating);
  }
  function names() {
    return pods().map((p) => p.name).sort();
  }
  function ipOf(name) {
    const p = pods().find((x) => x.name === name);
    assert.ok(p, `${name} is not a running pod (${names().join(' ')})`);
    return p.ip;
  }

  const newContext = (label) => rec.newContext(label);

  // Loads (goto) or reloads the page; returns { pod, setCookie } from the page and the response.
  async function load(page, how) {
    const r = how === 'goto' ? await page.goto(url) : await page.reload();
    assert.ok(r, `${how} ${url}: no response`);
    assert.equal(r.status(), 200, `${how} ${url}: status ${r.status()}`);
    const pod = (await page.textContent('#pod'))?.trim();
    assert.equal(r.headers()['x-pod'], pod, 'the page names the pod that answered');
    return { pod, setCookie: (await r.headerValue('set-cookie')) ?? null };
  }

  async function jarCookie(ctx) {
    const jar = await ctx.cookies();
    assert.deepEqual(jar.map((c) => c.name), [COOKIE], 'exactly one cookie in the jar');
    return jar[0];
  }

  // The value must pin `pod`: persistent mode's key of its ip:port, then the backend's key.
  function checkValue(value, pod) {
    assert.match(value, /^[0-9a-f]{32}\|[0-9a-f]{32}$/, 'value shape <32 hex>|<32 hex>');
    assert.equal(value, `${podKey(ipOf(pod))}|${BACKEND_KEY}`, `cookie value is md5(${BACKEND} ++ ip:port)|backend key`);
  }

  const checkStatuses = () => rec.checkStatuses();

  test('20 reloads of the walkthrough page stay on one pod, under a two-day HttpOnly cookie', async () => {
    ctx1 = await newContext('ctx1');
    page1 = await ctx1.newPage();
    assert.deepEqual(await ctx1.cookies(), [], 'a new context starts without cookies');
    const t0 = Date.now() / 1000;
    const first = await load(page1, 'goto');
    const t1 = Date.now() / 1000;
    pod1 = first.pod;
    assert.ok(names().includes(pod1), `${pod1} is one of the five pods`);

    // The Set-Cookie header as ingress-nginx writes it (attribute order from lua-resty-cookie).
    assert.ok(first.setCookie, 'the first answer sets the affinity cookie');
    assert.match(first.setCookie, new RegExp(`^${COOKIE}=[0-9a-f]{32}\\|[0-9a-f]{32}; ` +
      `Expires=[A-Z][a-z]{2}, \\d{2}-[A-Z][a-z]{2}-(\\d{2}|\\d{4}) \\d{2}:\\d{2}:\\d{2} GMT; Max-Age=${TWO_DAYS}; Path=/; HttpOnly$`));
    const expires = Date.parse(/Expires=([^;]+)/.exec(first.setCookie)[1].replace(/-/g, ' ')) / 1000;
    assert.ok(Math.abs(expires - (t0 + TWO_DAYS)) < 5, `Expires ${new Date(expires * 1000).toISOString()} is two days ahead`);

    // What Chromium stored.
    cookie1 = await jarCookie(ctx1);
    checkValue(cookie1.value, pod1);
    assert.equal(cookie1.domain, HOST, 'a host-only cookie');
    assert.equal(cookie1.path, '/');
    assert.equal(cookie1.httpOnly, true);
    assert.equal(cookie1.secure, false, 'no Secure over plain http');
    assert.ok(cookie1.expires >= t0 + TWO_DAYS - 2 && cookie1.expires <= t1 + TWO_DAYS + 2,
      `expires ${cookie1.expires} is ${TWO_DAYS} s after the first load (${t0.toFixed(0)})`);
    assert.equal(await page1.evaluate(() => document.cookie), '', 'HttpOnly: invisible to scripts');

    for (let i = 1; i <= 20; i++) {
      const r = await load(page1, 'reload');
      assert.equal(r.pod, pod1, `reload ${i} left ${pod1}`);
      assert.equal(r.setCookie, null, `reload ${i}: a valid cookie is not re-issued`);
    }
    assert.equal((await jarCookie(ctx1)).value, cookie1.value, 'the cookie never changed');
    checkStatuses();
  });

  test('a fresh browser context gets a cookie of its own', async () => {
    assert.ok(cookie1, 'needs the first test');
    // Each fresh context starts empty and is issued its own cookie for the pod it reached. One of
    // five pods at random: after a few contexts one has landed elsewhere and holds another value.
    const seen = new Map();     // pod -> cookie value
    for (let i = 1; i <= 15 && ![...seen.keys()].some((p) => p !== pod1); i++) {
      const ctx = await newContext(`fresh${i}`);
      try {
        const page = await ctx.newPage();
        assert.deepEqual(await ctx.cookies(), [], `fresh${i} starts without cookies`);
        const r = await load(page, 'goto');
        assert.ok(r.setCookie?.startsWith(`${COOKIE}=`), `fresh${i} is issued a cookie`);
        const c = await jarCookie(ctx);
        checkValue(c.value, r.pod);
        if (seen.has(r.pod)) assert.equal(seen.get(r.pod), c.value, 'one value per pod');
        seen.set(r.pod, c.value);
        const again = await load(page, 'reload');
        assert.deepEqual([again.pod, again.setCookie], [r.pod, null], `fresh${i} sticks to its pod`);
      } finally {
        await ctx.close();
      }
    }
    const other = [...seen.keys()].find((p) => p !== pod1);
    assert.ok(other, `15 fresh contexts all landed on ${pod1}`);
    assert.notEqual(seen.get(other), cookie1.value);
    // Context 1 is untouched by the others.
    assert.equal((await jarCookie(ctx1)).value, cookie1.value);
    assert.equal((await load(page1, 'reload')).pod, pod1);
    checkStatuses();
  });

  test('after kubectl scale 5 -> 10 the page still shows the same pod', async () => {
    assert.ok(pod1, 'needs the first test');
    const five = names();
    await ok(kube, ['scale', 'deployment', 'deno-hello', '--replicas=10']);
    await cluster.idle();
    const ten = names();
    assert.equal(ten.length, 10);
    assert.deepEqual(five.filter((n) => ten.includes(n)), five, 'the first five keep running');
    // tether follows the slice: cookie-less requests reach every one of the ten pods.
    const seen = new Set();
    await until(async () => {
      for (let i = 0; i < 40; i++) seen.add(await who(t, HOST, '/'));
      return ten.every((n) => seen.has(n)) ? seen : null;
    }, 'all ten pods answering through tether', 10_000 * SLOW, 20);
    assert.deepEqual([...seen].sort(), ten);

    for (let i = 1; i <= 5; i++) {
      const r = await load(page1, 'reload');
      assert.equal(r.pod, pod1, `reload ${i} after the scale-up left ${pod1}`);
      assert.equal(r.setCookie, null, 'no new cookie: the old one still names a live pod');
    }
    assert.equal((await jarCookie(ctx1)).value, cookie1.value);
    checkStatuses();
    // 1 + 20 loads, at least one fresh context (2 loads) and a reload in test 2, 5 reloads here.
    assert.ok(rec.responses.length >= 29, `${rec.responses.length} responses seen`);
  });
});
