// Runs the real kubectl against a stand-in. Each stand-in gets its own temp dir (removed by
// kube.close()) holding the kubeconfig and a fresh --cache-dir, so discovery cached for one
// stand-in never leaks into another and ~/.kube is never touched.
//
// Validation: kubectl 1.29+ validates through OpenAPI v3, which the stand-in serves. Older
// clients (1.27 and 1.28 included, checked with the gcloud-bundled builds) ask for OpenAPI v2
// only, which the stand-in does not serve, so they get --validate=false.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { accessSync, constants } from 'node:fs';

const run = promisify(execFile);
export const KUBECTL = process.env.KUBECTL || 'kubectl';

let found;
// Path of kubectl when it is on PATH (or $KUBECTL), else null.
export function findKubectl() {
  if (found !== undefined) return found;
  found = null;
  if (KUBECTL.includes('/')) {
    try { accessSync(KUBECTL, constants.X_OK); found = KUBECTL; } catch { /* not there */ }
    return found;
  }
  for (const d of (process.env.PATH || '').split(':')) {
    if (!d) continue;
    try { accessSync(join(d, KUBECTL), constants.X_OK); found = join(d, KUBECTL); break; } catch { /* next */ }
  }
  return found;
}

const V3_VALIDATION_MINOR = 29;
let client;
// { minor, dispatcher }: the client's minor version ("32+" → 32; 0 when unknown), and whether it
// is the gcloud dispatcher, which runs the bundled kubectl matching the SERVER's minor version.
export async function clientVersion() {
  if (client !== undefined) return client;
  try {
    const { stdout } = await run(findKubectl(), ['version', '--client', '-o', 'json'], { timeout: 15000 });
    const v = JSON.parse(stdout).clientVersion;
    client = { minor: parseInt(v.minor, 10) || 0, dispatcher: /dispatcher/.test(v.gitVersion || '') };
  } catch {
    client = { minor: 0, dispatcher: false };
  }
  return client;
}

async function effectiveMinor(kube) {
  const c = await clientVersion();
  const server = parseInt(kube.versionMinor, 10) || c.minor;
  return c.dispatcher ? Math.min(c.minor, server) : c.minor;
}

const VALIDATING = new Set(['apply', 'create', 'replace']);

// Per-stand-in files, created on first use.
function setup(kube, opts) {
  const key = opts.kubeconfigOpts ? JSON.stringify(opts.kubeconfigOpts) : '';
  kube._kubectl ??= { dir: kube.tempDir('tether-kubectl-'), configs: new Map() };
  const st = kube._kubectl;
  if (!st.configs.has(key)) {
    st.configs.set(key, kube.writeKubeconfig(st.dir, { name: `kubectl${st.configs.size}`, ...(opts.kubeconfigOpts || {}) }));
  }
  return { kubeconfig: opts.kubeconfig || st.configs.get(key), cacheDir: join(st.dir, 'cache') };
}

// kubectl(kube, ['apply', '-f', file], { input, timeoutMs, kubeconfig, kubeconfigOpts, env })
// → { code, stdout, stderr, args }. Never throws for a non-zero exit.
export async function kubectl(kube, args, opts = {}) {
  const bin = findKubectl();
  if (!bin) throw new Error('kubectl not found on PATH');
  const { kubeconfig, cacheDir } = setup(kube, opts);
  const full = ['--kubeconfig', kubeconfig, '--cache-dir', cacheDir, ...args];
  if (VALIDATING.has(args[0]) && (await effectiveMinor(kube)) < V3_VALIDATION_MINOR &&
    !args.some((a) => a.startsWith('--validate'))) {
    full.push('--validate=false');
  }
  return new Promise((resolve) => {
    const child = spawn(bin, full, {
      env: { ...process.env, KUBECONFIG: kubeconfig, ...(opts.env || {}) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs || 30000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : -1), signal, stdout, stderr, args: full });
    });
    child.stdin.end(opts.input || '');
  });
}
