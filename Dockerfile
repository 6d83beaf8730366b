# The vantage6 4.x algorithm image of cartreg's federated analysis.
# Build from the repository root:  docker build -t cartreg-v6:0.1.0 .
# Each node runs `partial` (aggregates of its own registry) and one of them runs `central`.
FROM python:3.11-slim

# cartreg with its pinned dependencies and vantage6-algorithm-tools 4.15.2 (the `federated` extra)
COPY pyproject.toml README.md /src/cartreg/
COPY src /src/cartreg/src
RUN pip install --no-cache-dir "/src/cartreg[federated]" && rm -rf /src/cartreg

# vantage6 runs the module named by PKG_NAME; the method comes from the task input.
ENV PKG_NAME=cartreg.v6algorithm
# No network use by the algorithm itself; the node's privacy settings come from its algorithm_env.
CMD ["python", "-c", "from vantage6.algorithm.tools.wrap import wrap_algorithm; wrap_algorithm()"]
