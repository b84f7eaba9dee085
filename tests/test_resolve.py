"""Resolve: layering, gallery, catalog, profile pinning, store, compute and placement decisions."""

from __future__ import annotations

from pathlib import Path

import yaml

from conftest import errors_of, resolved, run, write_workload
from nimgen.model import MatchExpression, MigSlice, Pvc

PIN_H100_FP8 = "2959f7f0dfeb14631352967402c282e904ff33e1d1fa015f603d9890cf92ca0f"


BASE_SPEC = {"model": {"nim": "meta/llama-3.1-8b-instruct", "version": "1.1.2"},
             "store": {"ngc": {"secret": "ngc-api"}}, "compute": {"cpu": "4", "memory": "32Gi"}}


# -- layering and profiles on the example environments


def test_environment_overrides_merge_over_base(repo: Path):
    prod, dev = resolved(repo, "prod")["llama-8b-chat"], resolved(repo, "dev")["llama-8b-chat"]
    assert (prod.scaling.min_replicas, prod.scaling.max_replicas) == (2, 6)       # prod override
    assert (dev.scaling.min_replicas, dev.scaling.max_replicas) == (1, 1)         # base min, dev max
    assert dev.access.kind == "public" and prod.access.kind == "authenticated"   # base value kept in prod
    assert dict(prod.service.meta.annotations)["owner"] == "search-team@example.com"


def test_auto_profile_is_pinned_per_environment_gpu(repo: Path):
    prod, dev = resolved(repo, "prod")["llama-8b-chat"], resolved(repo, "dev")["llama-8b-chat"]
    assert prod.profile.pin == PIN_H100_FP8 and prod.profile.profile.name == "tensorrt_llm-h100-fp8-tp1-throughput"
    assert dev.profile.profile.name == "tensorrt_llm-l40s-bf16-tp1-throughput"


def test_70b_takes_several_gpus_per_replica_from_its_profile(repo: Path):
    w = resolved(repo, "prod")["llama-70b-chat"]
    assert w.profile.profile.gpu == "H100" and w.profile.profile.precision == "fp8"
    assert w.compute.gpus == w.profile.profile.tp * w.profile.profile.pp == 2


def test_manual_profile_by_name_pins_its_id(repo: Path):
    w = resolved(repo, "dev")["llama-8b-batch"]
    assert w.profile.mode == "name"
    assert w.profile.pin == "3bb4e8fe78e5037b05dd618cebb1053347325ad6a1e709e0eb18bb8558362ac5"


def test_manual_profile_that_cannot_run_on_the_pool_is_an_error(repo: Path):
    write_workload(repo, "dev", "pinned", {**BASE_SPEC, "profile": {"name": "tensorrt_llm-h100-fp8-tp1-throughput"}})
    errors = errors_of(repo, "dev")
    assert any("environments/dev/workloads/pinned.yaml:" in e and "spec.profile.name: profile tensorrt_llm-h100-fp8-tp1-throughput "
               "cannot run on node pool 'l40s'" in e and "H100" in e for e in errors), errors


def test_manual_profile_by_unknown_id_is_an_error(repo: Path):
    write_workload(repo, "dev", "pinned", {**BASE_SPEC, "profile": {"id": "0" * 64}})
    assert any("has no profile with id" in e for e in errors_of(repo, "dev"))


def test_explicit_gpu_count_that_conflicts_with_the_profile_is_an_error(repo: Path):
    spec = {**BASE_SPEC, "profile": {"name": "tensorrt_llm-l40s-bf16-tp2-latency"},
            "compute": {"cpu": "4", "memory": "32Gi", "gpus": 1}}
    write_workload(repo, "dev", "pinned", spec)
    errors = errors_of(repo, "dev")
    assert any("needs 2 GPUs" in e and "1" in e for e in errors), errors


def test_auto_with_explicit_gpus_restricts_the_candidates(repo: Path):
    spec = {**BASE_SPEC, "profile": {"auto": {"optimizeFor": "throughput"}},
            "compute": {"cpu": "4", "memory": "32Gi", "gpus": 2}}
    write_workload(repo, "dev", "two", spec)
    w = resolved(repo, "dev")["two"]
    assert w.profile.profile.name == "tensorrt_llm-l40s-bf16-tp2-latency" and w.compute.gpus == 2


def test_no_runnable_profile_is_an_error_that_points_to_explain(repo: Path):
    spec = {**BASE_SPEC, "model": {"nim": "meta/llama-3.1-70b-instruct", "version": "1.14.0"},
            "compute": {"cpu": "4", "memory": "32Gi", "gpus": 1}}
    write_workload(repo, "dev", "too-big", spec)
    errors = errors_of(repo, "dev")
    assert any("no profile of meta/llama-3.1-70b-instruct 1.14.0 can run here" in e and "nimgen explain dev too-big" in e
               for e in errors), errors


def test_custom_image_needs_a_manual_profile_and_gpus(repo: Path):
    spec = {**BASE_SPEC, "model": {"image": "registry.example.com/nim/custom:1.0"}}
    write_workload(repo, "dev", "custom", spec)
    assert any("a custom image needs a manual profile" in e for e in errors_of(repo, "dev"))
    spec["profile"] = {"name": "vllm-bf16-tp1"}
    write_workload(repo, "dev", "custom", spec)
    assert any("needs an explicit GPU count" in e for e in errors_of(repo, "dev"))
    spec["compute"] = {"cpu": "4", "memory": "32Gi", "gpus": 1}
    write_workload(repo, "dev", "custom", spec)
    w = resolved(repo, "dev")["custom"]
    assert (w.image, w.profile.pin, w.compute.gpus) == ("registry.example.com/nim/custom:1.0", "vllm-bf16-tp1", 1)


# -- store


def test_three_store_kinds_in_the_examples(repo: Path):
    staging = resolved(repo, "staging")
    kinds = {w.store.kind for w in staging.values()}
    assert kinds == {"ngc", "pvc", "uri"}
    assert staging["mistral-7b-eval"].store.claim == "mistral-store"
    assert staging["mistral-7b-eval"].store.sub_path == "nim-cache/mistral-7b-instruct-v0.3"
    assert staging["llama-8b-batch"].store.uri.startswith("s3://")


def test_ngc_cache_is_rwx_when_replicas_share_it(repo: Path):
    chat = resolved(repo, "prod")["llama-8b-chat"]
    assert (chat.store.cache.access_mode, chat.store.cache.storage_class) == ("ReadWriteMany", "netapp-rwx")
    staging = resolved(repo, "staging")["llama-8b-chat"]  # maxReplicas 2
    assert (staging.store.cache.access_mode, staging.store.cache.storage_class) == ("ReadWriteMany", "nfs-rwx")
    dev = resolved(repo, "dev")["llama-8b-chat"]          # maxReplicas 1, but a Knative rollout starts a second pod
    assert (dev.store.cache.access_mode, dev.store.cache.storage_class) == ("ReadWriteMany", "nfs-rwx")


def test_rwo_data_source_with_several_replicas_is_an_error(repo: Path):
    (repo / "environments" / "dev" / "templates" / "datasources").mkdir(parents=True)
    (repo / "environments" / "dev" / "templates" / "datasources" / "nim-cache.yaml").write_text(
        "apiVersion: nimgen.dev/v1alpha1\nkind: DataSource\nmetadata: {name: nim-cache}\n"
        "spec:\n  pvc: {size: 50Gi, accessMode: ReadWriteOnce}\n")
    spec = {**BASE_SPEC, "store": {"ngc": {"secret": "ngc-api", "cache": {"dataSource": "nim-cache"}}},
            "scaling": {"minReplicas": 1, "maxReplicas": 3, "metric": "concurrency", "target": 4}}
    write_workload(repo, "dev", "shared", spec)
    assert any("data source 'nim-cache' is ReadWriteOnce, but up to 4 pods share the cache (3 replicas and 1 more "
               "during a rollout)" in e
               for e in errors_of(repo, "dev"))


def test_environment_gallery_entry_overrides_the_shared_one(repo: Path):
    folder = repo / "environments" / "dev" / "templates" / "datasources"
    folder.mkdir(parents=True)
    (folder / "nim-cache.yaml").write_text("apiVersion: nimgen.dev/v1alpha1\nkind: DataSource\n"
                                           "metadata: {name: nim-cache}\nspec:\n  pvc: {size: 20Gi}\n")
    assert resolved(repo, "dev")["llama-8b-chat"].store.cache.size == "20Gi"
    assert resolved(repo, "prod")["llama-8b-chat"].store.cache.size == "100Gi"


def test_literal_ngc_key_anywhere_is_an_error(repo: Path):
    path = write_workload(repo, "dev", "leaky", BASE_SPEC)
    data = yaml.safe_load(path.read_text())
    data["metadata"]["annotations"] = {"debug": "nvapi-abcdefghijklmnopqrstuvwxyz0123456789"}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    errors = errors_of(repo, "dev")
    assert any("metadata.annotations.debug: a literal NGC API key" in e for e in errors), errors


# -- compute and placement


def test_template_and_explicit_compute(repo: Path):
    prod = resolved(repo, "prod")
    chat = prod["llama-8b-chat"]                           # template h100-x1
    assert (chat.compute.cpu, chat.compute.memory, chat.compute.shared_memory) == ("8", "64Gi", "8Gi")
    eval_ = prod["mistral-7b-eval"]                        # explicit
    assert (eval_.compute.cpu, eval_.compute.memory) == ("6", "48Gi")


def test_explicit_compute_fields_override_the_template(repo: Path):
    spec = {**BASE_SPEC, "compute": {"template": "l40s-x1", "memory": "40Gi"}}
    write_workload(repo, "dev", "tuned", spec)
    w = resolved(repo, "dev")["tuned"]
    assert (w.compute.cpu, w.compute.memory) == ("8", "40Gi")
    assert ("spec.compute.memory", "40Gi") in [(p.path, p.value) for p in w.provenance]


def test_mig_slice_requests_a_mig_resource_and_a_generic_profile(repo: Path):
    w = resolved(repo, "staging")["llama-8b-batch"]
    assert w.compute.gpu == MigSlice("3g.40gb") and w.compute.gpu.resource == "nvidia.com/mig-3g.40gb"
    assert w.profile.profile.gpu is None


def test_pool_priority_becomes_descending_weights_and_taints_tolerations(repo: Path):
    w = resolved(repo, "prod")["llama-8b-chat"]
    placement = w.service.placement
    assert placement.pools == ("h100-reserved", "h100-spot")
    assert [term.weight for term in placement.preferred] == [100, 90]
    assert MatchExpression("run.ai/node-pool", "In", ("h100-reserved", "h100-spot")) in placement.required
    assert MatchExpression("run.ai/type", "In", ("inference",)) in placement.required
    assert {(t.key, t.effect) for t in placement.tolerations} == {("nvidia.com/gpu", "NoSchedule"), ("spot", "NoExecute")}
    assert (placement.scheduler_name, dict(placement.pod_labels), placement.priority_class) == (
        "kai-scheduler", {"kai.scheduler/queue": "chat", "kai.scheduler/preemptibility": "non-preemptible"}, "inference")


def test_unknown_node_pool_suggests_the_close_one(repo: Path):
    write_workload(repo, "prod", "lost", {**BASE_SPEC, "scheduling": {"nodePools": ["h100-reserve"]}})
    assert any("unknown node pool 'h100-reserve'" in e and "did you mean 'h100-reserved'?" in e for e in errors_of(repo, "prod"))


def test_explain_shows_origins_and_rejections(repo: Path):
    result = run(repo, "explain", "prod", "llama-8b-chat")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "spec.scaling.maxReplicas" in out and "environment (environments/prod/workloads/llama-8b-chat.yaml:" in out
    assert "base (environments/base/workloads/llama-8b-chat.yaml:" in out
    assert "template h100-x1 (templates/compute/h100-x1.yaml:" in out
    assert "NIM_MODEL_PROFILE=" + PIN_H100_FP8 in out
    assert "tensorrt_llm-l40s-bf16-tp1-throughput" in out and "optimized for L40S" in out


# -- layering of choices, and one report per mistake


def test_override_switches_a_choice_instead_of_merging_it(repo: Path):
    path = repo / "environments" / "dev" / "workloads" / "llama-8b-chat.yaml"
    path.write_text(path.read_text() + "  store: {pvc: {claim: llama-store}}\n  profile: {name: vllm-fp16-tp1}\n")
    w = resolved(repo, "dev")["llama-8b-chat"]
    assert w.store == Pvc("llama-store", None)
    assert w.profile.mode == "name"
    assert resolved(repo, "prod")["llama-8b-chat"].store.kind == "ngc"


def test_error_in_a_base_file_is_reported_once_not_per_environment(built: Path):
    path = built / "environments" / "base" / "workloads" / "llama-8b-chat.yaml"
    path.write_text(path.read_text().replace("scheduling: {nodePools: [l40s]}", "scheduling: {nodePools: [l40s], nodeTpye: x}"))
    result = run(built, "build")
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if "nodeTpye" in line]
    assert len(lines) == 1 and lines[0].startswith("environments/base/workloads/llama-8b-chat.yaml:17:")


def test_invalid_project_file_causes_no_follow_on_unknown_project_errors(built: Path):
    path = built / "environments" / "prod" / "projects" / "chat.yaml"
    path.write_text(path.read_text().replace("memory: 2Ti", "memory: 2TB"))
    result = run(built, "build")
    assert result.exit_code == 1
    assert "environments/prod/projects/chat.yaml:5:41: spec.quota.memory:" in result.stderr and "not a Kubernetes quantity" in result.stderr
    assert "unknown project" not in result.stderr


def test_unknown_template_is_one_error_not_three(built: Path):
    path = built / "environments" / "prod" / "workloads" / "llama-8b-chat.yaml"
    path.write_text(path.read_text().replace("template: h100-x1", "template: h100-x4"))
    result = run(built, "build")
    errors = [line for line in result.stderr.splitlines() if ": " in line and not line.startswith("nimgen:")]
    assert len(errors) == 1 and "unknown compute template 'h100-x4'" in errors[0] and "did you mean 'h100-x" in errors[0]
