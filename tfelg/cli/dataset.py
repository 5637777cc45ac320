r"""tfelg-dataset: build a TFDS dataset, print its classes, plot its diagrams.

  tfelg-dataset --dataset=emission_lines/synthetic --data_dir=runs/demo/tfds \
      --plot_dir=runs/demo/plots
  tfelg-dataset --dataset=emission_lines/mpajhu --manual_dir=~/mpajhu_parent
  tfelg-dataset --dataset=emission_lines/synthetic --num_galaxies=1000000 \
      --beam_runner=DirectRunner \
      --beam_pipeline_options=direct_num_workers=2,direct_running_mode=multi_processing
"""

from __future__ import annotations

import sys
import time

from absl import app, flags

from tfelg.cli import define_path, run_binary

_DATASET = flags.DEFINE_string(
    "dataset", "emission_lines/synthetic", "NAME/CONFIG of a tfelg TFDS dataset."
)
_DATA_DIR = define_path("data_dir", None, "TFDS data directory.")
_MANUAL_DIR = define_path(
    "manual_dir",
    None,
    "Folder holding mpajhu/ or sdss_spec/ (emission_lines) or candels/ (hst_galaxies).",
)
_NUM_GALAXIES = flags.DEFINE_integer("num_galaxies", None, "Synthetic configs: sample size.")
_SEED = flags.DEFINE_integer("seed", None, "Synthetic configs: generator seed.")
_BEAM_RUNNER = flags.DEFINE_string(
    "beam_runner",
    None,
    "Generate through Apache Beam with this runner (DirectRunner, DataflowRunner, "
    "FlinkRunner, SparkRunner; pip install 'tfelg[beam]'); same records as without.",
)
_BEAM_PIPELINE_OPTIONS = flags.DEFINE_string(
    "beam_pipeline_options",
    None,
    "Comma-separated Beam pipeline options without '--', as for `tfds build`, e.g. "
    "direct_num_workers=2,direct_running_mode=multi_processing.",
)
_PLOT_DIR = define_path(
    "plot_dir", None, "If set, write BPT/WHAN diagrams (hst_galaxies: RGB, UVJ, Gini-M20) here."
)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    from tfelg import data
    from tfelg.dataset_report import describe_dataset
    from tfelg.errors import InputError

    try:
        builder = data.make_builder(
            _DATASET.value, _DATA_DIR.value, num_galaxies=_NUM_GALAXIES.value, seed=_SEED.value
        )
        beam_flags = None
        if _BEAM_RUNNER.value or _BEAM_PIPELINE_OPTIONS.value:
            if builder.name != "emission_lines":
                # TFDS would quietly generate in this process instead.
                raise ValueError(
                    f"--beam_runner/--beam_pipeline_options: {builder.name} has no Beam "
                    "generation (emission_lines has)"
                )
            beam_flags = [f"--runner={_BEAM_RUNNER.value}"] if _BEAM_RUNNER.value else []
            options = _BEAM_PIPELINE_OPTIONS.value or ""
            beam_flags += [f"--{option}" for option in options.split(",") if option]
        start = time.perf_counter()
        print(f"preparing {builder.info.full_name} in {builder.data_dir} ...", flush=True)
        data.prepare(builder, manual_dir=_MANUAL_DIR.value, beam_flags=beam_flags)
        print(f"ready in {time.perf_counter() - start:.1f} s", flush=True)
        if builder.name == "hst_galaxies":
            from tfelg.hst_report import describe_hst_dataset

            # RGB stamps per type, UVJ diagram, Gini-M20 plane.
            print(describe_hst_dataset(builder, plot_dir=_PLOT_DIR.value))
        else:
            print(describe_dataset(builder, plot_dir=_PLOT_DIR.value))
    except (InputError, ValueError) as e:
        print(f"tfelg-dataset: error: {e}", file=sys.stderr)
        return 2
    return 0


def run():
    run_binary(main, __name__)


if __name__ == "__main__":
    run()
