// The HttpHello function's own code (fnshim runs each <Name>/index.js of an Azure app as its
// own function, with its own workers). An HTTP trigger: an API Gateway-style event in, a
// statusCode/headers/body result out.
exports.handler = async (event, context) => {
  const name = (event.queryStringParameters || {}).name || 'world';
  const body = event.body || '';
  const sent = event.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body);
  console.log(`hello ${name}: ${event.httpMethod} of ${sent.length} bytes`); // one of the answer's Logs
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      message: `Hello, ${name}, from Azure Functions behind fnshim`,
      method: event.httpMethod,
      path: event.path,
      contentType: (event.headers || {})['content-type'] || null,
      bodyBytes: sent.length,
      json: /json/.test((event.headers || {})['content-type'] || '') ? JSON.parse(body) : null,
      invocationId: context.invocationId || null,
    }),
  };
};
