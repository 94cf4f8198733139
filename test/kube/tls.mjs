// Test PKI made with the openssl CLI: a CA, a server certificate it signs (SAN IP:127.0.0.1 and
// DNS:localhost), and a "rogue" CA + server certificate with the same names that the exposed CA
// did NOT sign, for the bad-certificate fault. Generated once per process into a temp dir that
// is removed when the process exits.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';

const run = promisify(execFile);
let cached = null;

async function openssl(args, cwd) {
  try {
    await run('openssl', args, { cwd });
  } catch (e) {
    throw new Error(`kube stand-in: openssl ${args[0]} failed: ${e.stderr || e.message}`);
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function makePair(dir, prefix, cn) {
  await openssl(['req', '-x509', ...EC, '-keyout', `${prefix}ca.key`, '-out', `${prefix}ca.crt`, '-days', '3650',
    '-subj', `/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  await openssl(['req', ...EC, '-keyout', `${prefix}server.key`, '-out', `${prefix}server.csr`,
    '-subj', '/CN=kube-apiserver'], dir);
  writeFileSync(join(dir, `${prefix}server.ext`), [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '',
  ].join('\n'));
  await openssl(['x509', '-req', '-in', `${prefix}server.csr`, '-CA', `${prefix}ca.crt`, '-CAkey', `${prefix}ca.key`,
    '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '3650', '-extfile', `${prefix}server.ext`,
    '-out', `${prefix}server.crt`], dir);
  const rd = (f) => readFileSync(join(dir, `${prefix}${f}`));
  return { caFile: join(dir, `${prefix}ca.crt`), ca: rd('ca.crt'), cert: rd('server.crt'), key: rd('server.key') };
}

// Resolves to { dir, caFile, ca, cert, key, bad: { cert, key, caFile } } (PEM Buffers).
export function testPKI() {
  if (!cached) {
    cached = (async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tether-kube-tls-'));
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
      const good = await makePair(dir, '', 'tether-kube-test-ca');
      const bad = await makePair(dir, 'rogue-', 'tether-kube-rogue-ca');
      return { dir, ...good, bad };
    })();
    cached.catch(() => { cached = null; });
  }
  return cached;
}
