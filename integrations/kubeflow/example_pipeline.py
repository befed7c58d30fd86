"""The pipeline of integrations/kubeflow/README.md, in the KFP v2 DSL.

A dataset, embeddings computed from it and a cluster cache computed from
both; each is pushed to cairn with the run's identity and what it was made
from, so that cairn can answer which run made what, and what to rebuild.

    pip install kfp kfp-kubernetes
    python example_pipeline.py   # writes abstracts_embeddings.yaml, use_abstracts_clusters.yaml

Registry credentials come from the Kubernetes Secret cairn-credentials
(keys username and password: a cairn user and a token issued with
`cairn token issue pipeline --scope datasets/:pull,push --scope caches/:pull,push`).
"""

import json
from pathlib import Path

from kfp import compiler, components, dsl, kubernetes

HERE = Path(__file__).parent
cairn_push_op = components.load_component_from_file(str(HERE / "push.yaml"))
cairn_pull_op = components.load_component_from_file(str(HERE / "pull.yaml"))

REGISTRY = "registry.example:5000"


def with_credentials(task):
    """Gives a cairn step the registry credentials of the Secret."""
    kubernetes.use_secret_as_env(
        task,
        secret_name="cairn-credentials",
        secret_key_to_env={"username": "CAIRN_USERNAME", "password": "CAIRN_PASSWORD"},
    )
    return task


def cairn_push(**inputs):
    """A cairn push step that records the run it is part of."""
    task = cairn_push_op(
        pipeline_name=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
        run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        task_name=dsl.PIPELINE_TASK_NAME_PLACEHOLDER,
        **inputs,
    )
    # A step taken from the cache would not push, and the run's artifacts
    # would carry another run's id.
    task.set_caching_options(False)
    return with_credentials(task)


@dsl.component(base_image="python:3.12-slim")
def make_dataset(dataset: dsl.Output[dsl.Dataset]):
    import json
    import os

    os.makedirs(dataset.path, exist_ok=True)
    with open(os.path.join(dataset.path, "papers.jsonl"), "w") as f:
        f.write(json.dumps({"title": "Attention Is All You Need"}) + "\n")
    with open(os.path.join(dataset.path, "meta.json"), "w") as f:
        json.dump({"conference": "neurips", "year": 2024}, f)


@dsl.component(base_image="python:3.12-slim")
def embed(dataset: dsl.Input[dsl.Dataset], embeddings: dsl.Output[dsl.Artifact]):
    # Stands in for an embedding model.
    import hashlib
    import os

    with open(embeddings.path, "w") as out:
        for name in sorted(os.listdir(dataset.path)):
            with open(os.path.join(dataset.path, name), "rb") as f:
                out.write(hashlib.sha256(f.read()).hexdigest() + "\n")


@dsl.component(base_image="python:3.12-slim")
def cluster(embeddings: dsl.Input[dsl.Artifact], clusters: dsl.Output[dsl.Artifact]):
    # Stands in for a clustering of the embeddings.
    import json

    with open(embeddings.path) as f:
        n = len(f.readlines())
    with open(clusters.path, "w") as f:
        json.dump({"k": min(n, 8)}, f)


@dsl.pipeline(name="abstracts-embeddings")
def abstracts_embeddings():
    dataset = make_dataset()
    dataset_pushed = cairn_push(
        data=dataset.outputs["dataset"],
        repository=f"{REGISTRY}/datasets/abstracts",
        tag="neurips-2024",
        artifact_type="application/vnd.cairn.dataset.v1",
        annotations=json.dumps({"org.example.conference": "neurips", "org.example.year": "2024"}),
    )

    embeddings = embed(dataset=dataset.outputs["dataset"])
    embeddings_pushed = cairn_push(
        data=embeddings.outputs["embeddings"],
        repository=f"{REGISTRY}/datasets/abstracts-embeddings",
        tag="neurips-2024-qwen3",
        artifact_type="application/vnd.cairn.embeddings.v1",
        annotations=json.dumps({"org.example.model": "Qwen/Qwen3-Embedding-0.6B"}),
        derived_from=dataset_pushed.outputs["reference"],
    )

    clusters = cluster(embeddings=embeddings.outputs["embeddings"])
    cairn_push(
        data=clusters.outputs["clusters"],
        repository=f"{REGISTRY}/caches/abstracts-clusters",
        artifact_type="application/vnd.example.clusters.v1+json",
        derived_from=embeddings_pushed.outputs["reference"],
        derived_from_2=dataset_pushed.outputs["reference"],
    )


@dsl.component(base_image="python:3.12-slim")
def count_clusters(data: dsl.Input[dsl.Artifact]) -> int:
    import json
    import os

    # A pulled directory holds one entry per layer, named by its title.
    with open(os.path.join(data.path, "clusters")) as f:
        return json.load(f)["k"]


@dsl.pipeline(name="use-abstracts-clusters")
def use_clusters(reference: str):
    """Pulls a cluster cache: a reference output of the pipeline above."""
    pulled = with_credentials(cairn_pull_op(reference=reference))
    count_clusters(data=pulled.outputs["data"])


if __name__ == "__main__":
    compiler.Compiler().compile(abstracts_embeddings, "abstracts_embeddings.yaml")
    compiler.Compiler().compile(use_clusters, "use_abstracts_clusters.yaml")
