// A Functions Framework function as written for Google Cloud Functions, unchanged.
const functions = require('@google-cloud/functions-framework');

functions.http('hello', (req, res) => {
  res.json({ message: 'hello' });
});
