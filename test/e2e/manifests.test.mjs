// Manifests: every accepted format (multi-doc YAML, JSON List, YAML List, a folder mixing files),
// objects of other kinds ignored, and malformed objects skipped with one WARN line each while
// the rest keeps working.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawConn } from './lib/raw.mjs';
import {
  fixture, ingressClass, ingress, backend, endpointSlice, writeManifests, toYaml, who, sleep, SLOW, SUITE,
} from './lib/tether.mjs';

describe('manifest formats', SUITE, () => {
  const fx = fixture();
  after(() => fx.close());
  let pod;
  const objs = () => [
    ingressClass(),
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'unrelated', namespace: 'default' }, data: { a: 'b' } },
    ingress('fmt', { rules: [{ host: 'fmt.test', paths: [{ path: '/', service: 'fmt', port: 8080 }] }] }),
    ...backend('fmt', [pod], { portName: 'web', servicePort: 8080 }),
  ];

  for (const format of ['yaml', 'json', 'dir']) {
    test(`format: ${format}`, async () => {
      pod ??= await fx.echo({ host: '127.0.9.1', name: 'fmt' });
      const t = await fx.tether({ objects: objs(), format });
      assert.equal(await who(t, 'fmt.test', '/'), 'fmt');
      await t.stop();
    });
  }

  test('format: YAML kind: List', async () => {
    pod ??= await fx.echo({ host: '127.0.9.1', name: 'fmt' });
    const dir = mkdtempSync(join(tmpdir(), 'tether-e2e-'));
    fx.defer(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'list.yaml');
    const list = toYaml([{ apiVersion: 'v1', kind: 'List', metadata: { name: 'list' }, items: objs() }]);
    writeFileSync(path, list);
    const t = await fx.tether({ manifests: path });
    assert.equal(await who(t, 'fmt.test', '/'), 'fmt');
  });

  test('format: one JSON object per file in a folder, plus a single-object YAML', async () => {
    pod ??= await fx.echo({ host: '127.0.9.1', name: 'fmt' });
    const dir = mkdtempSync(join(tmpdir(), 'tether-e2e-'));
    fx.defer(() => rmSync(dir, { recursive: true, force: true }));
    objs().forEach((o, i) => {
      if (i === 0) writeFileSync(join(dir, 'class.yml'), toYaml([o]).replace(/^---\n/, ''));
      else writeFileSync(join(dir, `obj-${i}.json`), JSON.stringify(o));
    });
    const t = await fx.tether({ manifests: dir });
    assert.equal(await who(t, 'fmt.test', '/'), 'fmt');
  });
});

describe('malformed objects are skipped', SUITE, () => {
  const fx = fixture();
  after(() => fx.close());

  test('bad pathType, missing Service, unknown port name: one WARN each, rest works', async () => {
    const good = await fx.echo({ host: '127.0.9.2', name: 'good' });
    const other = await fx.echo({ host: '127.0.9.3', name: 'other' });
    const objs = [
      ingressClass(),
      ingress('good', { ns: 'prod', rules: [{ host: 'good.test', paths: [{ path: '/', service: 'good' }] }] }),
      ingress('bad-pathtype', { ns: 'prod', rules: [{ host: 'bad.test', paths: [{ path: '/x', pathType: 'Weird', service: 'good' }] }] }),
      ingress('missing-svc', { ns: 'prod', rules: [{ host: 'miss.test', paths: [{ path: '/', service: 'nope' }] }] }),
      ingress('bad-port', { ns: 'prod', rules: [{ host: 'port.test', paths: [{ path: '/', service: 'good', port: 'nosuch' }] }] }),
      ingress('after-bad', { ns: 'prod', rules: [{ host: 'after.test', paths: [{ path: '/', service: 'other' }] }] }),
      ...backend('good', [good], { ns: 'prod' }),
      ...backend('other', [other], { ns: 'prod' }),
    ];
    const t = await fx.tether({ objects: objs });
    assert.equal(await who(t, 'good.test', '/'), 'good');
    assert.equal(await who(t, 'after.test', '/'), 'other');
    assert.equal(await who(t, 'bad.test', '/x'), 404);
    assert.equal(await who(t, 'miss.test', '/'), 503);
    assert.equal(await who(t, 'port.test', '/'), 503);
    assert.equal(t.exit, null);

    await sleep(200 * SLOW);
    const warns = t.logs().filter((l) => /^warn/i.test(String(l.level)));
    for (const name of ['bad-pathtype', 'missing-svc', 'bad-port']) {
      const mine = warns.filter((l) => l.object === `prod/${name}`);
      assert.equal(mine.length, 1, `WARN lines for prod/${name}: ${JSON.stringify(mine)}\n${t.logText()}`);
      assert.equal(mine[0].kind, 'Ingress');
      assert.ok(typeof mine[0].reason === 'string' && mine[0].reason.length > 0, 'reason missing');
    }
    for (const name of ['good', 'after-bad']) {
      assert.equal(warns.filter((l) => l.object === `prod/${name}`).length, 0, `prod/${name} was warned about`);
    }
  });

  test('an object that is not even an object (list item is a string) does not stop the rest', async () => {
    const good = await fx.echo({ host: '127.0.9.4', name: 'good2' });
    const dir = mkdtempSync(join(tmpdir(), 'tether-e2e-'));
    fx.defer(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'm.json');
    writeFileSync(path, JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        'garbage',
        { kind: 'Ingress', apiVersion: 'networking.k8s.io/v1' }, // no metadata at all
        ingressClass(),
        ingress('good2', { rules: [{ host: 'good2.test', paths: [{ path: '/', service: 'good2' }] }] }),
        ...backend('good2', [good]),
      ],
    }));
    const t = await fx.tether({ manifests: path });
    assert.equal(await who(t, 'good2.test', '/'), 'good2');
  });
});

describe('invalid manifests path', SUITE, () => {
  test('a --manifests path that does not exist is a fatal configuration error', async () => {
    const { runTether, freePort } = await import('./lib/tether.mjs');
    const r = await runTether([
      '--manifests', '/nonexistent/tether-e2e.yaml', '--http-port', String(await freePort()),
      '--healthz-port', String(await freePort()), '--bind-address', '127.0.0.1',
    ]);
    assert.notEqual(r.code, 0, `exit ${r.code} signal ${r.signal}`);
    assert.equal(r.signal, null, `killed by ${r.signal} (hung?)`);
    assert.ok(r.stderr.trim().length > 0, 'no error line');
  });

  test('a file that is not YAML/JSON is a fatal configuration error', async () => {
    const { runTether, freePort } = await import('./lib/tether.mjs');
    const { path, dir } = writeManifests([ingressClass()]);
    try {
      writeFileSync(path, 'kind: [unclosed\n  - {{{\n');
      const r = await runTether([
        '--manifests', path, '--http-port', String(await freePort()),
        '--healthz-port', String(await freePort()), '--bind-address', '127.0.0.1',
      ]);
      assert.notEqual(r.code, 0, `exit ${r.code} signal ${r.signal}`);
      assert.equal(r.signal, null, `killed by ${r.signal} (hung?)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SIGHUP re-reads --manifests (as --help documents)', SUITE, () => {
  const fx = fixture();
  after(() => fx.close());

  test('new routes and endpoints apply without dropping a kept-alive client; a bad file keeps the old table', async () => {
    const a = await fx.echo({ host: '127.0.9.11', name: 'a' });
    const b = await fx.echo({ host: '127.0.9.12', name: 'b' });
    const t = await fx.tether({
      objects: [ingressClass(), ingress('p', { rules: [{ host: 'a.test', paths: [{ path: '/', service: 'svc' }] }] }), ...backend('svc', [a])],
    });
    const c = await RawConn.connect(t.httpPort);
    try {
      await c.write('GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\n');
      assert.equal((await c.response(1))?.headers['x-pod'], 'a');
      assert.equal(await who(t, 'b.test', '/'), 404);
      writeFileSync(t.manifests, toYaml([
        ingressClass(),
        ingress('p', { rules: [{ host: 'a.test', paths: [{ path: '/', service: 'svc' }] }, { host: 'b.test', paths: [{ path: '/', service: 'svc' }] }] }),
        ...backend('svc', [b]),
      ]));
      t.proc.kill('SIGHUP');
      const end = Date.now() + 5000 * SLOW;
      while ((await who(t, 'b.test', '/')) !== 'b' && Date.now() < end) await sleep(50);
      assert.equal(await who(t, 'b.test', '/'), 'b');
      await c.write('GET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n');
      const r2 = await c.response(2);
      assert.ok(r2, `kept-alive client connection lost on reload (closed=${c.closed})`);
      assert.equal(r2.headers['x-pod'], 'b');
      writeFileSync(t.manifests, 'kind: [unclosed\n');
      t.proc.kill('SIGHUP');
      await sleep(500 * SLOW);
      assert.equal(t.exit, null, 'a bad file on reload killed tether');
      assert.equal(await who(t, 'b.test', '/'), 'b', 'a bad file on reload dropped the table');
      assert.equal((await t.admin('/readyz')).status, 200);
    } finally {
      c.destroy();
    }
  });
  test('a SIGHUP that arrives while the first table is still being built is a reload, not a kill', async () => {
    // 60 sticky Services of 100 endpoints: the first build takes ~100 ms (rings), long after
    // the "manifests loaded" line that says it has begun.
    const objs = [ingressClass()];
    for (let i = 0; i < 60; i++) {
      const pods = Array.from({ length: 100 }, (_, k) => ({ host: `10.9.${i}.${k + 1}`, port: 8000 }));
      objs.push(...backend(`s${i}`, pods).slice(0, 1), endpointSlice(`s${i}-a`, {
        service: `s${i}`, ports: [{ name: 'http', port: 8000 }], endpoints: pods.map((p) => ({ ip: p.host })) }));
      objs.push(ingress(`i${i}`, { annotations: { 'nginx.ingress.kubernetes.io/affinity': 'cookie' },
        rules: [{ host: `h${i}.test`, paths: [{ path: '/', service: `s${i}` }] }] }));
    }
    const t = await fx.tether({ objects: objs, format: 'json', ready: false });
    assert.ok(await t.waitLog((l) => l.msg === 'manifests loaded', 5000 * SLOW), 'the load began');
    t.proc.kill('SIGHUP');
    await t.waitReady();
    assert.ok(await t.waitLog((l) => l.msg === 'route table built' && l.cause === 'SIGHUP', 5000 * SLOW),
      `no reload after the early SIGHUP\n${t.logText()}`);
    assert.equal(t.exit, null, 'the early SIGHUP killed tether');
  });
});
