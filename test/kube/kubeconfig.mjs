// Kubeconfig files pointing at a stand-in: one cluster, one user, one context, current-context
// set. YAML is written by hand (strings as JSON double-quoted scalars, which YAML accepts) so no
// dependency is needed; JSON is offered for clients without a YAML parser, like the C controller.
import { writeFileSync, renameSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// Atomic replace: readers see the old or the new file, never a partial one (like the kubelet's
// projected-token swap).
export function writeAtomic(path, data) {
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, path);
}

function toYaml(v, indent = '') {
  if (Array.isArray(v)) {
    if (!v.length) return ' []';
    return v.map((x) => `\n${indent}-${toYaml(x, indent + '  ').replace(/^\n\s*/, ' ')}`).join('');
  }
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v);
    if (!keys.length) return ' {}';
    return keys.map((k) => `\n${indent}${k}:${toYaml(v[k], indent + '  ')}`).join('');
  }
  return ` ${JSON.stringify(v)}`;
}

// kube: { url, token, caFile, pki }. opts: { format: 'yaml'|'json', tokenFile: bool, embedCA: bool,
// namespace, name, token (overrides kube.token, e.g. a wrong one) }. Returns { path, tokenPath }.
export function writeKubeconfig(kube, dir, opts = {}) {
  const name = opts.name || 'tether-kube';
  const format = opts.format || 'yaml';
  const cluster = { server: kube.url };
  if (kube.caFile) {
    if (opts.embedCA) cluster['certificate-authority-data'] = readFileSync(kube.caFile).toString('base64');
    else cluster['certificate-authority'] = kube.caFile;
  }
  const user = {};
  let tokenPath = null;
  const token = opts.token !== undefined ? opts.token : kube.token;
  if (token) {
    if (opts.tokenFile) {
      tokenPath = join(dir, `${name}.token`);
      writeAtomic(tokenPath, token);
      user.tokenFile = tokenPath;
    } else {
      user.token = token;
    }
  }
  const context = { cluster: name, user: name };
  if (opts.namespace) context.namespace = opts.namespace;
  const doc = {
    apiVersion: 'v1', kind: 'Config', preferences: {},
    clusters: [{ name, cluster }],
    users: [{ name, user }],
    contexts: [{ name, context }],
    'current-context': name,
  };
  const path = join(dir, format === 'json' ? `${name}.kubeconfig.json` : `${name}.kubeconfig`);
  writeAtomic(path, format === 'json' ? JSON.stringify(doc, null, 2) + '\n' : toYaml(doc).slice(1) + '\n');
  return { path, tokenPath };
}
