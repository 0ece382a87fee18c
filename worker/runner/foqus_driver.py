"""Run one FOQUS flowsheet job for foqus-worker (shipped inside the worker binary).

The worker has staged the job's simulation into simulation/, the flowsheet's
Turbine model (if any) into models/<name>/ and Python plugins into
user_plugins/ of the run directory, which is the working directory. This
loads the session with FOQUS's own session API, registers the Turbine model
with TurbineLite (refreshing it when already registered), sets the job's
inputs, solves, and writes FOQUS's flowsheet value dump to --output. Exit
status 0 means output.json was written (its graphError says whether the
flowsheet solved); anything else is a failure the worker reports with the
end of stderr.
"""
import argparse
import json
import os
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--session", required=True, help="staged session.foqus")
    p.add_argument("--input", required=True, help="JSON object of the job's input values")
    p.add_argument("--output", required=True, help="where to write FOQUS's value dump")
    p.add_argument("--reset", action="store_true", help="the job asks for a reset")
    p.add_argument("--initialize", action="store_true", help="the job asks to initialize the model")
    p.add_argument("--turbine-model", help="simulation name of the flowsheet's Turbine node")
    p.add_argument("--turbine-app", help="its application: ACM or AspenPlus")
    p.add_argument("--turbine-dir", help="its staged files")
    a = p.parse_args()

    from foqus_lib.framework.session.session import session as Session

    dat = Session(useCurrentWorkingDir=True)
    dat.load(a.session, stopConsumers=True)
    if a.turbine_model:
        register_turbine(dat, a.turbine_model, a.turbine_app, a.turbine_dir)
    for node in dat.flowsheet.nodes.values():
        if a.reset and "Reset" in node.options:
            node.options["Reset"].value = True
        if a.initialize and "Initialize Model" in node.options:
            node.options["Initialize Model"].value = True
    with open(a.input) as f:
        dat.flowsheet.loadValues({"input": json.load(f)})
    start = time.time()
    gt = dat.flowsheet.runAsThread()
    while gt.is_alive():
        gt.join(5)
    if gt.res and gt.res[0]:
        dat.flowsheet.loadValues(gt.res[0])
    else:
        dat.flowsheet.setErrorCode(19)  # FOQUS: exception during graph execution
    dat.flowsheet.solTime = time.time() - start
    dat.saveFlowsheetValues(a.output)
    return 0


def register_turbine(dat, model, app, directory):
    """Register the model with TurbineLite, or refresh it when registered.

    uploadSimulation takes the model file (and the rest) from the folder of
    the SimSinter configuration, where the worker staged them.
    """
    sinter = os.path.join(directory, "%s_sinter.json" % app.lower())
    turb = dat.flowsheet.turbConfig
    known = model in turb.getSimulationList()
    turb.uploadSimulation(model, sinter, update=known)


if __name__ == "__main__":
    sys.exit(main())
