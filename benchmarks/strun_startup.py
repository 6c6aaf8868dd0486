"""How long ``strun -h`` takes, in fresh interpreters.

Prints the median wall time of: importing the framework, ``strun -h``,
``strun --list``, ``strun <pipeline> -h`` for a pipeline of five test steps
and for each real pipeline (calwebb_detector1, calwebb_image2,
calwebb_image3, the Roman exposure_pipeline).  A pipeline's ``-h`` costs the
import of its step modules, which must stay light: heavy imports belong
inside ``process()``.

Run: PYTHONPATH=src python benchmarks/strun_startup.py [repeats]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

PIPELINE_MODULE = textwrap.dedent('''
    from photoncal.stpipe import Pipeline, Step

    def _make(alias, n):
        spec = "\\n".join(f"p{i} = float(default={i}.0)  # parameter {i}" for i in range(n))
        return type(alias.title().replace("_", "") + "Step", (Step,), {"class_alias": alias, "spec": spec,
                    "reference_file_types": ["gain", "readnoise"], "process": lambda self, x: x})

    STEPS = {f"bench_step{i}": _make(f"bench_step{i}", 8) for i in range(5)}

    class BenchPipeline(Pipeline):
        """A pipeline of five test steps."""
        class_alias = "bench_pipeline"
        step_defs = STEPS
        def process(self, x):
            return x
''')


def timed(code: str, env: dict, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "bench_pipeline_module.py"), "w") as handle:
            handle.write(PIPELINE_MODULE)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.abspath(src), tmp]))
        cases = {
            "python -c pass (interpreter)": "pass",
            "import photoncal.stpipe": "import photoncal.stpipe",
            "strun -h": "from photoncal.cli.strun import main; main(['-h'])",
            "strun --list": "from photoncal.cli.strun import main; main(['--list'])",
            "strun bench_pipeline -h (5 steps)": (
                "import bench_pipeline_module\nfrom photoncal.cli.strun import main; main(['bench_pipeline', '-h'])"
            ),
        }
        for alias in ("calwebb_detector1", "calwebb_image2", "calwebb_image3", "exposure_pipeline"):
            cases[f"strun {alias} -h"] = f"from photoncal.cli.strun import main; main(['{alias}', '-h'])"
        print(f"median of {repeats} fresh interpreters ({sys.executable})")
        for label, code in cases.items():
            print(f"  {label:<36} {timed(code, env, repeats) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
