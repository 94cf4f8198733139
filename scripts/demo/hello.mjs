// A stand-in for the walkthrough's hello app: prints which pod answered, as the real image does.
// usage: node hello.mjs HOST PORT POD_NAME
import http from 'node:http';

const [host, port, pod] = [process.argv[2], Number(process.argv[3]), process.argv[4]];
http.createServer((req, res) => {
  const body = `<!doctype html><title>hello</title><h1>Hello from ${pod}</h1>` +
    `<p>served by <b id="pod">${pod}</b> at ${host}:${port}; you asked for ${escape(req.url)}</p>\n`;
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'x-pod': pod });
  res.end(body);
}).listen(port, host);

function escape(s) {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
