// The resource table: which types the stand-in serves, where they live in the URL space, and
// what discovery says about them. Everything else (store, discovery, routing) reads this table,
// so adding a type is one entry here.
//
// Workload types (`workload: true`: Deployment, Pod) are stored by every stand-in but served over
// HTTP and listed in discovery only when it is started with `workloads: true`. Tether never reads
// them; they exist so kubectl can drive the mini cluster (cluster.mjs), and leaving them out by
// default keeps the discovery documents exactly those of the types tether watches.

// `status: true` means the type has a /status subresource: main-resource writes keep status and
// /status writes change only status (like the real registry strategies).
// `fields` lists the field selectors the real server accepts beyond metadata.name/namespace.
// `scale: true` adds the /scale subresource (autoscaling/v1 Scale over spec.replicas, see scale.mjs).
export const RESOURCES = [
  { group: 'networking.k8s.io', version: 'v1', name: 'ingresses', singularName: 'ingress', kind: 'Ingress',
    namespaced: true, shortNames: ['ing'], status: true, defaultStatus: () => ({ loadBalancer: {} }) },
  { group: 'networking.k8s.io', version: 'v1', name: 'ingressclasses', singularName: 'ingressclass', kind: 'IngressClass',
    namespaced: false, shortNames: [] },
  { group: '', version: 'v1', name: 'services', singularName: 'service', kind: 'Service',
    namespaced: true, shortNames: ['svc'], status: true, defaultStatus: () => ({ loadBalancer: {} }) },
  { group: '', version: 'v1', name: 'secrets', singularName: 'secret', kind: 'Secret',
    namespaced: true, shortNames: [], fields: ['type'] },
  { group: '', version: 'v1', name: 'namespaces', singularName: 'namespace', kind: 'Namespace',
    namespaced: false, shortNames: ['ns'], status: true, defaultStatus: () => ({ phase: 'Active' }),
    fields: ['status.phase'] },
  { group: '', version: 'v1', name: 'events', singularName: 'event', kind: 'Event',
    namespaced: true, shortNames: ['ev'],
    fields: ['involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid',
      'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath',
      'reason', 'reportingComponent', 'source', 'type'] },
  { group: 'discovery.k8s.io', version: 'v1', name: 'endpointslices', singularName: 'endpointslice', kind: 'EndpointSlice',
    namespaced: true, shortNames: [] },
  { group: 'coordination.k8s.io', version: 'v1', name: 'leases', singularName: 'lease', kind: 'Lease',
    namespaced: true, shortNames: [] },
  { group: 'apps', version: 'v1', name: 'deployments', singularName: 'deployment', kind: 'Deployment',
    namespaced: true, shortNames: ['deploy'], categories: ['all'], status: true, scale: true,
    defaultStatus: () => ({}), workload: true },
  { group: '', version: 'v1', name: 'pods', singularName: 'pod', kind: 'Pod',
    namespaced: true, shortNames: ['po'], categories: ['all'], status: true,
    defaultStatus: () => ({ phase: 'Pending' }), workload: true,
    fields: ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName',
      'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.nominatedNodeName'] },
];

for (const r of RESOURCES) {
  r.apiVersion = r.group ? `${r.group}/${r.version}` : r.version;
  // "ingresses.networking.k8s.io" / "services": the qualified name the real server puts in messages.
  r.qualified = r.group ? `${r.name}.${r.group}` : r.name;
}

export const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

// The types one stand-in serves over HTTP: everything, or everything but the workload types.
export function servedResources({ workloads = false } = {}) {
  return RESOURCES.filter((r) => workloads || !r.workload);
}

// Group versions in discovery order (core first, like the real /api then /apis).
export function groupVersions(resources = RESOURCES) {
  const seen = new Map();
  for (const r of resources) {
    const gv = r.apiVersion;
    if (!seen.has(gv)) seen.set(gv, { group: r.group, version: r.version, groupVersion: gv, resources: [] });
    seen.get(gv).resources.push(r);
  }
  return [...seen.values()];
}

export function resourceFor(group, version, name, resources = RESOURCES) {
  return resources.find((r) => r.group === group && r.version === version && r.name === name) || null;
}

// For the JS API: accepts a Kind ('Ingress'), a plural ('ingresses'), a singular or a short name.
export function resolveKind(k) {
  if (typeof k === 'object' && k && k.kind && k.name) return k;
  const s = String(k).toLowerCase();
  const r = RESOURCES.find((x) => x.kind.toLowerCase() === s || x.name === s || x.singularName === s ||
    x.shortNames.includes(s));
  if (!r) throw new Error(`kube stand-in: unknown kind ${k}`);
  return r;
}
