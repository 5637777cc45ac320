# The image of tfelg's pipeline steps (Kubeflow Pipelines, Kubernetes jobs, Slurm with a
# container runtime): the package installed from this repository with the project's pins.
#
#   docker build -t REGISTRY/tfelg:TAG .
#   docker push REGISTRY/tfelg:TAG
#   tfelg-pipeline --pipeline=emission_lines --export=kfp --image=REGISTRY/tfelg:TAG \
#       --root=/mnt/tfelg/el --output=emission_lines.yaml
#
# A KFP step runs `python -m tfelg_components.emission_lines trainer ...`; a training
# worker runs `tfelg-train ...`. Add `gpu` to the extras (.[beam,kfp,gpu]) for NVIDIA
# GPUs: the CUDA libraries come as pip wheels, so this base image still works.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    MPLBACKEND=Agg

# A plain (not editable) install: the source folder is removed afterwards, so nothing
# in the working directory shadows the installed tfelg, tfelg_components, tfelg_pipelines.
COPY . /tmp/tfelg-src
RUN pip install -c /tmp/tfelg-src/constraints.txt "/tmp/tfelg-src[beam,kfp]" \
    && rm -rf /tmp/tfelg-src \
    && python -c "import tfelg, tfelg_components.binary, tfelg_pipelines.registry" \
    && tfelg-pipeline --pipeline=toy --describe

# Runs and datasets go to mounted volumes (the run root); nothing is written into the
# image at run time. It runs as root, as KFP's pods do by default, so that a freshly
# provisioned volume is writable; to run as another user, give the pods a
# securityContext (runAsUser, fsGroup) that owns the volume.
WORKDIR /work
CMD ["tfelg-pipeline", "--help"]
