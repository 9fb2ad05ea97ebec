// Every other path.
exports.handler = async (event) => ({ statusCode: 200, body: `web: ${event.path}\n` });
