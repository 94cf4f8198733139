// A mini controller-manager and kubelet for the API stand-in, in-process: what turns an applied
// Deployment into running "pods" without a cluster. It owns the Deployment controller (replica
// count, template rollouts, status, the scale-down order), the pods' lifecycle (Pending, Running,
// terminating, gone) and wires in the kubelet (kubelet.mjs: one HTTP server per pod on its own
// loopback address) and the EndpointSlice controller (endpoints.mjs).
//
// It watches the stand-in's store directly, so every change kubectl makes over HTTP (apply, scale,
// delete, delete pod) reaches it, and it converges level-triggered: each pass compares what is
// stored with what runs. Passes never overlap, and writes the cluster makes itself do not wake it.
//
//   const cluster = await startCluster(kube, { podNet: '127.0.0', firstHost: 11 });
//   await cluster.idle();   cluster.pods();   await cluster.close();
import { resolveKind } from './resources.mjs';
import { Kubelet, pendingPod } from './kubelet.mjs';
import { SliceController, randomSuffix } from './endpoints.mjs';

const WATCHED = new Set(['deployments', 'services', 'pods', 'endpointslices', 'namespaces']);
const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';
const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

// JSON with sorted keys, so equal templates hash equally whatever order the manifest used.
function stable(v) {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stable(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

// pod-template-hash the way the Deployment controller makes it: FNV-32a of the template, its
// decimal digits mapped through the alphabet of generated names (k8s.io/apimachinery rand.SafeEncodeString).
export function templateHash(template) {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(stable(template ?? {}))) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return [...String(h)].map((c) => ALPHANUMS[c.charCodeAt(0) % ALPHANUMS.length]).join('');
}

// opts: { podNet: '127.0.0', firstHost: 11, lastHost: 254, images: { 'repo[:tag]': (pod) =>
// (req, res) => ... } (the app each image runs; default: the hello app), terminationGraceMs: 1500
// (how long a deleted pod stays in its slice as terminating before its server stops; the default
// outlasts tether's longest debounce, 1 s, so a proxy that follows the slice never sends a request
// to a closed server), nodeName: 'tether-local', log(msg) }.
export async function startCluster(kube, opts = {}) {
  const o = { podNet: '127.0.0', firstHost: 11, lastHost: 254, images: {}, terminationGraceMs: 1500,
    nodeName: 'tether-local', log: () => {}, ...opts };
  if (!kube.workloads) throw new Error('startCluster: start the stand-in with { workloads: true }');
  const podRes = resolveKind('Pod');
  const depRes = resolveKind('Deployment');
  const kubelet = new Kubelet(o);
  let self = 0;                 // > 0 while the cluster writes: those events are its own
  const write = (fn) => {
    self++;
    try { return fn(); } finally { self--; }
  };
  const slices = new SliceController(kube, { nodeName: o.nodeName, write });
  // Pod records, oldest first: { name, namespace, uid, owner (Deployment uid), hash, labels, spec,
  // handle (kubelet), ip, terminating, timer }.
  const pods = [];
  let dirty = true;
  let running = null;           // the pass in progress
  let closed = false;
  const finishing = new Set();  // pods between terminating and gone

  const unsubscribe = kube.store.subscribe((ev) => {
    if (self || closed || !WATCHED.has(ev.res)) return;
    dirty = true;
    schedule();
  });

  function schedule() {
    if (running || closed) return;
    running = (async () => {
      // Yield first: |running| must be set before a pass can call schedule() again.
      await null;
      while (dirty && !closed) {
        dirty = false;
        try {
          await pass();
        } catch (e) {
          o.log(`reconcile failed: ${e.stack || e}`);
        }
      }
      running = null;
    })();
  }

  async function pass() {
    const deployments = kube.list(depRes);
    const byUid = new Map(deployments.map((d) => [d.metadata.uid, d]));
    const gone = [];
    for (const p of [...pods]) {
      if (p.terminating) continue;
      // Deleted by someone else (kubectl delete pod, a namespace going away): gone at once, and
      // its Deployment gets a replacement below, on the freed address once the servers are down.
      if (!kube.get(podRes, p.namespace, p.name)) gone.push(finish(p, false));
      else if (!byUid.has(p.owner)) terminate(p);
    }
    await Promise.all(gone);
    for (const d of deployments) {
      if (closed) return;
      await reconcileDeployment(d);
    }
    slices.sync(pods);
    for (const d of deployments) updateStatus(d);
  }

  async function reconcileDeployment(d) {
    const hash = templateHash(d.spec?.template);
    const mine = pods.filter((p) => p.owner === d.metadata.uid && !p.terminating);
    const current = mine.filter((p) => p.hash === hash);
    // A pod whose start found no free address yet gets another try.
    for (const p of current) if (!p.handle) await start(p);
    // Starting pods takes a while: a scale or delete meanwhile cuts the burst short (the next
    // pass, already due, then acts on it).
    const latest = () => {
      const stored = kube.get(depRes, d.metadata.namespace, d.metadata.name);
      return stored?.metadata.uid === d.metadata.uid ? stored : null;
    };
    let want = Math.max(0, d.spec?.replicas ?? 1);
    while (current.length < want && !closed) {
      const live = latest();
      if (!live || templateHash(live.spec?.template) !== hash) break;
      want = Math.max(0, live.spec?.replicas ?? 1);
      if (current.length < want) current.push(await create(d, hash));
      // Listening completes without a trip through the event loop; let API requests in.
      await new Promise((resolve) => setImmediate(resolve));
    }
    // The newest pods go first, as the ReplicaSet controller ranks younger pods lower.
    for (const p of current.slice(want).reverse()) terminate(p);
    // A changed template rolls out: the old pods leave once the new ones all run.
    if (current.slice(0, want).every((p) => p.handle)) {
      for (const p of mine) if (p.hash !== hash) terminate(p);
    }
  }

  async function create(d, hash) {
    const ns = d.metadata.namespace;
    const tpl = d.spec?.template || {};
    let name;
    do name = `${d.metadata.name}-${hash}-${randomSuffix()}`; while (kube.get(podRes, ns, name));
    const metadata = { name, namespace: ns, generateName: `${d.metadata.name}-${hash}-`,
      labels: { ...(tpl.metadata?.labels || {}), 'pod-template-hash': hash },
      // There are no ReplicaSets here: the Deployment owns its pods directly.
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: d.metadata.name, uid: d.metadata.uid,
        controller: true, blockOwnerDeletion: true }] };
    if (tpl.metadata?.annotations) metadata.annotations = { ...tpl.metadata.annotations };
    const stored = write(() => kube.create(pendingPod(metadata, tpl.spec || {}, o.nodeName)));
    const p = { name, namespace: ns, uid: stored.metadata.uid, owner: d.metadata.uid, hash,
      labels: stored.metadata.labels, spec: stored.spec, handle: null, ip: null,
      terminating: false, timer: null };
    pods.push(p);
    await start(p);
    return p;
  }

  async function start(p) {
    const obj = kube.get(podRes, p.namespace, p.name);
    if (!obj) return;
    const handle = await kubelet.run(obj);
    if (!handle) return;
    // The pod may have been deleted while its servers came up.
    if (closed || p.terminating || !pods.includes(p)) {
      await kubelet.stop(handle);
      return;
    }
    p.handle = handle;
    p.ip = handle.ip;
    write(() => kube.store.update(podRes, p.namespace, p.name, { status: handle.status }, { subresource: 'status' }));
  }

  // Graceful deletion: the pod is marked (deletionTimestamp), its endpoint turns not-ready and
  // terminating, and after the grace period it leaves the slice, the store and then the node.
  function terminate(p) {
    if (p.terminating) return;
    p.terminating = true;
    finishing.add(p);
    const obj = kube.get(podRes, p.namespace, p.name);
    if (obj) {
      obj.metadata.deletionTimestamp = now();
      obj.metadata.deletionGracePeriodSeconds = Math.ceil(o.terminationGraceMs / 1000);
      write(() => kube.store.update(podRes, p.namespace, p.name, obj));
    }
    p.timer = setTimeout(() => finish(p, true), o.terminationGraceMs);
  }

  // The pod is gone: out of the slices first, then out of the store, then its servers stop.
  // Resolves once they have.
  function finish(p, removeObject) {
    clearTimeout(p.timer);
    const i = pods.indexOf(p);
    if (i < 0) return Promise.resolve();
    pods.splice(i, 1);
    p.terminating = true;
    finishing.add(p);
    slices.sync(pods);
    if (removeObject) write(() => kube.remove(podRes, p.namespace, p.name));
    const stopped = (p.handle ? kubelet.stop(p.handle) : Promise.resolve()).finally(() => {
      finishing.delete(p);
      // A freed address may let a Pending pod start.
      if (pods.some((q) => !q.handle && !q.terminating)) { dirty = true; schedule(); }
    });
    dirty = true;
    schedule();
    return stopped;
  }

  function updateStatus(d) {
    const live = pods.filter((p) => p.owner === d.metadata.uid && !p.terminating);
    const hash = templateHash(d.spec?.template);
    const ready = live.filter((p) => p.handle).length;
    const want = d.spec?.replicas ?? 1;
    const status = {
      observedGeneration: d.metadata.generation,
      replicas: live.length,
      updatedReplicas: live.filter((p) => p.hash === hash).length,
      readyReplicas: ready,
      availableReplicas: ready,
      conditions: [
        { type: 'Available', status: ready >= want ? 'True' : 'False',
          reason: ready >= want ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
          message: ready >= want ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.' },
        { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable',
          message: `Pods with template hash "${hash}" have successfully progressed.` },
      ],
    };
    if (live.length > ready) status.unavailableReplicas = live.length - ready;
    for (const k of ['readyReplicas', 'availableReplicas']) if (!status[k]) delete status[k];
    if (!kube.get(depRes, d.metadata.namespace, d.metadata.name)) return;
    write(() => kube.store.update(depRes, d.metadata.namespace, d.metadata.name, { status }, { subresource: 'status' }));
  }

  const cluster = {
    podNet: o.podNet,
    firstHost: o.firstHost,

    // The pods that exist now, oldest first: { name, namespace, deployment, ip, ports, url, ready,
    // terminating }. ns: only that namespace.
    pods(ns) {
      return pods.filter((p) => !ns || p.namespace === ns).map((p) => ({
        name: p.name, namespace: p.namespace,
        deployment: kube.list(depRes, p.namespace).find((d) => d.metadata.uid === p.owner)?.metadata.name ?? null,
        ip: p.ip, ports: p.handle ? p.handle.ports : [], url: p.handle ? `http://${p.ip}:${p.handle.ports[0]}/` : null,
        ready: !!p.handle && !p.terminating, terminating: p.terminating,
      }));
    },

    // Resolves once everything the last change asked for is done: no pass pending or running and
    // no pod still terminating.
    async idle(timeoutMs = 10000) {
      const end = Date.now() + timeoutMs;
      while (dirty || running || finishing.size) {
        if (Date.now() > end) throw new Error('cluster: not idle in time');
        await (running || new Promise((r) => setTimeout(r, 5)));
      }
    },

    // Stops reacting and stops every pod's servers. The stored objects stay as they are.
    async close() {
      if (closed) return;
      closed = true;
      unsubscribe();
      await running;
      for (const p of pods) clearTimeout(p.timer);
      pods.length = 0;
      finishing.clear();
      slices.reset();
      await kubelet.close();
    },
  };

  schedule();
  await cluster.idle();
  return cluster;
}
