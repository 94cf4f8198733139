// JSON Merge Patch (RFC 7386) and JSON Patch (RFC 6902), applied to plain JSON values. Both return
// a new value and never mutate their inputs. JSON Patch failures throw ApiError 422 and malformed
// patches 400, as the apiserver's patch handler does.
import { ApiError } from './status.mjs';

export const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
export const clone = (v) => (v === undefined ? undefined : structuredClone(v));

export function deepEqual(a, b) {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

// RFC 7386 §2: objects merge recursively, null removes, anything else (arrays too) replaces.
export function mergePatch(target, patch) {
  if (!isObj(patch)) return clone(patch);
  const out = isObj(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// RFC 6901 pointer → array of unescaped tokens.
function pointer(p) {
  if (p === '') return [];
  if (typeof p !== 'string' || p[0] !== '/') throw new ApiError(400, `invalid JSON pointer "${p}"`);
  return p.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

const unprocessable = (msg) => new ApiError(422, msg, { reason: 'Invalid' });

function parentOf(doc, toks, op) {
  let cur = doc;
  for (const t of toks.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(cur, t, false, op)];
    else if (isObj(cur) && Object.hasOwn(cur, t)) cur = cur[t];
    else throw unprocessable(`doc is missing path: "/${toks.join('/')}": missing value`);
  }
  if (!isObj(cur) && !Array.isArray(cur)) throw unprocessable(`doc is missing path: "/${toks.join('/')}": missing value`);
  return cur;
}

function arrayIndex(arr, t, forAdd, op) {
  if (forAdd && t === '-') return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(t)) throw unprocessable(`${op}: invalid array index "${t}"`);
  const i = Number(t);
  if (i > arr.length || (!forAdd && i === arr.length)) throw unprocessable(`${op}: array index ${i} out of bounds`);
  return i;
}

function getAt(doc, toks) {
  let cur = doc;
  for (const t of toks) {
    if (Array.isArray(cur) && /^(0|[1-9][0-9]*)$/.test(t) && Number(t) < cur.length) cur = cur[Number(t)];
    else if (isObj(cur) && Object.hasOwn(cur, t)) cur = cur[t];
    else throw unprocessable(`doc is missing path: "/${toks.join('/')}": missing value`);
  }
  return cur;
}

function addAt(doc, toks, value, op) {
  if (toks.length === 0) return value;
  const parent = parentOf(doc, toks, op);
  const last = toks[toks.length - 1];
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, true, op), 0, value);
  else parent[last] = value;
  return doc;
}

function removeAt(doc, toks, op) {
  const parent = parentOf(doc, toks, op);
  const last = toks[toks.length - 1];
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, false, op), 1);
  else if (Object.hasOwn(parent, last)) delete parent[last];
  else throw unprocessable(`${op}: doc is missing key: "/${toks.join('/')}": missing value`);
  return doc;
}

// RFC 6902 §4: add, remove, replace, move, copy, test, applied in order to a copy of |doc|.
export function jsonPatch(doc, ops) {
  if (!Array.isArray(ops)) throw new ApiError(400, 'json patch must be an array of operations');
  let out = clone(doc);
  for (const o of ops) {
    if (!isObj(o) || typeof o.op !== 'string') throw new ApiError(400, 'json patch operation must be an object with "op"');
    const path = pointer(o.path);
    switch (o.op) {
      case 'add':
        if (!Object.hasOwn(o, 'value')) throw new ApiError(400, 'add operation does not apply: missing value');
        out = addAt(out, path, clone(o.value), 'add');
        break;
      case 'remove':
        out = removeAt(out, path, 'remove');
        break;
      case 'replace':
        if (!Object.hasOwn(o, 'value')) throw new ApiError(400, 'replace operation does not apply: missing value');
        getAt(out, path); // must exist (RFC 6902 §4.3)
        if (path.length === 0) { out = clone(o.value); break; }
        out = removeAt(out, path, 'replace');
        out = addAt(out, path, clone(o.value), 'replace');
        break;
      case 'move': {
        const from = pointer(o.from);
        const v = getAt(out, from);
        out = removeAt(out, from, 'move');
        out = addAt(out, path, v, 'move');
        break;
      }
      case 'copy':
        out = addAt(out, path, clone(getAt(out, pointer(o.from))), 'copy');
        break;
      case 'test':
        if (!deepEqual(getAt(out, path), o.value)) throw unprocessable(`testing value ${o.path} failed: test failed`);
        break;
      default:
        throw new ApiError(400, `Unexpected kind: ${o.op}`);
    }
  }
  return out;
}
