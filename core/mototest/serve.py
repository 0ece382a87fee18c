# Runs moto's server as `python -m moto.server` does, with one change: DynamoDB
# requests are served one at a time. moto's conditional writes are not atomic
# under its threaded server (two racing conditional updates can both succeed),
# while DynamoDB's are; serializing them gives tests DynamoDB's guarantee.
# Everything else (SQS long polls included) stays concurrent. It listens on
# a port the kernel picks and prints it.
#
# And without Docker, a model's Docker client raises AttributeError instead of
# DockerException: moto's state dump (/moto-api/data.json, where SentMails
# reads SES's sends) skips attributes that raise AttributeError, but a Lambda
# function's docker_client raised DockerException and failed the whole dump
# with a 500 once a deployed stack had functions. Nothing here runs a Lambda
# function through moto (the local stack invokes the handlers itself).
import sys
import threading

from werkzeug.serving import make_server

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.utilities import docker_utilities

_docker_client = docker_utilities.DockerModel.docker_client


def _docker_client_or_attribute_error(self):
    try:
        return _docker_client.fget(self)
    except Exception as e:  # docker.errors.DockerException: no Docker daemon
        raise AttributeError(f"docker_client: {e}") from e


docker_utilities.DockerModel.docker_client = property(_docker_client_or_attribute_error)

host = sys.argv[1]
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def serialized(environ, start_response):
    if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
        return app(environ, start_response)
    with lock:
        return list(app(environ, start_response))


# Port 0: the kernel picks a free port as it binds, and the first line of
# stdout says which. Picking one beforehand and binding later lets two test
# binaries started at once end up on one server.
server = make_server(host, 0, serialized, threaded=True)
print(server.port, flush=True)
server.serve_forever()
