// What kubectl reads before it touches an object: /version, the legacy discovery documents
// (/api, /apis, /api/v1, /apis/{g}/{v}) and a minimal OpenAPI v3, built per stand-in from the
// types it serves. The OpenAPI documents carry no
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

// Subresources each type has, as discovery lists them. /scale answers in autoscaling/v1 whatever
// the parent's group is, and says so, which is how kubectl's scale client learns what to decode.
function subresources(r) {
  const subs = [];
  if (r.status) subs.push({ name: 'status', kind: r.kind, verbs: ['get', 'patch', 'update'] });
  if (r.scale) subs.push({ name: 'scale', kind: 'Scale', group: 'autoscaling', version: 'v1', verbs: ['get', 'patch', 'update'] });
  return subs;
}

const gvPath = (gv) => (gv.group ? `apis/${gv.groupVersion}` : `api/${gv.version}`);

function openapiGV(gv) {
  const paths = {};
  const params = [{ name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } },
    { name: 'dryRun', in: 'query', schema: { type: 'string', uniqueItems: true } },
    { name: 'fieldManager', in: 'query', schema: { type: 'string', uniqueItems: true } }];
  const op = (action, gvk) => ({ 'x-kubernetes-action': action, 'x-kubernetes-group-version-kind': gvk,
    parameters: params, responses: { 200: { description: 'OK' } } });
  for (const r of gv.resources) {
    const gvk = { group: r.group, version: r.version, kind: r.kind };
    const base = `/${gvPath(gv)}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.name}`;
    paths[base] = { get: op('list', gvk), post: op('post', gvk), delete: op('deletecollection', gvk) };
    paths[`${base}/{name}`] = { get: op('get', gvk), put: op('put', gvk), patch: op('patch', gvk), delete: op('delete', gvk) };
    for (const s of subresources(r)) {
      const sgvk = s.group !== undefined ? { group: s.group, version: s.version, kind: s.kind } : gvk;
      paths[`${base}/{name}/${s.name}`] = { get: op('get', sgvk), put: op('put', sgvk), patch: op('patch', sgvk) };
    }
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths, components: { schemas: {} } };
}

// The discovery and OpenAPI documents for one set of served types (see servedResources()).
export function discoveryFor(resources) {
  const gvList = groupVersions(resources);
  // Per-group-version OpenAPI documents, keyed by "api/v1" / "apis/networking.k8s.io/v1".
  const openapi = new Map(gvList.map((gv) => [gvPath(gv), openapiGV(gv)]));
  const index = { paths: {} };
  for (const [p, doc] of openapi) {
    const hash = createHash('sha512').update(JSON.stringify(doc)).digest('hex').slice(0, 32).toUpperCase();
    index.paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${hash}` };
  }

  return {
    apiGroupList() {
      const groups = new Map();
      for (const gv of gvList) {
        if (!gv.group) continue;
        if (!groups.has(gv.group)) groups.set(gv.group, []);
        groups.get(gv.group).push(gv);
      }
      return { kind: 'APIGroupList', apiVersion: 'v1',
        groups: [...groups.entries()].map(([name, gvs]) => apiGroup(name, gvs)) };
    },

    apiGroupDoc(group) {
      const gvs = gvList.filter((g) => g.group === group);
      return gvs.length ? { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group, gvs) } : null;
    },

    apiResourceList(group, version) {
      const gv = gvList.find((g) => g.group === group && g.version === version);
      if (!gv) return null;
      const resources = [];
      for (const r of gv.resources) {
        const e = { name: r.name, singularName: r.singularName, namespaced: r.namespaced, kind: r.kind, verbs: VERBS };
        if (r.shortNames.length) e.shortNames = r.shortNames;
        if (r.categories) e.categories = r.categories;
        e.storageVersionHash = createHash('sha256').update(r.qualified).digest('base64').slice(0, 11);
        resources.push(e);
        for (const s of subresources(r)) {
          const sub = { name: `${r.name}/${s.name}`, singularName: '', namespaced: r.namespaced };
          if (s.group !== undefined) Object.assign(sub, { group: s.group, version: s.version });
          resources.push({ ...sub, kind: s.kind, verbs: s.verbs });
        }
      }
      return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: gv.groupVersion, resources };
    },

    openapiIndex() { return index; },
    openapiDoc(p) { return openapi.get(p) || null; },
  };
}
