"""Run one FOQUS flowsheet job for foqus-worker (shipped inside the worker binary).

The worker has staged the job's simulation into simulation/, the flowsheet's
Turbine model (if any) into models/<name>/ and Python plugins into
user_plugins/ of the run directory, which is the working directory. This
uses FOQUS's session API in the order FOQUS's own entry points (foqus.py,
service/flowsheet.py) do: make the working-directory structure, create the
session, load the session file, register the Turbine model with TurbineLite,
set the inputs, solve in FOQUS's graph thread, load its results and write
FOQUS's flowsheet value dump to --output.

Besides the output, it writes --report: what failed in FOQUS's terms (FOQUS
logs a node's exception instead of putting it in the output). Exit status 0
means output.json was written (its graphError says whether the flowsheet
solved); 3 means the job was refused before it ran (the report says why);
4 means the run was stopped (--stop-file appeared, or a signal); 1 means FOQUS raised (the report
has the exception's text). Tracebacks go to stderr, which is
the worker's run log, never to the report.
"""
import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback

EXIT_FAILED = 1
EXIT_REFUSED = 3
EXIT_STOPPED = 4


class Refused(Exception):
    """The job cannot run: the message says why, in the job's terms."""


class Stopped(BaseException):
    """The worker asked the run to end (kill, timeout, service stop)."""


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--session", required=True, help="staged session.foqus")
    p.add_argument("--input", required=True, help="JSON object of the job's input values")
    p.add_argument("--output", required=True, help="where to write FOQUS's value dump")
    p.add_argument("--report", required=True, help="where to write what failed")
    p.add_argument("--stop-file", help="the worker creates it to ask the run to stop")
    p.add_argument("--reset", action="store_true", help="the job asks for a reset")
    p.add_argument("--initialize", action="store_true", help="the job asks to initialize the model")
    p.add_argument("--turbine-model", help="simulation name of the flowsheet's Turbine node")
    p.add_argument("--turbine-app", help="its application: ACM or AspenPlus")
    p.add_argument("--turbine-dir", help="its staged files")
    a = p.parse_args()

    def stop(signum, frame):  # a console's Ctrl+C/Break, or SIGTERM
        raise Stopped()

    for name in ("SIGTERM", "SIGBREAK", "SIGINT"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), stop)

    report = {}
    dat = None
    started = time.perf_counter()
    try:
        from foqus_lib.framework.session import session as fsession
        from foqus_lib.framework.graph.node import Node

        imported = time.perf_counter()
        report["importSeconds"] = imported - started
        if not fsession.makeWorkingDirStruct():
            raise Refused("could not create FOQUS's working directory")
        dat = fsession.session(useCurrentWorkingDir=True)
        exceptions = attribute_exceptions(Node)  # after the session set up FOQUS's logging
        load_session(dat, a.session)
        if a.turbine_model:
            register_turbine(dat, a.turbine_model, a.turbine_app, a.turbine_dir)
        for node in dat.flowsheet.nodes.values():
            if a.reset and "Reset" in node.options:
                node.options["Reset"].value = True
            if a.initialize and "Initialize Model" in node.options:
                node.options["Initialize Model"].value = True
        load_inputs(dat, a.input)
        start = time.time()
        gt = dat.flowsheet.runAsThread()
        try:
            while gt.is_alive():
                gt.join(1)
                if a.stop_file and os.path.exists(a.stop_file):
                    raise Stopped()
        except Stopped:
            gt.terminate()
            raise
        if gt.res and gt.res[0]:
            dat.flowsheet.loadValues(gt.res[0])
        else:
            dat.flowsheet.setErrorCode(19)  # FOQUS: exception during graph execution
        dat.flowsheet.solTime = time.time() - start
        dat.saveFlowsheetValues(a.output)
        report.update(describe_run(dat, gt, exceptions))
        report["runSeconds"] = time.perf_counter() - imported
        write_report(a.report, report)
        return 0
    except Refused as e:
        report["refused"] = str(e)
        write_report(a.report, report)
        return EXIT_REFUSED
    except Stopped:
        report["stopped"] = True
        write_report(a.report, report)
        return EXIT_STOPPED
    except Exception as e:
        traceback.print_exc()
        report["failed"] = exception_text(e)
        write_report(a.report, report)
        return EXIT_FAILED
    finally:
        stop_consumers(dat)


def load_session(dat, path):
    """Load the session file; what FOQUS raises on a bad one becomes a refusal."""
    try:
        dat.load(path, stopConsumers=True)
    except KeyError as e:
        traceback.print_exc()
        raise Refused("session.foqus is not a FOQUS session: it has no %s" % e)
    except ValueError as e:
        traceback.print_exc()
        raise Refused("session.foqus is not a FOQUS session: %s" % e)


def load_inputs(dat, path):
    """Set the job's inputs as FOQUS does (flowsheet.input.loadValues).

    Each node and variable is checked first, so an unknown one or a value of
    the wrong type is named in the job's terms rather than as FOQUS's
    KeyError or NodeVarListEx.
    """
    with open(path) as f:
        values = json.load(f)
    if not isinstance(values, dict):
        raise Refused("the job's input is not an object of nodes")
    inputs = dat.flowsheet.input
    for node in sorted(values):
        if node not in inputs:
            raise Refused("input %s: the flowsheet has no node %s" % (node, node))
        vals = values[node]
        if not isinstance(vals, dict):
            raise Refused("input %s: not an object of variables" % node)
        for var in sorted(vals):
            if var not in inputs[node]:
                raise Refused("input %s.%s: node %s has no input variable %s" % (node, var, node, var))
            nv = inputs[node][var]
            try:
                nv.dtype(vals[var])
            except (TypeError, ValueError):
                raise Refused(
                    "input %s.%s: %s is not a %s"
                    % (node, var, json.dumps(vals[var]), getattr(nv.dtype, "__name__", "value"))
                )
    inputs.loadValues(values)


def attribute_exceptions(Node):
    """Record each node's exception, which FOQUS only logs.

    A node's Python code error is logged by FOQUS with its exception; a
    plugin's escapes the node to the graph thread. Both are recorded under
    the node that was running, as "Type: text" (no traceback).
    """
    exceptions = {}
    current = threading.local()
    run = Node.runCalc

    def runCalc(self, *args, **kwargs):
        current.node = self.name
        try:
            return run(self, *args, **kwargs)
        except BaseException as e:
            exceptions.setdefault(self.name, exception_text(e))
            raise
        finally:
            current.node = None

    class Capture(logging.Handler):
        def emit(self, record):
            node = getattr(current, "node", None)
            if node and record.exc_info and record.exc_info[1] is not None:
                exceptions.setdefault(node, exception_text(record.exc_info[1]))

    Node.runCalc = runCalc
    handler = Capture(level=logging.ERROR)
    logging.getLogger("foqus").addHandler(handler)
    return exceptions


def exception_text(e):
    text = str(e).strip()
    name = type(e).__name__
    return "%s: %s" % (name, text) if text else name


def describe_run(dat, gt, exceptions):
    """The graph's and each failed node's status in FOQUS's words."""
    fs = dat.flowsheet
    out = {"graph": {"code": fs.errorStat, "description": fs.errorLookup(fs.errorStat)}}
    ex = getattr(gt, "ex", None)
    if ex and ex[1] is not None:
        out["graph"]["exception"] = exception_text(ex[1])
    nodes = {}
    for name in sorted(fs.nodes):
        node = fs.nodes[name]
        code = node.calcError
        if code == 0 and name not in exceptions:
            continue
        n = {"code": code, "description": node.errorLookup(code)}
        if name in exceptions:
            n["exception"] = exceptions[name]
        nodes[name] = n
    out["nodes"] = nodes
    return out


def register_turbine(dat, model, app, directory):
    """Register the model with TurbineLite, or refresh it when registered.

    uploadSimulation takes the model file (and the rest) from the folder of
    the SimSinter configuration, where the worker staged them.
    """
    sinter = os.path.join(directory, "%s_sinter.json" % app.lower())
    turb = dat.flowsheet.turbConfig
    known = model in turb.getSimulationList()
    turb.uploadSimulation(model, sinter, update=known)


def stop_consumers(dat):
    """Stop the TurbineLite consumers FOQUS started, so Aspen closes cleanly."""
    if dat is None:
        return
    try:
        dat.flowsheet.turbConfig.stopAllConsumers()
    except Exception:
        traceback.print_exc()


def write_report(path, report):
    with open(path, "w") as f:
        json.dump(report, f, default=str)


if __name__ == "__main__":
    sys.exit(main())
