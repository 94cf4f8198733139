// Issue #5 in a real browser: the canary walkthrough (deploy/examples/canary.yaml: shop v1, the
// primary, 3 pods; shop v2, the canary, 1 pod; the primary Ingress is sticky with cookie
// "shop-session", the canary Ingress takes "region: east-us" by header and 20 % by weight)
// applied with the real kubectl to the API stand-in's mini cluster, tether in front of it,
// Debian's Chromium driven by playwright-core. The page names the pod and the image
// (example/shop:v1 or :v2) that answered.
//   * with the header added to the browser's requests the page comes from v2, and the answer
//     sets shop-session=<token>|<the canary backend's key>: the canary uses the primary's cookie
//     (affinity-canary-behavior defaults to sticky; the example sets no affinity on the canary);
//   * with the header removed, reloads stay on that v2 pod under that cookie;
//   * fresh contexts without the header land on either side (weight 20) and stay there; a
//     session pinned to v1 is not moved by the header (spec §3.6: the pin goes first).
// Every page response must be a 200.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startCluster } from '../kube/cluster.mjs';
import { fixture, ingressClass, who, until, SUITE } from '../e2e/lib/tether.mjs';
import { SKIP, browserTools, launch, ok, recorder } from './lib.mjs';

const CANARY = fileURLToPath(new URL('../../deploy/examples/canary.yaml', import.meta.url));
const HOST = 'shop.localhost';
const COOKIE = 'shop-session';
const HEADER = { region: 'east-us' };
const md5 = (s) => createHash('md5').update(s).digest('hex');
// ingress-nginx's backend key of <namespace>-<service>-<port as the Ingress writes it>.
const bk = (name) => md5(md5(name) + name);
const KEY = { v1: bk('default-shop-v1-80'), v2: bk('default-shop-v2-80') };
const IMAGE = { v1: 'example/shop:v1', v2: 'example/shop:v2' };

describe('canary walkthrough in Chromium (issue #5)', { ...SUITE, skip: SKIP }, () => {
  const fx = fixture();
  let kube;
  let cluster;
  let t;
  let browser;
  let rec;
  let url;

  after(() => fx.close());
  before(async () => {
    const chromium = await browserTools();
    kube = await fx.kube({ workloads: true });
    cluster = await startCluster(kube, { podNet: '127.0.91', firstHost: 11, terminationGraceMs: 100 });
    fx.defer(() => cluster.close());
    // The walkthrough's Ingresses name ingressClassName: tether, the IngressClass a tether install has.
    kube.apply(ingressClass());
    t = await fx.tether({ kubeconfig: kube.writeKubeconfig(kube.tempDir()), workers: 2 });
    url = `http://${HOST}:${t.httpPort}/`;

    await ok(kube, ['apply', '-f', CANARY]);
    await cluster.idle();
    assert.deepEqual([pods('v1').length, pods('v2').length], [3, 1], 'three v1 pods and one v2 pod');
    await until(async () => sideOf(await who(t, HOST, '/')), 'a walkthrough pod answering through tether');
    await until(async () => (await who(t, HOST, '/', { headers: HEADER })) === pods('v2')[0].name,
      'the header reaching v2 through tether');

    browser = await launch(chromium, [HOST]);
    fx.defer(() => browser.close());
    rec = recorder(browser);
  });

  // The running pods of one side, oldest first.
  function pods(side) {
    return cluster.pods('default').filter((p) => p.deployment === `shop-${side}` && !p.terminating);
  }
  const sideOf = (pod) => ['v1', 'v2'].find((s) => pods(s).some((p) => p.name === pod));

  // goto or reload; returns what the page and the exchange show.
  async function load(page, how) {
    const r = how === 'goto' ? await page.goto(url) : await page.reload();
    assert.ok(r, `${how} ${url}: no response`);
    assert.equal(r.status(), 200, `${how} ${url}: status ${r.status()}`);
    const pod = (await page.textContent('#pod'))?.trim();
    const image = (await page.textContent('#image'))?.trim();
    assert.equal(r.headers()['x-pod'], pod, 'the page names the pod that answered');
    const side = sideOf(pod);
    assert.ok(side, `${pod} is a walkthrough pod`);
    assert.equal(image, IMAGE[side], `${pod} runs ${IMAGE[side]}`);
    return { pod, side, image, setCookie: (await r.headerValue('set-cookie')) ?? null,
      sentRegion: (await r.request().allHeaders()).region ?? null };
  }
  async function jarCookie(ctx) {
    const jar = await ctx.cookies();
    assert.deepEqual(jar.map((c) => c.name), [COOKIE], 'exactly one cookie in the jar');
    return jar[0];
  }
  // Balanced mode (the example sets no affinity-mode): <16 hex token>|<backend key of the side>.
  const valueRe = (side) => new RegExp(`^[0-9a-f]{16}\\|${KEY[side]}$`);

  test('with "region: east-us" the page comes from v2 under the primary\'s cookie; without it, 20 reloads stay on v2', async () => {
    const ctx = await rec.newContext('header');
    try {
      const page = await ctx.newPage();
      await page.setExtraHTTPHeaders(HEADER);
      const first = await load(page, 'goto');
      assert.equal(first.sentRegion, 'east-us', 'the browser sent the header');
      assert.equal(first.side, 'v2', `the header lands on v2 (got ${first.pod}, ${first.image})`);
      assert.ok(first.setCookie, 'the canary answer sets the affinity cookie');
      assert.match(first.setCookie, new RegExp(`^${COOKIE}=[0-9a-f]{16}\\|${KEY.v2}; Path=/; HttpOnly$`),
        'the primary Ingress\'s cookie name with the canary backend\'s key');
      const c = await jarCookie(ctx);
      assert.match(c.value, valueRe('v2'));
      assert.equal(c.path, '/');
      assert.equal(c.httpOnly, true);

      for (let i = 1; i <= 5; i++) {
        const r = await load(page, 'reload');
        assert.deepEqual([r.pod, r.setCookie], [first.pod, null], `reload ${i} with the header`);
      }
      await page.setExtraHTTPHeaders({});
      for (let i = 1; i <= 20; i++) {
        const r = await load(page, 'reload');
        assert.equal(r.sentRegion, null, `reload ${i}: the header is gone`);
        assert.equal(r.pod, first.pod, `reload ${i} without the header left ${first.pod} for ${r.pod} (${r.image})`);
        assert.equal(r.setCookie, null, `reload ${i}: the valid cookie is not re-issued`);
      }
      assert.equal((await jarCookie(ctx)).value, c.value, 'the cookie never changed');
    } finally {
      await ctx.close();
    }
    rec.checkStatuses();
  });

  test('fresh contexts without the header land on either side and stay; a v1 session is not moved by the header', async () => {
    const seen = { v1: 0, v2: 0 };
    let pinnedV1 = null;
    for (let i = 1; i <= 12; i++) {
      const ctx = await rec.newContext(`fresh${i}`);
      try {
        const page = await ctx.newPage();
        const first = await load(page, 'goto');
        assert.equal(first.sentRegion, null);
        seen[first.side]++;
        assert.ok(first.setCookie?.startsWith(`${COOKIE}=`), `fresh${i} is issued a cookie`);
        const c = await jarCookie(ctx);
        assert.match(c.value, valueRe(first.side), `fresh${i}: the cookie names the side that answered`);
        for (let k = 1; k <= 3; k++) {
          const r = await load(page, 'reload');
          assert.deepEqual([r.pod, r.setCookie], [first.pod, null], `fresh${i} reload ${k} stays`);
        }
        if (first.side === 'v1' && !pinnedV1) {
          pinnedV1 = first.pod;
          // The cookie pins the session to v1 ahead of the header rule (spec §3.2 step 1, §3.6).
          await page.setExtraHTTPHeaders(HEADER);
          const r = await load(page, 'reload');
          assert.equal(r.sentRegion, 'east-us');
          assert.deepEqual([r.pod, r.setCookie], [first.pod, null], 'a v1 session stays on v1 with the header');
        }
      } finally {
        await ctx.close();
      }
    }
    assert.ok(seen.v1 > 0, `12 fresh contexts all landed on v2 at weight 20: ${JSON.stringify(seen)}`);
    rec.checkStatuses();
  });
});
