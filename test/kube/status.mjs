// metav1.Status bodies and the ApiError that carries one. Every failure the stand-in reports,
// over HTTP or in a watch stream, is built here so the shapes match the real apiserver's.

const REASONS = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed',
  406: 'NotAcceptable', 409: 'Conflict', 410: 'Expired', 413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType', 422: 'Invalid', 429: 'TooManyRequests', 500: 'InternalError',
  503: 'ServiceUnavailable', 504: 'Timeout',
};

export function reasonFor(code) {
  return REASONS[code] || (code >= 500 ? 'InternalError' : 'BadRequest');
}

export function statusBody(code, message, { reason, details } = {}) {
  const s = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message,
    reason: reason || reasonFor(code) };
  if (details) s.details = details;
  s.code = code;
  return s;
}

export class ApiError extends Error {
  constructor(code, message, opts = {}) {
    super(message);
    this.code = code;
    this.status = statusBody(code, message, opts);
    this.headers = opts.headers || {};
  }
}

// details{name, group, kind} as the real server fills them: kind is the resource (plural) name and
// group is left out for the core group.
function details(res, name) {
  const d = { name };
  if (res.group) d.group = res.group;
  d.kind = res.name;
  return d;
}

export const errors = {
  notFound: (res, name) => new ApiError(404, `${res.qualified} "${name}" not found`, { details: details(res, name) }),
  alreadyExists: (res, name) => new ApiError(409, `${res.qualified} "${name}" already exists`,
    { reason: 'AlreadyExists', details: details(res, name) }),
  conflict: (res, name, why = 'the object has been modified; please apply your changes to the latest version and try again') =>
    new ApiError(409, `Operation cannot be fulfilled on ${res.qualified} "${name}": ${why}`,
      { reason: 'Conflict', details: details(res, name) }),
  badRequest: (msg) => new ApiError(400, msg),
  invalid: (res, name, msg) => new ApiError(422, `${res.kind} "${name}" is invalid: ${msg}`,
    { reason: 'Invalid', details: details(res, name) }),
  unsupportedMedia: (msg) => new ApiError(415, msg),
  expired: (msg) => new ApiError(410, msg, { reason: 'Expired' }),
  // Shape of the real "RV ahead of the cache" answer (apiserver storage/cacher).
  tooLargeRV: (rv, current) => new ApiError(504, `Timeout: Too large resource version: ${rv}, current: ${current}`, {
    reason: 'Timeout',
    details: { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 },
    headers: { 'Retry-After': '1' },
  }),
  notFoundPath: () => new ApiError(404, 'the server could not find the requested resource', { details: {} }),
  methodNotAllowed: (method) => new ApiError(405, `the server does not allow this method on the requested resource (${method})`),
};
