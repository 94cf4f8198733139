// An independent JavaScript model of ingress-nginx's cookie affinity
// (spec/affinity-cookie-algorithms.md): backend names and keys, persistent keys and the balanced
// consistent-hash ring. The end-to-end tests use it to predict which pod a cookie must reach,
// so that tether's C implementation is checked against a second implementation of the same
// rules on real requests, not only against itself.
import { createHash } from 'node:crypto';

const md5hex = (s) => createHash('md5').update(s).digest('hex');

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

// CRC-32/ISO-HDLC (zlib) of a Buffer.
export function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// "<ns>-<service>-<port as written in the Ingress>" (§1.1).
export const backendName = (ns, service, port) => `${ns}-${service}-${port}`;
// md5hex(md5hex(name) ++ name) (§1.3).
export const backendKey = (name) => md5hex(md5hex(name) + name);
// "ip:port", or "[ip]:port" for anything that is not dotted-quad (§1.2).
export const nodeId = (ip, port) => (/^\d+.\d+.\d+.\d+$/.test(ip) ? `${ip}:${port}` : `[${ip}]:${port}`);
// md5hex(backend name ++ node id) (§3).
export const persistentKey = (name, id) => md5hex(name + id);

// The balanced ring over node ids (§2.2): 160 points per node, ties by node id bytes.
export function ring(ids) {
  const points = [];
  for (const id of new Set(ids)) {
    let prev = 0;
    for (let k = 0; k < 160; k++) {
      const le = Buffer.alloc(4);
      le.writeUInt32LE(prev);
      prev = crc32(Buffer.concat([Buffer.from(id), le]));
      points.push({ hash: prev, id });
    }
  }
  points.sort((a, b) => a.hash - b.hash || Buffer.compare(Buffer.from(a.id), Buffer.from(b.id)));
  return points;
}

// The node id a balanced token maps to (§2.3): first point with hash >= crc32(token), wrapping.
export function ringLookup(points, token) {
  const h = crc32(Buffer.from(token));
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid].hash < h) lo = mid + 1;
    else hi = mid;
  }
  return points[lo === points.length ? 0 : lo].id;
}

// Splits a cookie value as sticky.lua does (§4.3): pieces on '|', empty ones dropped.
export function splitValue(v) {
  const [upstream = '', backend = ''] = v.split('|').filter((p) => p.length > 0);
  return { upstream, backend };
}

// Parses one Set-Cookie header into {name, value, attrs: [[key, value|true], ...]} in order.
export function parseSetCookie(h) {
  const [first, ...rest] = h.split('; ');
  const eq = first.indexOf('=');
  return {
    name: first.slice(0, eq),
    value: first.slice(eq + 1),
    attrs: rest.map((a) => {
      const i = a.indexOf('=');
      return i < 0 ? [a, true] : [a.slice(0, i), a.slice(i + 1)];
    }),
  };
}
