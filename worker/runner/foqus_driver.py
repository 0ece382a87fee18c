"""Run one FOQUS flowsheet job for foqus-worker (shipped inside the worker binary).

Loads the staged session with FOQUS's own session API, sets the job's inputs,
registers Turbine (ACM / Aspen Plus) models with TurbineLite when asked,
solves, and writes FOQUS's flowsheet value dump to --output. Exit status 0
means output.json was written (graphError inside says whether the flowsheet
solved); anything else is a failure the worker reports with stderr's end.
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
    p.add_argument("--simulation-dir", required=True, help="staged simulation files")
    p.add_argument("--reset", action="store_true", help="the job asks for a reset")
    p.add_argument("--initialize", action="store_true", help="the job asks to initialize the model")
    p.add_argument("--register-turbine", action="store_true", help="register Turbine models with TurbineLite")
    a = p.parse_args()

    from foqus_lib.framework.session.session import session as Session

    os.chdir(os.path.dirname(os.path.abspath(a.output)))
    dat = Session(useCurrentWorkingDir=True)
    dat.load(a.session, stopConsumers=True)
    with open(a.input) as f:
        values = json.load(f)
    if a.register_turbine:
        register_turbine(dat, a.simulation_dir)
    for node in dat.flowsheet.nodes.values():
        if a.reset:
            node.options["Reset"].value = True
        if a.initialize and "Initialize Model" in node.options:
            node.options["Initialize Model"].value = True
    dat.flowsheet.loadValues({"input": values})
    start = time.time()
    gt = dat.flowsheet.runAsThread()
    while gt.is_alive():
        gt.join(5)
    if gt.res and gt.res[0]:
        dat.flowsheet.loadValues(gt.res[0])
    else:
        dat.flowsheet.errorStat = 19  # FOQUS: no result returned
    dat.flowsheet.solTime = time.time() - start
    dat.saveFlowsheetValues(a.output)
    return 0


def register_turbine(dat, simdir):
    """Upload each Turbine node's SimSinter config and model to TurbineLite."""
    for name, node in dat.flowsheet.nodes.items():
        if node.modelType != 1:  # nodeModelTypes.MODEL_TURBINE
            continue
        sinter = None
        for cfg in ("acm_sinter.json", "aspenplus_sinter.json"):
            path = os.path.join(simdir, cfg)
            if os.path.exists(path):
                sinter = path
        if sinter is None:
            raise RuntimeError("node %s: no SimSinter configuration staged" % name)
        others = [os.path.join(simdir, f) for f in os.listdir(simdir)
                  if f not in ("session.foqus", "meta.json", os.path.basename(sinter))]
        dat.flowsheet.turbConfig.uploadSimulation(node.modelName, sinter, update=True, otherResources=others)


if __name__ == "__main__":
    sys.exit(main())
