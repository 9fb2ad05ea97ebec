// Tiny Node.js `http` upstream: the main baseline of bench/run.sh.
// Listens on $PORT at 127.0.0.1 and answers every request with a small JSON body.
// Node's http server sets TCP_NODELAY and sends head + body of `res.end(body)` in one write.
'use strict';
const http = require('http');

const body = Buffer.from(JSON.stringify({ message: 'hello from node', ok: true }));
const headers = {
  'content-type': 'application/json',
  'content-length': body.length,
};

const server = http.createServer((req, res) => {
  req.resume(); // drain any request body
  res.writeHead(200, headers);
  res.end(body);
});
server.keepAliveTimeout = 65000;
server.headersTimeout = 66000;

const port = Number(process.env.PORT || 8080);
server.listen(port, '127.0.0.1');

for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
