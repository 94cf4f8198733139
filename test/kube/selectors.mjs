// Label and field selectors: parse the query-string forms the apiserver accepts and turn them
// into predicates over stored objects. Parse errors throw ApiError 400 like the real server.
import { ApiError } from './status.mjs';

// Splits on commas that are not inside parentheses ("a in (x,y),b" is two requirements).
function splitTop(s) {
  const out = [];
  let depth = 0, cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) { out.push(cur); cur = ''; continue; }
    cur += ch;
  }
  out.push(cur);
  return out.map((x) => x.trim()).filter((x) => x !== '');
}

const KEY = /^([A-Za-z0-9][-A-Za-z0-9_./]*)?[A-Za-z0-9]$|^[A-Za-z0-9]$/;

function bad(sel, why) {
  return new ApiError(400, `unable to parse requirement: ${why} (selector "${sel}")`);
}

// Returns a predicate over a labels map. Grammar: key, !key, key=v, key==v, key!=v,
// key in (a,b), key notin (a,b), key>n, key<n; requirements joined by commas (AND).
export function parseLabelSelector(sel) {
  if (sel == null || sel.trim() === '') return () => true;
  const reqs = splitTop(sel).map((r) => {
    let m;
    if ((m = /^!\s*(\S+)$/.exec(r))) return checkKey(m[1], sel) && ((l) => !(m[1] in l));
    if ((m = /^(\S+?)\s+(in|notin)\s*\((.*)\)$/.exec(r))) {
      checkKey(m[1], sel);
      const vals = m[3].split(',').map((v) => v.trim());
      const k = m[1];
      return m[2] === 'in' ? (l) => k in l && vals.includes(l[k]) : (l) => !(k in l) || !vals.includes(l[k]);
    }
    if ((m = /^([^=!<>\s]+)\s*(==|=|!=|<|>)\s*(.*)$/.exec(r))) {
      const [, k, op, v] = m;
      checkKey(k, sel);
      if (op === '!=') return (l) => l[k] !== v;
      if (op === '<' || op === '>') {
        const n = Number(v);
        if (!Number.isInteger(n)) throw bad(sel, `for '${op}', the value must be an integer`);
        return op === '<' ? (l) => k in l && Number(l[k]) < n : (l) => k in l && Number(l[k]) > n;
      }
      return (l) => l[k] === v;
    }
    if (/^\S+$/.test(r)) return checkKey(r, sel) && ((l) => r in l);
    throw bad(sel, `could not parse "${r}"`);
  });
  return (labels) => reqs.every((f) => f(labels || {}));
}

function checkKey(k, sel) {
  const name = k.includes('/') ? k.slice(k.indexOf('/') + 1) : k;
  if (!KEY.test(name) || name.length > 63) throw bad(sel, `invalid label key "${k}"`);
  return true;
}

// Field selector values may escape ',', '=' and '\' with a backslash (fields.EscapeValue).
function splitEscaped(s, sep) {
  const out = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && i + 1 < s.length) { cur += s[i] + s[i + 1]; i++; continue; }
    if (s[i] === sep) { out.push(cur); cur = ''; continue; }
    cur += s[i];
  }
  out.push(cur);
  return out;
}
const unescape = (v) => v.replace(/\\(.)/g, '$1');

function fieldValue(obj, path) {
  let v = obj;
  for (const p of path.split('.')) v = v == null ? undefined : v[p];
  return v == null ? '' : String(v);
}

// Returns a predicate over whole objects. Only the fields the real server supports for the type
// are accepted (metadata.name, metadata.namespace, plus res.fields); others are a 400.
export function parseFieldSelector(sel, res) {
  if (sel == null || sel.trim() === '') return () => true;
  const allowed = ['metadata.name', 'metadata.namespace', ...(res.fields || [])];
  const reqs = splitEscaped(sel, ',').filter((r) => r.trim() !== '').map((r) => {
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/s.exec(r.trim());
    if (!m) throw new ApiError(400, `invalid selector: '${sel}'; can't understand '${r}'`);
    const [, field, op, raw] = m;
    if (!allowed.includes(field)) {
      throw new ApiError(400, `field label not supported: ${field}`);
    }
    const v = unescape(raw);
    return op === '!=' ? (o) => fieldValue(o, field) !== v : (o) => fieldValue(o, field) === v;
  });
  return (obj) => reqs.every((f) => f(obj));
}

// Both selectors as one predicate over a stored object.
export function selectorFor(query, res) {
  const labels = parseLabelSelector(query.get('labelSelector'));
  const fields = parseFieldSelector(query.get('fieldSelector'), res);
  const any = !!(query.get('labelSelector') || query.get('fieldSelector'));
  const pred = (obj) => labels(obj.metadata?.labels) && fields(obj);
  pred.any = any;
  return pred;
}
