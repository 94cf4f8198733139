// Path normalisation for routing: tether matches the path nginx would match (escapes decoded,
// slashes merged, dot segments resolved) so "/public/../admin" cannot slip past a rule meant
// for /admin, while the upstream still receives the request target exactly as sent.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, ingressClass, ingress, backend, SUITE } from './lib/tether.mjs';
import { rawExchange } from './lib/raw.mjs';

describe('path normalisation', SUITE, () => {
  const fx = fixture();
  let t;
  after(() => fx.close());
  before(async () => {
    const pub = await fx.echo({ host: '127.0.9.1', name: 'public' });
    const adm = await fx.echo({ host: '127.0.9.2', name: 'admin' });
    t = await fx.tether({
      objects: [
        ingressClass(),
        ingress('site', {
          rules: [{
            host: 'paths.test',
            paths: [{ path: '/public', service: 'public' }, { path: '/admin', service: 'admin' }],
          }],
        }),
        ...backend('public', [pub]),
        ...backend('admin', [adm]),
      ],
      workers: 1,
    });
  });

  async function routed(path) {
    const r = await t.req(path, { host: 'paths.test' });
    return { status: r.status, pod: r.status === 200 ? r.json().pod : null, url: r.status === 200 ? r.json().url : null };
  }

  test('dot segments are resolved before matching; the original target goes upstream', async () => {
    assert.deepEqual(await routed('/public/../admin/x'), { status: 200, pod: 'admin', url: '/public/../admin/x' });
    assert.deepEqual(await routed('/admin/./y'), { status: 200, pod: 'admin', url: '/admin/./y' });
    assert.deepEqual(await routed('/admin/../public'), { status: 200, pod: 'public', url: '/admin/../public' });
  });

  test('percent-escapes are decoded and repeated slashes merged before matching', async () => {
    assert.equal((await routed('/%61dmin/z')).pod, 'admin');
    assert.equal((await routed('//admin//z')).pod, 'admin');
    assert.equal((await routed('/public%2F..%2Fadmin')).pod, 'admin');
    assert.equal((await routed('/public/z?q=/../admin')).pod, 'public', 'the query is not part of the path');
  });

  test('a path that climbs above the root or carries a bad escape is a 400', async () => {
    for (const p of ['/..', '/public/../../admin', '/%2e%2e/admin', '/a%zz', '/a%00b', '/a%4']) {
      const r = await rawExchange(t.httpPort, `GET ${p} HTTP/1.1\r\nHost: paths.test\r\n\r\n`);
      assert.equal(r.responses[0]?.statusCode, 400, `${p}: ${r.raw}`);
    }
  });
});
