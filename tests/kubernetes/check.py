"""The Kubernetes manifests of the atlas (deploy/kubernetes/), checked as far as can be without a cluster.

- Each resource against the Kubernetes API's schema for 1.33 (the first release with backoffLimitPerIndex
  generally available), strictly (unknown fields refused), by kubernetes-validate (pinned in the Makefile); and a
  copy with a misspelt field and one with a wrong value are refused, so a pass means something.
- The Indexed Job's shard count (`--shards`) equals its completions, one shard per index.
- Each container's arguments are ones filterlens takes: the binary runs them (with the index Kubernetes would set)
  and stops only at what exists in a pod alone (the weights, the shared volume), not at its arguments.

Usage: python tests/kubernetes/check.py FILTERLENS_BINARY
"""

import copy
import glob
import os
import subprocess
import sys

import kubernetes_validate
import yaml

VERSION = "1.33.0"
HERE = os.path.dirname(os.path.abspath(__file__))
MANIFESTS = sorted(glob.glob(os.path.join(HERE, "../../deploy/kubernetes/*.yaml")))


def valid(resource):
    try:
        kubernetes_validate.validate(resource, VERSION, strict=True)
        return None
    except kubernetes_validate.ValidationError as e:
        return e.message
    except kubernetes_validate.SchemaNotFoundError as e:
        return str(e)


def main(binary):
    jobs = []
    for path in MANIFESTS:
        for resource in yaml.safe_load_all(open(path)):
            name = f"{os.path.basename(path)}: {resource['kind']}/{resource['metadata']['name']}"
            problem = valid(resource)
            assert problem is None, f"{name}: {problem}"
            print(f"ok: {name} is a valid Kubernetes {VERSION} resource")
            if resource["kind"] == "Job":
                jobs.append((name, resource))

    # The validator refuses what it should: a misspelt field, a value of the wrong kind.
    name, job = next((n, j) for n, j in jobs if j["spec"].get("completionMode") == "Indexed")
    misspelt = copy.deepcopy(job)
    misspelt["spec"]["completionMod"] = misspelt["spec"].pop("completionMode")
    wrong = copy.deepcopy(job)
    wrong["spec"]["completions"] = "eight"
    for broken, what in [(misspelt, "a misspelt field"), (wrong, "a string for completions")]:
        assert valid(broken) is not None, f"the validator took {what}"
    print("ok: a misspelt field and a string for completions are refused")

    spec = job["spec"]
    args = spec["template"]["spec"]["containers"][0]["args"]
    shards = int(args[args.index("--shards") + 1])
    assert shards == spec["completions"], f"{name}: --shards {shards}, completions {spec['completions']}"
    print(f"ok: {name}: {shards} shards, one per completion index")

    # Run as a pod would (index 0), each stops at a file only the pod has, after its arguments were taken.
    expected = {"filterlens-atlas": "cannot read weights '/weights/", "filterlens-atlas-merge": "no atlas has been started"}
    for name, job in jobs:
        container = job["spec"]["template"]["spec"]["containers"][0]
        assert container["command"] == ["filterlens"], f"{name}: {container['command']}"
        env = dict(os.environ, JOB_COMPLETION_INDEX="0")
        run = subprocess.run([binary, *container["args"]], env=env, capture_output=True, text=True, timeout=60)
        wanted = expected[job["metadata"]["name"]]
        assert run.returncode != 0 and wanted in run.stderr, f"{name}: {run.stderr}"
        print(f"ok: {name}: filterlens takes its arguments (and stops at: {run.stderr.strip()})")


if __name__ == "__main__":
    main(sys.argv[1])
