// Out of file descriptors: tether stops accepting for a moment instead of spinning on a
// readable listen socket, keeps the connections it has, and accepts the queued ones once
// descriptors are free again.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { fixture, ingressClass, ingress, backend, sleep, until, SLOW, SUITE } from './lib/tether.mjs';

// CPU time (user + system, in clock ticks) the process has used so far.
function cpuTicks(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(f[11]) + Number(f[12]);
}

describe('descriptor exhaustion', SUITE, () => {
  const fx = fixture();
  after(() => fx.close());

  test('EMFILE: no busy loop, and accepting resumes when descriptors are free', async () => {
    const pod = await fx.echo({ host: '127.0.35.1', name: 'fd' });
    const t = await fx.tether({
      objects: [ingressClass(), ingress('fd', { rules: [{ host: 'fd.test', paths: [{ path: '/', service: 'fd' }] }] }),
        ...backend('fd', [pod])],
      workers: 1,
      nofile: 48,
    });
    assert.equal((await t.req('/', { host: 'fd.test' })).status, 200);
    // Idle connections until tether runs out of descriptors; the rest wait in the backlog.
    const socks = [];
    for (let i = 0; i < 80; i++) {
      const s = net.connect({ host: '127.0.0.1', port: t.httpPort });
      s.on('error', () => {});
      socks.push(s);
    }
    await until(async () => {
      const m = (await t.admin('/metrics').catch(() => null))?.body.toString() ?? '';
      return /tether_connections_active (\d+)/.exec(m)?.[1] > 20 || !m;
    }, 'connections to be accepted');
    await sleep(200);
    const t0 = cpuTicks(t.pid);
    await sleep(1000);
    const used = cpuTicks(t.pid) - t0;
    assert.ok(used < 30 * SLOW, `tether used ${used} ticks in 1 s while out of descriptors`);
    for (const s of socks) s.destroy();
    await until(async () => {
      try { return (await t.req('/', { host: 'fd.test', timeout: 1000 })).status === 200; } catch { return false; }
    }, 'a request after descriptors were freed', 10000 * SLOW, 100);
    assert.equal(t.exit, null, 'tether exited');
  });
});
