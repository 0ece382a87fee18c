# Runs moto's server as `python -m moto.server` does, with one change: DynamoDB
# requests are served one at a time. moto's conditional writes are not atomic
# under its threaded server (two racing conditional updates can both succeed),
# while DynamoDB's are; serializing them gives tests DynamoDB's guarantee.
# Everything else (SQS long polls included) stays concurrent.
import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

host, port = sys.argv[1], int(sys.argv[2])
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def serialized(environ, start_response):
    if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
        return app(environ, start_response)
    with lock:
        return list(app(environ, start_response))


run_simple(host, port, serialized, threaded=True)
