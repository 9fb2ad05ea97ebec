// Hello-world handler served by fnshim in handler mode (bench/handlers.sh).
// A plain object result becomes 200 application/json: {"message":"hello"}.
exports.handler = async () => ({ message: 'hello' });
