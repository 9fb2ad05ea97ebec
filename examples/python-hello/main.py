"""A Python handler: fnshim calls handler(event, context) once per request, one at a time per
worker process, with FUNCTION_WORKERS processes (default: one per CPU)."""
import json


def handler(event, context):
    query = event.get("queryStringParameters") or {}
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({
            "message": f"Hello, {query.get('name', 'world')}, from Python behind fnshim",
            "path": event.get("path"),
            "requestId": context.request_id,
        }),
    }
