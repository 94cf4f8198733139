// Strategic merge patch: the subset kubectl's client-side apply, edit and patch send. The patch
// metadata (which lists merge by key, which are atomic) is a small hand-written table taken from
// the Go struct tags of the served types; every list not named here is atomic, which is right for
// Ingress rules/paths/tls and EndpointSlice endpoints/ports. The $retainKeys kubectl sends for
// a Deployment's strategy and a pod's volumes needs no table entry: it is a directive in the patch.
//
// Directives handled (apimachinery strategicpatch): null deletes a key, $patch: replace|delete|merge
// on maps and list elements, $retainKeys, $setElementOrder/<field>, $deleteFromPrimitiveList/<field>.
import { ApiError } from './status.mjs';
import { isObj, clone, deepEqual } from './patch.mjs';

// Meta node: { fields: { name: node }, list: 'merge', key: 'mergeKey', items: node }.
const OBJECT_META = {
  fields: {
    ownerReferences: { list: 'merge', key: 'uid' },   // patchMergeKey:"uid"
    finalizers: { list: 'merge' },                    // patchStrategy:"merge" on a []string
  },
};
const CONDITIONS = { list: 'merge', key: 'type' };

// core/v1 PodSpec and Container list keys, shared by Pod and by a Deployment's pod template.
const CONTAINER = { fields: {
  ports: { list: 'merge', key: 'containerPort' },
  env: { list: 'merge', key: 'name' },
  volumeMounts: { list: 'merge', key: 'mountPath' },
  volumeDevices: { list: 'merge', key: 'devicePath' },
} };
const POD_SPEC = { fields: {
  containers: { list: 'merge', key: 'name', items: CONTAINER },
  initContainers: { list: 'merge', key: 'name', items: CONTAINER },
  ephemeralContainers: { list: 'merge', key: 'name', items: CONTAINER },
  volumes: { list: 'merge', key: 'name' },
  imagePullSecrets: { list: 'merge', key: 'name' },
  hostAliases: { list: 'merge', key: 'ip' },
  topologySpreadConstraints: { list: 'merge', key: 'topologyKey' },
} };

const META = {
  Deployment: {
    spec: { fields: { template: { fields: { metadata: OBJECT_META, spec: POD_SPEC } } } },
    status: { fields: { conditions: CONDITIONS } },
  },
  Pod: {
    spec: POD_SPEC,
    status: { fields: { conditions: CONDITIONS } },
  },
  Service: {
    spec: { fields: { ports: { list: 'merge', key: 'port' } } },          // ServiceSpec.Ports
    status: { fields: { conditions: CONDITIONS } },
  },
  Namespace: { status: { fields: { conditions: CONDITIONS } } },
};

export function metaFor(kind) {
  return { fields: { metadata: OBJECT_META, ...(META[kind] || {}) } };
}

const DELETE = Symbol('delete');
const bad = (msg) => new ApiError(400, msg);

function mergeMap(original, patch, meta) {
  let out = isObj(original) ? clone(original) : {};
  if (Object.hasOwn(patch, '$patch')) {
    const d = patch.$patch;
    if (d === 'delete') return DELETE;
    if (d === 'replace') {
      const rest = { ...patch };
      delete rest.$patch;
      return mergeMap({}, rest, meta);
    }
    if (d !== 'merge') throw bad(`Unknown patch type: ${d} in map: ${JSON.stringify(patch)}`);
  }
  if (Object.hasOwn(patch, '$retainKeys')) {
    const keep = patch.$retainKeys;
    if (!Array.isArray(keep)) throw bad('$retainKeys must be a list of field names');
    for (const k of Object.keys(out)) if (!keep.includes(k)) delete out[k];
  }
  const orders = {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const f = k.slice('$deleteFromPrimitiveList/'.length);
      if (!Array.isArray(v)) throw bad(`${k} must be a list`);
      if (Array.isArray(out[f])) out[f] = out[f].filter((x) => !v.some((d) => deepEqual(d, x)));
    } else if (k.startsWith('$setElementOrder/')) {
      if (!Array.isArray(v)) throw bad(`${k} must be a list`);
      orders[k.slice('$setElementOrder/'.length)] = v;
    }
  }
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    const fm = meta?.fields?.[k];
    if (v === null) {
      delete out[k];
    } else if (isObj(v)) {
      const r = mergeMap(isObj(out[k]) ? out[k] : {}, v, fm);
      if (r === DELETE) delete out[k];
      else out[k] = r;
    } else if (Array.isArray(v)) {
      out[k] = mergeList(Array.isArray(out[k]) ? out[k] : [], v, fm);
    } else {
      out[k] = v;
    }
  }
  for (const [f, order] of Object.entries(orders)) {
    if (Array.isArray(out[f])) out[f] = applyOrder(out[f], order, meta?.fields?.[f]);
  }
  return out;
}

// Strips directives from elements of a list that is replaced whole.
function fresh(e, meta) {
  if (isObj(e)) {
    const r = mergeMap({}, e, meta);
    return r === DELETE ? undefined : r;
  }
  return clone(e);
}

function mergeList(original, patch, meta) {
  const replaceAll = patch.some((e) => isObj(e) && e.$patch === 'replace');
  if (!meta || meta.list !== 'merge' || replaceAll) {
    return patch.filter((e) => !(isObj(e) && e.$patch === 'replace' && Object.keys(e).length === 1))
      .map((e) => fresh(e, meta?.items)).filter((e) => e !== undefined);
  }
  const out = original.map(clone);
  if (!meta.key) {
    // Primitive list with strategy merge: set union, original order first.
    for (const v of patch) if (!out.some((x) => deepEqual(x, v))) out.push(clone(v));
    return out;
  }
  for (const e of patch) {
    if (!isObj(e)) throw bad(`found non-map element in a list merged by key "${meta.key}"`);
    if (!Object.hasOwn(e, meta.key)) throw bad(`map: ${JSON.stringify(e)} does not contain declared merge key: ${meta.key}`);
    const i = out.findIndex((o) => isObj(o) && deepEqual(o[meta.key], e[meta.key]));
    if (e.$patch === 'delete') {
      if (i >= 0) out.splice(i, 1);
      continue;
    }
    const merged = mergeMap(i >= 0 ? out[i] : {}, e, meta.items);
    if (merged === DELETE) { if (i >= 0) out.splice(i, 1); continue; }
    if (i >= 0) out[i] = merged;
    else out.push(merged);
  }
  return out;
}

// $setElementOrder: elements named in the order list come first, in that order; elements only the
// server knows keep their relative order after them.
function applyOrder(list, order, meta) {
  const keyOf = meta?.key ? (e) => (isObj(e) ? e[meta.key] : e) : (e) => e;
  const orderKeys = order.map(keyOf);
  const used = new Set();
  const head = [];
  for (const k of orderKeys) {
    const i = list.findIndex((e, j) => !used.has(j) && deepEqual(keyOf(e), k));
    if (i >= 0) { used.add(i); head.push(list[i]); }
  }
  return [...head, ...list.filter((_, j) => !used.has(j))];
}

// Applies |patch| to |original| (a whole object of |kind|) and returns the new object.
export function strategicMergePatch(original, patch, kind) {
  if (!isObj(patch)) throw bad('strategic merge patch must be a JSON object');
  const r = mergeMap(original, patch, metaFor(kind));
  if (r === DELETE) throw bad('a strategic merge patch cannot delete the whole object');
  return r;
}
