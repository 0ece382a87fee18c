# Runs moto's server as `python -m moto.server` does, with one change: DynamoDB
# requests are served one at a time. moto's conditional writes are not atomic
# under its threaded server (two racing conditional updates can both succeed),
# while DynamoDB's are; serializing them gives tests DynamoDB's guarantee.
# Everything else (SQS long polls included) stays concurrent.
#
# And without Docker, a model's Docker client raises AttributeError instead of
# DockerException: moto's state dump (/moto-api/data.json, where SentMails
# reads SES's sends) skips attributes that raise AttributeError, but a Lambda
# function's docker_client raised DockerException and failed the whole dump
# with a 500 once a deployed stack had functions. Nothing here runs a Lambda
# function through moto (the local stack invokes the handlers itself).
import sys
import threading

from werkzeug.serving import run_simple

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.utilities import docker_utilities

_docker_client = docker_utilities.DockerModel.docker_client


def _docker_client_or_attribute_error(self):
    try:
        return _docker_client.fget(self)
    except Exception as e:  # docker.errors.DockerException: no Docker daemon
        raise AttributeError(f"docker_client: {e}") from e


docker_utilities.DockerModel.docker_client = property(_docker_client_or_attribute_error)

host, port = sys.argv[1], int(sys.argv[2])
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()


def serialized(environ, start_response):
    if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
        return app(environ, start_response)
    with lock:
        return list(app(environ, start_response))


run_simple(host, port, serialized, threaded=True)
