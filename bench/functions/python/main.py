# Hello-world handler served by fnshim in handler mode (bench/handlers.sh).
# A plain dict result becomes 200 application/json: {"message":"hello"}.
def handler(event, context):
    return {"message": "hello"}
