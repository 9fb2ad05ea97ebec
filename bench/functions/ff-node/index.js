// The same function for the Node.js Functions Framework (@google-cloud/functions-framework,
// installed in bench/node_modules): `functions-framework --target=hello --source=<this folder>`.
const functions = require('@google-cloud/functions-framework');

functions.http('hello', (req, res) => res.json({ message: 'hello' }));
