# A Functions Framework function as written for Google Cloud Functions, unchanged.
import functions_framework


@functions_framework.http
def hello(request):
    return {"message": "hello"}
