// One handler module for the whole Azure Functions app: fnshim is the custom handler (see
// host.json) and calls handler(event, context) for each function of the app, named by
// context.azureFunctionName (the folder holding its function.json).
exports.handler = async (event, context) => {
  switch (context.azureFunctionName) {
    case 'HttpHello':
      return hello(event, context);
    case 'TimerTick':
      return tick(event);
    default:
      throw new Error(`no code for ${context.azureFunctionName}`);
  }
};

// An HTTP trigger: an API Gateway-style event in, a statusCode/headers/body result out.
function hello(event, context) {
  const name = (event.queryStringParameters || {}).name || 'world';
  const body = event.body || '';
  const sent = event.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body);
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
}

// A timer trigger: the raw event {data, metadata}; the result is the invocation's ReturnValue.
function tick(event) {
  const timer = event.data.myTimer || {};
  console.log(`tick: past due ${Boolean(timer.IsPastDue)}`);
  return { ticked: true, pastDue: Boolean(timer.IsPastDue), next: (timer.ScheduleStatus || {}).Next || null };
}
