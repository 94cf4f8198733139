// The in-process kubelet of the mini cluster: runs a pod's containers as HTTP servers on a
// loopback address of its own and builds the Pod object a real kubelet would report. It owns the
// pod address pool: addresses <podNet>.<firstHost..lastHost>, always the lowest free one, and an
// address goes back to the pool only once every server on it has closed, so a new pod never
// races an old one for the same address and port.
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { helloApp } from './hello-app.mjs';

const DEFAULT_PORT = 8000;
const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

// The TCP ports a pod listens on: every containerPort of every container, each served by the app
// of its container's image. A pod that declares none gets the hello app's default port.
function listeners(spec) {
  const out = [];
  for (const c of spec?.containers || []) {
    for (const p of c.ports || []) {
      if ((p.protocol || 'TCP') !== 'TCP' || !Number.isInteger(p.containerPort)) continue;
      if (!out.some((l) => l.port === p.containerPort)) out.push({ port: p.containerPort, container: c });
    }
  }
  if (!out.length) out.push({ port: DEFAULT_PORT, container: spec?.containers?.[0] || { name: 'app', image: '' } });
  return out;
}

// Downward API and literal env values a container sees; what cannot be resolved here (Secrets,
// ConfigMaps, resource fields) is left out.
function containerEnv(c, pod) {
  const env = { HOSTNAME: pod.metadata.name };
  const field = (path) => {
    const m = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(path);
    if (m) return pod.metadata[m[1]]?.[m[2]];
    return { 'metadata.name': pod.metadata.name, 'metadata.namespace': pod.metadata.namespace,
      'metadata.uid': pod.metadata.uid, 'spec.nodeName': pod.spec.nodeName,
      'spec.serviceAccountName': pod.spec.serviceAccountName || 'default',
      'status.podIP': pod.status.podIP, 'status.hostIP': pod.status.hostIP }[path];
  };
  for (const e of c.env || []) {
    if (!e?.name) continue;
    const v = e.value !== undefined ? e.value : e.valueFrom?.fieldRef ? field(e.valueFrom.fieldRef.fieldPath) : undefined;
    if (v !== undefined) env[e.name] = String(v);
  }
  return env;
}

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export class Kubelet {
  // opts: { podNet: '127.0.0', firstHost: 11, lastHost: 254, images: { image: (pod) => handler },
  // log(msg) }
  constructor(opts) {
    this.podNet = opts.podNet;
    this.firstHost = opts.firstHost;
    this.lastHost = opts.lastHost;
    this.images = opts.images || {};
    this.log = opts.log || (() => {});
    this.used = new Set();      // host numbers held by a running or stopping pod
    this.broken = new Set();    // host numbers where something else already listens
    this.running = new Set();   // pod handles
  }

  appFor(image) {
    const repo = image.replace(/(@sha256:[0-9a-f]+|:[^/:]+)$/, '');
    return this.images[image] || this.images[repo] || helloApp;
  }

  // Starts the containers of |pod| (a stored Pod, bound to this node) on the lowest free address.
  // Returns a handle { name, namespace, ip, ports, status } whose status is the Running status to
  // report for the pod, or null when the address pool is exhausted (the pod stays Pending).
  async run(pod) {
    for (let h = this.firstHost; h <= this.lastHost; h++) {
      if (this.used.has(h) || this.broken.has(h)) continue;
      this.used.add(h);
      const ip = `${this.podNet}.${h}`;
      const obj = { ...pod, status: runningStatus(pod, ip) };
      const servers = [];
      try {
        for (const l of listeners(obj.spec)) {
          const app = this.appFor(l.container.image || '')({ name: obj.metadata.name, namespace: obj.metadata.namespace,
            image: l.container.image || '', host: ip, port: l.port, env: containerEnv(l.container, obj) });
          const s = http.createServer(app);
          s.keepAliveTimeout = 65000;   // longer than a proxy's idle pool timeout, like most apps
          servers.push(s);
          await listen(s, l.port, ip);
        }
      } catch (e) {
        for (const s of servers) s.close();
        this.used.delete(h);
        if (e.code === 'EADDRINUSE' || e.code === 'EADDRNOTAVAIL') {
          this.broken.add(h);
          this.log(`${ip} is taken (${e.code}); skipping it`);
          continue;
        }
        throw e;
      }
      const handle = { name: obj.metadata.name, namespace: obj.metadata.namespace, ip, hostNum: h,
        ports: servers.map((s) => s.address().port), servers, status: obj.status };
      this.running.add(handle);
      this.log(`pod ${handle.namespace}/${handle.name} running on ${ip}:${handle.ports.join(',')}`);
      return handle;
    }
    this.log(`no free pod address in ${this.podNet}.${this.firstHost}-${this.lastHost}`);
    return null;
  }

  // Closes every server of the pod (open connections too: the process is gone) and frees its
  // address once they have all closed.
  async stop(handle) {
    if (!this.running.delete(handle)) return;
    await Promise.all(handle.servers.map((s) => new Promise((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    })));
    this.used.delete(handle.hostNum);
    this.log(`pod ${handle.namespace}/${handle.name} stopped (${handle.ip} free)`);
  }

  async close() {
    await Promise.all([...this.running].map((h) => this.stop(h)));
  }
}

// What a pod this node runs looks like before its containers start: defaults the real API server
// fills into a pod spec, bound to |nodeName| (there is one node, so scheduling is immediate).
export function pendingPod(metadata, templateSpec, nodeName) {
  const spec = { restartPolicy: 'Always', dnsPolicy: 'ClusterFirst', schedulerName: 'default-scheduler',
    serviceAccountName: 'default', terminationGracePeriodSeconds: 30, ...templateSpec, nodeName };
  const status = { phase: 'Pending', conditions: [condition('PodScheduled')], qosClass: 'BestEffort' };
  return { apiVersion: 'v1', kind: 'Pod', metadata, spec, status };
}

function condition(type, t = now()) {
  return { type, status: 'True', lastProbeTime: null, lastTransitionTime: t };
}

function runningStatus(pod, ip) {
  const t = now();
  return {
    phase: 'Running',
    conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled']
      .map((type) => condition(type, t)),
    hostIP: '127.0.0.1', hostIPs: [{ ip: '127.0.0.1' }], podIP: ip, podIPs: [{ ip }], startTime: t,
    qosClass: 'BestEffort',
    containerStatuses: (pod.spec.containers || []).map((c) => ({ name: c.name, image: c.image, imageID: '',
      containerID: `tether://${randomUUID().replace(/-/g, '')}`, ready: true, started: true, restartCount: 0,
      state: { running: { startedAt: t } } })),
  };
}
