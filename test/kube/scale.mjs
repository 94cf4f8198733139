// The /scale subresource: a Deployment seen as an autoscaling/v1 Scale. Reads build the Scale
// from the parent; writes (PUT or PATCH of a Scale) change only the parent's spec.replicas, so a
// `kubectl scale` is one ordinary Deployment update with its event and new resourceVersion.
import { ApiError, errors } from './status.mjs';
import { isObj, mergePatch, jsonPatch } from './patch.mjs';

// The label selector as the string the real Scale carries in status.selector ("a=b,c in (d)").
export function selectorString(sel) {
  if (!isObj(sel)) return '';
  const parts = Object.entries(sel.matchLabels || {}).map(([k, v]) => `${k}=${v}`);
  for (const e of sel.matchExpressions || []) {
    const vals = (e.values || []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${vals})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${vals})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

export function scaleOf(obj) {
  const m = obj.metadata;
  return {
    kind: 'Scale', apiVersion: 'autoscaling/v1',
    metadata: { name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion,
      creationTimestamp: m.creationTimestamp },
    spec: { replicas: obj.spec?.replicas ?? 0 },
    status: { replicas: obj.status?.replicas ?? 0, selector: selectorString(obj.spec?.selector) },
  };
}

function checkScale(res, name, s, current) {
  if (!isObj(s)) throw errors.badRequest('the request body must be a JSON object');
  if ((s.kind !== undefined && s.kind !== 'Scale') ||
      (s.apiVersion !== undefined && s.apiVersion !== 'autoscaling/v1')) {
    throw errors.badRequest(`the body must be an autoscaling/v1 Scale, not ${s.apiVersion}/${s.kind}`);
  }
  if (s.metadata?.name !== undefined && s.metadata.name !== name) {
    throw errors.badRequest(`the name of the object (${s.metadata.name}) does not match the name on the URL (${name})`);
  }
  const rv = s.metadata?.resourceVersion;
  if (rv !== undefined && rv !== '' && rv !== current.metadata.resourceVersion) throw errors.conflict(res, name);
  const n = s.spec?.replicas;
  if (!Number.isInteger(n) || n < 0) {
    throw new ApiError(422, `Scale.autoscaling "${name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(n)}: must be greater than or equal to 0`,
      { reason: 'Invalid', details: { name, group: 'autoscaling', kind: 'Scale' } });
  }
  return n;
}

// Writes |scale| to the parent and returns the new Scale. The resourceVersion precondition was
// checked against |current| already, and JS runs this without interleaving, so it still holds.
function write(store, res, ns, name, current, scale, dryRun) {
  const replicas = checkScale(res, name, scale, current);
  const body = { ...current, metadata: { ...current.metadata }, spec: { ...current.spec, replicas } };
  delete body.metadata.resourceVersion;
  return scaleOf(store.update(res, ns, name, body, { dryRun }));
}

// GET, PUT or PATCH on {parent}/scale. patchType: 'merge' | 'json' | 'strategic' (a Scale has no
// lists, so a strategic patch merges like a merge patch). Returns the Scale to send.
export function handleScale(store, res, ns, name, method, body, { patchType, dryRun } = {}) {
  const current = store.get(res, ns, name);
  if (!current) throw errors.notFound(res, name);
  if (method === 'GET') return scaleOf(current);
  if (method === 'PUT') return write(store, res, ns, name, current, body, dryRun);
  if (method === 'PATCH') {
    const base = scaleOf(current);
    let next;
    if (patchType === 'merge' || patchType === 'strategic') next = mergePatch(base, body);
    else if (patchType === 'json') next = jsonPatch(base, body);
    else throw errors.unsupportedMedia(`the stand-in does not apply ${patchType} patches to a Scale`);
    return write(store, res, ns, name, current, next, dryRun);
  }
  throw errors.methodNotAllowed(method);
}
