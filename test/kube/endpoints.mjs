// The EndpointSlice controller of the mini cluster: for every Service with a selector, the slices
// naming the pods it selects, written as the real endpointslice-controller writes them (label
// kubernetes.io/service-name, Service port names mapped to the pods' target ports, conditions
// ready/serving/terminating, targetRef and nodeName). It only ever touches slices it created, so
// hand-made slices (the e2e fixtures) live next to it undisturbed.
import { randomBytes } from 'node:crypto';

const MANAGED_BY = 'endpointslice-controller.k8s.io';
const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

// Five characters like the apiserver's generateName suffix.
export function randomSuffix(n = 5) {
  return [...randomBytes(n)].map((b) => ALPHANUMS[b % ALPHANUMS.length]).join('');
}

const selects = (sel, labels) => Object.entries(sel).every(([k, v]) => labels?.[k] === v);

// A Service port as the slice of one pod states it, or null when a named targetPort names no port
// of that pod (the real controller then leaves the port out for that pod).
function slicePort(sp, pod) {
  const tp = sp.targetPort ?? sp.port;
  const proto = sp.protocol || 'TCP';
  let port = typeof tp === 'number' ? tp : null;
  if (typeof tp === 'string') {
    for (const c of pod.spec?.containers || []) {
      const hit = (c.ports || []).find((p) => p.name === tp && (p.protocol || 'TCP') === proto);
      if (hit) { port = hit.containerPort; break; }
    }
  }
  if (port === null) return null;
  const out = { name: sp.name ?? '', port, protocol: proto };
  if (sp.appProtocol) out.appProtocol = sp.appProtocol;
  return out;
}

function endpoint(pod, nodeName) {
  return {
    addresses: [pod.ip],
    // A terminating pod still serves, but is no longer ready: new connections should go elsewhere.
    conditions: { ready: !pod.terminating, serving: true, terminating: pod.terminating },
    nodeName,
    targetRef: { kind: 'Pod', namespace: pod.namespace, name: pod.name, uid: pod.uid },
  };
}

export class SliceController {
  // kube: the stand-in's JS API; write(fn): runs a store write the caller should not react to.
  constructor(kube, { nodeName, write }) {
    this.kube = kube;
    this.nodeName = nodeName;
    this.write = write;
    this.owned = new Map();     // "ns/service" -> Map(port signature -> slice name)
  }

  // Brings every slice in line with |pods| (records { name, namespace, uid, labels, spec, ip,
  // terminating }, oldest first). Pods without an address are not endpoints yet.
  sync(pods) {
    const seen = new Set();
    for (const svc of this.kube.list('Service')) {
      const sel = svc.spec?.selector;
      if (!sel || !Object.keys(sel).length || svc.spec.type === 'ExternalName') continue;
      const key = `${svc.metadata.namespace}/${svc.metadata.name}`;
      seen.add(key);
      this.syncService(key, svc, pods.filter((p) => p.ip && p.namespace === svc.metadata.namespace &&
        selects(sel, p.labels)));
    }
    for (const key of [...this.owned.keys()]) if (!seen.has(key)) this.drop(key);
  }

  syncService(key, svc, pods) {
    // Pods whose ports resolve differently cannot share a slice: one slice per port set.
    const groups = new Map();
    for (const p of pods) {
      const ports = (svc.spec.ports || []).map((sp) => slicePort(sp, p)).filter(Boolean);
      const sig = JSON.stringify(ports);
      if (!groups.has(sig)) groups.set(sig, { ports, endpoints: [] });
      groups.get(sig).endpoints.push(endpoint(p, this.nodeName));
    }
    // A selector that matches nothing still gets one empty slice, as in a real cluster.
    if (!groups.size) groups.set('[]', { ports: [], endpoints: [] });

    const before = this.owned.get(key) || new Map();
    const names = new Map();
    for (const sig of groups.keys()) if (before.has(sig)) names.set(sig, before.get(sig));
    // Reuse a name whose port set went away before making a new one, so a Service scaled to zero
    // and back keeps its slice.
    const spare = [...before.entries()].filter(([sig]) => !groups.has(sig)).map(([, n]) => n);
    for (const sig of groups.keys()) {
      if (!names.has(sig)) names.set(sig, spare.shift() || this.freshName(svc));
    }
    for (const [sig, g] of groups) this.write(() => this.kube.apply(this.slice(svc, names.get(sig), g)));
    for (const n of spare) this.write(() => this.kube.remove('EndpointSlice', svc.metadata.namespace, n));
    this.owned.set(key, names);
  }

  freshName(svc) {
    for (;;) {
      const n = `${svc.metadata.name}-${randomSuffix()}`;
      if (!this.kube.get('EndpointSlice', svc.metadata.namespace, n)) return n;
    }
  }

  slice(svc, name, g) {
    const m = svc.metadata;
    return {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name, namespace: m.namespace, generateName: `${m.name}-`,
        labels: { ...(m.labels || {}), 'kubernetes.io/service-name': m.name,
          'endpointslice.kubernetes.io/managed-by': MANAGED_BY },
        ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: m.name, uid: m.uid, controller: true,
          blockOwnerDeletion: true }],
      },
      addressType: 'IPv4',
      endpoints: g.endpoints,
      ports: g.ports,
    };
  }

  // The Service is gone (or lost its selector): its slices go too, as garbage collection would.
  drop(key) {
    const ns = key.slice(0, key.indexOf('/'));
    for (const n of this.owned.get(key).values()) this.write(() => this.kube.remove('EndpointSlice', ns, n));
    this.owned.delete(key);
  }

  // Forgets everything without touching the store (the cluster is shutting down).
  reset() {
    this.owned.clear();
  }
}
