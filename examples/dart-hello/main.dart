// The Dart runtime image's example function (seed 000), unchanged in spirit: a top-level
// handler(event, context) returning an API Gateway style response.
import 'dart:convert';
import 'dart:io';

dynamic handler(dynamic event, dynamic context) {
  final path = event['path'] ?? '/';
  final method = event['httpMethod'] ?? 'GET';
  final query = event['queryStringParameters'] ?? {};
  return {
    'statusCode': 200,
    'headers': {'Content-Type': 'application/json'},
    'body': json.encode({
      'message': 'Hello from Dart Serverless Runtime',
      'timestamp': DateTime.now().toIso8601String(),
      'requestInfo': {
        'path': path,
        'method': method,
        'query': query,
        'dartVersion': Platform.version.split(' ').first,
      }
    })
  };
}
