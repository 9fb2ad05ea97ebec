// A Node.js handler in the Lambda style: fnshim calls handler(event, context) per request.
exports.handler = async (event, context) => {
  const name = (event.queryStringParameters || {}).name || 'world';
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      message: `Hello, ${name}, from Node.js behind fnshim`,
      path: event.path,
      requestId: context.requestId,
      remainingMs: context.getRemainingTimeInMillis(),
    }),
  };
};
