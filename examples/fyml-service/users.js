// GET /users/:id: the id arrives in event.pathParameters, the table in this function's env.
exports.get = async (event, context) => ({
  id: event.pathParameters.id,
  table: process.env.TABLE,
  stage: process.env.STAGE,
  function: context.functionName,
});
