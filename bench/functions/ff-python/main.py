# The same function for the Python Functions Framework (functions-framework from PyPI,
# installed in bench/.venv): `functions-framework --target=hello --source=<this file>`.
# Flask turns the dict into a 200 application/json response.
import functions_framework


@functions_framework.http
def hello(request):
    return {"message": "hello"}
