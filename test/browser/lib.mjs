// Shared pieces of the browser walkthrough tests: the tool checks (Debian's Chromium, kubectl,
// playwright-core; scripts/deps.sh installs all three, so a missing one fails the test), the
// launch with hosts mapped to tether's address, kubectl that must succeed, and browser contexts
// whose every response (and every request that got none) is recorded for checkStatuses().
import assert from 'node:assert/strict';
import { accessSync, constants } from 'node:fs';
import { kubectl, findKubectl } from '../kube/kubectl.mjs';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const SKIP = process.env.TT_NO_BROWSER === '1' ? 'TT_NO_BROWSER=1' : false;

// Checks that Chromium and kubectl are there and returns playwright-core's chromium.
export async function browserTools() {
  try {
    accessSync(CHROMIUM, constants.X_OK);
  } catch {
    throw new Error(`${CHROMIUM} not found: scripts/deps.sh installs Debian's chromium (or set CHROMIUM=...)`);
  }
  if (!findKubectl()) throw new Error('kubectl not found on PATH: scripts/deps.sh installs it');
  try {
    return (await import('playwright-core')).chromium;
  } catch (e) {
    throw new Error(`playwright-core is missing (scripts/deps.sh runs npm ci in test/): ${e.message}`);
  }
}

// Headless Chromium. *.localhost resolves to loopback in Chromium already; the rules pin each
// of |hosts| to tether's address.
export function launch(chromium, hosts) {
  return chromium.launch({ executablePath: CHROMIUM, headless: true,
    args: [`--host-resolver-rules=${hosts.map((h) => `MAP ${h} 127.0.0.1`).join(',')}`] });
}

// kubectl against the stand-in; fails the test unless it exits 0. Returns stdout.
export async function ok(kube, args) {
  const r = await kubectl(kube, args);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

// Browser contexts that record what their pages saw.
export function recorder(browser) {
  const responses = []; // every response any page saw: { ctx, url, status }
  const failures = [];  // requests that got no response at all
  return {
    responses,
    failures,
    async newContext(label, opts = {}) {
      const ctx = await browser.newContext(opts);
      ctx.on('response', (r) => responses.push({ ctx: label, url: r.url(), status: r.status() }));
      ctx.on('requestfailed', (r) => failures.push({ ctx: label, url: r.url(), error: r.failure()?.errorText }));
      return ctx;
    },
    // Every page response so far a 200, and every request answered.
    checkStatuses() {
      assert.deepEqual(failures, [], 'requests without a response');
      assert.deepEqual(responses.filter((r) => r.status !== 200), [], 'responses other than 200');
    },
  };
}
