// What kubectl reads before it touches an object: /version, the legacy discovery documents
// (/api, /apis, /api/v1, /apis/{g}/{v}) and a minimal OpenAPI v3. The OpenAPI documents carry no
// schemas, only paths tagged with x-kubernetes-group-version-kind and a fieldValidation parameter:
// that is enough for kubectl (>= 1.27) to conclude the server validates and skip client-side
// validation. /openapi/v2 is deliberately absent (404); kubectl then uses its compiled-in types
// for strategic-merge metadata.
import { createHash } from 'node:crypto';
import { groupVersions, VERBS } from './resources.mjs';

export function versionInfo(minor = '32') {
  return {
    major: '1', minor, gitVersion: `v1.${minor}.0`, gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean', buildDate: '2025-01-01T00:00:00Z', goVersion: 'go1.23.0', compiler: 'gc',
    platform: 'linux/amd64',
  };
}

export function apiVersions(serverAddress) {
  return { kind: 'APIVersions', versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function apiGroup(name, gvs) {
  const versions = gvs.map((g) => ({ groupVersion: g.groupVersion, version: g.version }));
  return { name, versions, preferredVersion: versions[0] };
}

export function apiGroupList() {
  const groups = new Map();
  for (const gv of groupVersions()) {
    if (!gv.group) continue;
    if (!groups.has(gv.group)) groups.set(gv.group, []);
    groups.get(gv.group).push(gv);
  }
  return { kind: 'APIGroupList', apiVersion: 'v1',
    groups: [...groups.entries()].map(([name, gvs]) => apiGroup(name, gvs)) };
}

export function apiGroupDoc(group) {
  const gvs = groupVersions().filter((g) => g.group === group);
  return gvs.length ? { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group, gvs) } : null;
}

export function apiResourceList(group, version) {
  const gv = groupVersions().find((g) => g.group === group && g.version === version);
  if (!gv) return null;
  const resources = [];
  for (const r of gv.resources) {
    const e = { name: r.name, singularName: r.singularName, namespaced: r.namespaced, kind: r.kind, verbs: VERBS };
    if (r.shortNames.length) e.shortNames = r.shortNames;
    e.storageVersionHash = createHash('sha256').update(r.qualified).digest('base64').slice(0, 11);
    resources.push(e);
    if (r.status) {
      resources.push({ name: `${r.name}/status`, singularName: '', namespaced: r.namespaced, kind: r.kind,
        verbs: ['get', 'patch', 'update'] });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv.groupVersion, resources };
}

const gvPath = (gv) => (gv.group ? `apis/${gv.groupVersion}` : `api/${gv.version}`);

function openapiGV(gv) {
  const paths = {};
  const params = [{ name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } },
    { name: 'dryRun', in: 'query', schema: { type: 'string', uniqueItems: true } },
    { name: 'fieldManager', in: 'query', schema: { type: 'string', uniqueItems: true } }];
  for (const r of gv.resources) {
    const gvk = { group: r.group, version: r.version, kind: r.kind };
    const base = `/${gvPath(gv)}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.name}`;
    const op = (action) => ({ 'x-kubernetes-action': action, 'x-kubernetes-group-version-kind': gvk,
      parameters: params, responses: { 200: { description: 'OK' } } });
    paths[base] = { get: op('list'), post: op('post'), delete: op('deletecollection') };
    paths[`${base}/{name}`] = { get: op('get'), put: op('put'), patch: op('patch'), delete: op('delete') };
    if (r.status) paths[`${base}/{name}/status`] = { get: op('get'), put: op('put'), patch: op('patch') };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths, components: { schemas: {} } };
}

// Per-group-version documents, keyed by "api/v1" / "apis/networking.k8s.io/v1".
const OPENAPI = new Map(groupVersions().map((gv) => [gvPath(gv), openapiGV(gv)]));

export function openapiIndex() {
  const paths = {};
  for (const [p, doc] of OPENAPI) {
    const hash = createHash('sha512').update(JSON.stringify(doc)).digest('hex').slice(0, 32).toUpperCase();
    paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${hash}` };
  }
  return { paths };
}

export function openapiDoc(p) {
  return OPENAPI.get(p) || null;
}

