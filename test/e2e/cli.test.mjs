// Command line and admin listener: --help, --version, bad flags, /healthz, /readyz, and that
// --bind-address is honoured by both listeners.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { fixture, runTether, ingressClass, freePort, until, SUITE } from './lib/tether.mjs';

const connectable = (host, port) => new Promise((resolve) => {
  const s = net.connect({ host, port });
  s.on('connect', () => { s.destroy(); resolve(true); });
  s.on('error', () => resolve(false));
});

describe('command line', SUITE, () => {
  test('--version prints a version and exits 0', async () => {
    const r = await runTether(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /\d+\.\d+/);
  });

  test('--help prints usage with the flags and exits 0', async () => {
    const r = await runTether(['--help']);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout + r.stderr;
    for (const f of ['--manifests', '--http-port', '--healthz-port', '--bind-address', '--workers', '--proxy-body-size', '--shutdown-grace-period']) {
      assert.ok(out.includes(f), `usage does not mention ${f}`);
    }
  });

  for (const [name, args] of [
    ['unknown flag', ['--no-such-flag']],
    ['bad duration', ['--client-header-timeout', 'soon']],
    ['bad size', ['--proxy-body-size', '12q']],
    ['bad port', ['--http-port', '70000']],
    ['no connect attempts', ['--proxy-next-upstream-tries', '0']],
    ['more connect attempts than a sticky request can remember', ['--proxy-next-upstream-tries', '33']],
  ]) {
    test(`fatal configuration error exits non-zero: ${name}`, async () => {
      const base = ['--manifests', '/dev/null', '--http-port', String(await freePort()), '--healthz-port', String(await freePort()), '--bind-address', '127.0.0.1'];
      const r = await runTether([...base, ...args]);
      assert.equal(r.signal, null, `killed by ${r.signal} (did it start serving?)`);
      assert.notEqual(r.code, 0);
      assert.ok(r.stderr.trim().length > 0, 'no error line on stderr');
      if (args[0] !== '--no-such-flag') assert.ok(r.stderr.includes(args[0]), `the error names ${args[0]}: ${r.stderr}`);
    });
  }
});

describe('admin listener', SUITE, () => {
  const fx = fixture();
  after(() => fx.close());

  test('/healthz and /readyz answer 200; unknown admin path is not 200', async () => {
    const t = await fx.tether({ objects: [ingressClass()] });
    assert.equal((await t.admin('/healthz')).status, 200);
    assert.equal((await t.admin('/readyz')).status, 200);
    assert.notEqual((await t.admin('/no-such-admin-path')).status, 200);
  });

  test('/metrics is Prometheus text whose request and status counters follow the traffic', async () => {
    const t = await fx.tether({ objects: [ingressClass()] });
    const value = (text, name) => {
      const line = text.split('\n').find((l) => l.startsWith(`${name} `));
      assert.ok(line, `${name} missing:\n${text}`);
      return Number(line.slice(name.length + 1));
    };
    const m0 = await t.admin('/metrics');
    assert.equal(m0.status, 200);
    assert.match(m0.headers['content-type'], /^text\/plain/);
    for (const l of m0.text.split('\n').filter((x) => x && !x.startsWith('#'))) {
      assert.match(l, /^[a-z_]+(\{[a-z_]+="[^"]*"\})? \d+$/, `malformed sample: ${l}`);
    }
    const before404 = value(m0.text, 'tether_responses_total{class="4xx"}');
    const beforeReq = value(m0.text, 'tether_requests_total');
    for (let i = 0; i < 3; i++) assert.equal((await t.req('/nothing-here')).status, 404);
    // Responses are counted when the exchange is logged, just after the last byte is written,
    // so the third one can still be on its way when its client has the answer.
    const m1 = await until(async () => {
      const m = await t.admin('/metrics');
      return value(m.text, 'tether_responses_total{class="4xx"}') - before404 >= 3 && m;
    }, 'three 4xx counted');
    assert.equal(value(m1.text, 'tether_responses_total{class="4xx"}') - before404, 3);
    assert.equal(value(m1.text, 'tether_requests_total') - beforeReq, 3);
    assert.ok(value(m1.text, 'tether_route_table_generation') >= 1);
  });

  test('listeners bind only the --bind-address', async () => {
    const t = await fx.tether({ objects: [ingressClass()] });
    assert.ok(await connectable('127.0.0.1', t.httpPort));
    assert.ok(await connectable('127.0.0.1', t.healthzPort));
    assert.equal(await connectable('127.0.0.2', t.httpPort), false, 'http listener reachable on 127.0.0.2');
    assert.equal(await connectable('127.0.0.2', t.healthzPort), false, 'admin listener reachable on 127.0.0.2');
  });

  test('--bind-address 127.0.0.3 serves there and only there', async () => {
    const t = await fx.tether({ objects: [ingressClass()], bindAddress: '127.0.0.3' });
    assert.equal((await t.admin('/healthz')).status, 200);
    assert.ok(await connectable('127.0.0.3', t.httpPort));
    assert.equal(await connectable('127.0.0.1', t.httpPort), false);
    assert.equal(await connectable('127.0.0.1', t.healthzPort), false);
  });
});
