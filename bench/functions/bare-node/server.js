// The limit for the Node comparison in bench/handlers.sh: a bare Node.js `http` server on
// $PORT at 127.0.0.1 answering every request with the same JSON as the hello functions.
'use strict';
const http = require('http');

const server = http.createServer((req, res) => {
  req.resume(); // drain any request body
  const body = JSON.stringify({ message: 'hello' }); // serialised per request, like the others
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
});
server.keepAliveTimeout = 65000;
server.headersTimeout = 66000;
server.listen(Number(process.env.PORT || 8080), '127.0.0.1');

for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
