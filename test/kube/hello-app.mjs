// The app the in-process kubelet (kubelet.mjs) runs for any image it has no handler for: the
// walkthrough's hello app. It answers every request with an HTML page naming the pod that answered
// and the image it runs, so the browser test can see which pod it reached and the canary's v1 and
// v2 Deployments tell themselves apart. Headers `x-pod` and `x-image` say the same for scripts.

// pod: { name, namespace, image, host, port, env } (env already resolved, downward API included).
export function helloApp(pod) {
  // The real image prints $MY_POD_NAME, which the manifest fills from metadata.name; without that
  // variable a container only knows its hostname, which is the pod name too.
  const who = pod.env.MY_POD_NAME || pod.env.HOSTNAME || pod.name;
  return (req, res) => {
    const body = '<!doctype html><meta charset="utf-8"><title>hello</title>' +
      `<h1>Hello from ${escape(who)}</h1>\n` +
      `<p>served by <b id="pod">${escape(who)}</b> at ${pod.host}:${pod.port}; ` +
      `image <b id="image">${escape(pod.image)}</b>; you asked for ${escape(req.url)}</p>\n`;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store',
      'x-pod': who, 'x-image': pod.image });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}

function escape(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
